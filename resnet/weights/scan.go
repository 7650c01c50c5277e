package weights

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Limits that scan enforces before gopickle sees a pickle. gopickle
// allocates a length-prefixed argument before it reads it, parses long
// integers in quadratic time, and allocates a fresh stack at every MARK, so a
// hostile pickle could otherwise exhaust memory or time. The limits on
// objects and memory apply to all the pickles of a file together, whatever
// its size: the memory a file's tensors take is bounded separately, by the
// bytes of its storages.
const (
	maxIntText   = 1024  // bytes of a decimal INT, LONG or FLOAT argument
	maxLongBytes = 1024  // bytes of a LONG4 argument
	maxMarks     = 10000 // MARKs open at once
	// maxPickleBytes bounds a file's pickles: the zip format's data.pkl,
	// the legacy format's pickles before its storages.
	maxPickleBytes = 64 << 20
	// maxObjects bounds the values that a file's pickles push, about 21
	// per tensor of a state_dict. The opcodes that only pop or memoize
	// values are bounded by maxPickleMemory.
	maxObjects = 1 << 20
	// maxPickleMemory bounds the memory that gopickle spends on a file's
	// pickles, as opInfo.cost and the arguments' lengths estimate it.
	maxPickleMemory = 256 << 20
)

// errPickleEnd reports a pickle that ends before its STOP opcode.
var errPickleEnd = errors.New("pickle truncated")

// Argument layouts of pickle opcodes.
const (
	argNone    = iota
	argFixed   // a fixed number of bytes
	argLine    // one newline-terminated line
	argLines   // two newline-terminated lines
	argLen1    // 1-byte length, then data
	argLen4    // 4-byte little-endian length, then data
	argLen8    // 8-byte little-endian length, then data
	argNumText // a decimal number on one line
	argLong    // LONG1 or LONG4: a 1- or 4-byte length, then a little-endian integer
)

// opInfo is the argument layout of one opcode and the memory gopickle
// spends on it, roughly.
type opInfo struct {
	arg  int
	n    int // bytes of an argFixed argument or of an argLong length
	cost int
}

// opcodes lists every opcode of pickle protocols 0 to 5 that gopickle
// implements.
var opcodes = map[byte]opInfo{
	'(': {argNone, 0, 400}, '.': {argNone, 0, 0}, '0': {argNone, 0, 0}, '1': {argNone, 0, 0},
	'2': {argNone, 0, 32}, 'N': {argNone, 0, 16}, 'Q': {argNone, 0, 64}, 'R': {argNone, 0, 64},
	'a': {argNone, 0, 16}, 'b': {argNone, 0, 64}, 'd': {argNone, 0, 300}, '}': {argNone, 0, 300},
	'e': {argNone, 0, 16}, 'l': {argNone, 0, 100}, ']': {argNone, 0, 100}, 'o': {argNone, 0, 64},
	's': {argNone, 0, 64}, 't': {argNone, 0, 64}, ')': {argNone, 0, 64}, 'u': {argNone, 0, 64},
	0x81: {argNone, 0, 64}, 0x85: {argNone, 0, 64}, 0x86: {argNone, 0, 64}, 0x87: {argNone, 0, 64},
	0x88: {argNone, 0, 16}, 0x89: {argNone, 0, 16}, 0x8f: {argNone, 0, 300}, 0x90: {argNone, 0, 16},
	0x91: {argNone, 0, 300}, 0x92: {argNone, 0, 64}, 0x93: {argNone, 0, 64}, 0x94: {argNone, 0, 100},
	0x97: {argNone, 0, 16}, 0x98: {argNone, 0, 16},
	'K': {argFixed, 1, 32}, 'h': {argFixed, 1, 32}, 'q': {argFixed, 1, 100}, 0x80: {argFixed, 1, 0},
	0x82: {argFixed, 1, 16}, 'M': {argFixed, 2, 32}, 0x83: {argFixed, 2, 16}, 'J': {argFixed, 4, 32},
	'j': {argFixed, 4, 32}, 'r': {argFixed, 4, 100}, 0x84: {argFixed, 4, 16}, 'G': {argFixed, 8, 32},
	'F': {argNumText, 0, 64}, 'I': {argNumText, 0, 64}, 'L': {argNumText, 0, 64},
	'P': {argLine, 0, 64}, 'S': {argLine, 0, 64}, 'V': {argLine, 0, 64}, 'g': {argLine, 0, 64},
	'p': {argLine, 0, 100}, 'c': {argLines, 0, 100}, 'i': {argLines, 0, 100},
	'U': {argLen1, 0, 64}, 'C': {argLen1, 0, 64}, 0x8c: {argLen1, 0, 64}, 0x8a: {argLong, 1, 64},
	'T': {argLen4, 0, 64}, 'B': {argLen4, 0, 64}, 'X': {argLen4, 0, 64}, 0x8b: {argLong, 4, 64},
	0x8d: {argLen8, 0, 64}, 0x8e: {argLen8, 0, 64}, 0x96: {argLen8, 0, 64}, 0x95: {argLen8, 0, 0},
}

// effects lists the values that opcodes pop and push, {pop, push}, where
// that is not {0, 1}. Opcodes that pop to the last MARK first drop it and the
// values above it, then pop and push as listed.
var effects = map[byte][2]int{
	0x80: {0, 0}, 0x95: {0, 0}, 0x98: {0, 0}, '(': {0, 0}, '.': {1, 0}, '0': {1, 0}, '2': {1, 2},
	'p': {1, 1}, 'q': {1, 1}, 'r': {1, 1}, 0x94: {1, 1}, 'Q': {1, 1}, 0x85: {1, 1}, 0x86: {2, 1}, 0x87: {3, 1},
	'R': {2, 1}, 0x81: {2, 1}, 0x92: {3, 1}, 0x93: {2, 1}, 'b': {2, 1}, 'a': {2, 1}, 's': {3, 1},
	'e': {1, 1}, 'u': {1, 1}, 0x90: {1, 1}, '1': {0, 0},
}

// toMark lists the opcodes that pop the stack back to the last MARK.
var toMark = map[byte]bool{'t': true, 'l': true, 'd': true, 'e': true, 'u': true, 0x90: true, 0x91: true, '1': true, 'o': true, 'i': true}

// memoOps are the opcodes that memoize the value on top of the stack.
var memoOps = map[byte]bool{'p': true, 'q': true, 'r': true, 0x94: true}

// pushes reports whether op pushes a value onto the stack, rather than only
// popping values, memoizing the top one or doing nothing.
func pushes(op byte) bool {
	e, ok := effects[op]
	return !ok || e[1] > 0 && !memoOps[op]
}

// bytesOps are the opcodes that push bytes, which gopickle cannot use as a
// dict key or set element without a panic; torch.load(weights_only=True)
// refuses them too.
var bytesOps = map[byte]bool{'B': true, 'C': true, 0x8e: true}

// stack follows the number of values on the unpickler's stack above each
// open MARK, so that the scan can refuse the pickles that would make
// gopickle index past its stack.
type stack []int

// step applies the stack effect of op, or returns an error if op pops a
// value or MARK that is not there.
func (s *stack) step(op byte) error {
	if op == '0' && (*s)[len(*s)-1] == 0 && len(*s) > 1 { // POP of a MARK
		op = '1'
	}
	if toMark[op] {
		if len(*s) == 1 {
			return errors.New("pickle pops a MARK it never pushed")
		}
		items := (*s)[len(*s)-1]
		if (op == 'd' || op == 'u') && items%2 != 0 {
			return fmt.Errorf("pickle makes a dict of %d keys and values", items)
		}
		if op == 'o' && items == 0 {
			return errors.New("pickle's OBJ has no class")
		}
		*s = (*s)[:len(*s)-1]
	}
	e, ok := effects[op]
	if !ok {
		e = [2]int{0, 1}
	}
	top := &(*s)[len(*s)-1]
	if *top < e[0] {
		return fmt.Errorf("pickle opcode 0x%02x pops %d values of %d", op, e[0], *top)
	}
	*top += e[1] - e[0]
	if op == '(' {
		*s = append(*s, 0)
	}
	return nil
}

// scan walks the opcodes of the pickle at the start of b and returns its
// length through STOP. It checks that every argument lies inside b, that the
// pickles of the file stay within the limits above, and records the first
// global they name that allowedGlobals lacks.
func (p *unpickler) scan(b []byte) (int, error) {
	pos := 0
	st := stack{0}
	var hidden hiddenGlobals
	for pos < len(b) {
		op := b[pos]
		info, ok := opcodes[op]
		if !ok {
			return 0, fmt.Errorf("unknown pickle opcode 0x%02x at offset %d", op, pos)
		}
		start := pos
		pos++
		n, err := argLen(b[pos:], info)
		if err != nil {
			return 0, fmt.Errorf("pickle opcode 0x%02x at offset %d: %w", op, start, err)
		}
		arg := b[pos : pos+n]
		pos += n
		switch op {
		case 0x95: // FRAME: its contents are the opcodes that follow
			pos -= n - 8
			continue
		case 0x80, '.': // PROTO, STOP
		case 'c', 'i': // GLOBAL, INST: module and name on two lines
			module, name, _ := strings.Cut(strings.TrimSuffix(string(arg), "\n"), "\n")
			p.checkGlobal(module, name)
		case 0x93: // STACK_GLOBAL
			hidden.check(p)
		default:
			hidden.see(op, arg)
		}
		if bytesOps[op] {
			return 0, fmt.Errorf("pickle holds bytes (opcode 0x%02x at offset %d), which torch.load(weights_only=True) refuses too", op, start)
		}
		if err := st.step(op); err != nil {
			return 0, fmt.Errorf("%w at offset %d", err, start)
		}
		if len(st) > maxMarks+1 {
			return 0, fmt.Errorf("pickle nests more than %d MARKs", maxMarks)
		}
		if pushes(op) {
			if p.objects++; p.objects > maxObjects {
				return 0, fmt.Errorf("pickles of more than %d objects", maxObjects)
			}
		}
		if p.cost += info.cost + 2*n; p.cost > maxPickleMemory {
			return 0, fmt.Errorf("pickles that would take more than %d MB to unpickle", maxPickleMemory>>20)
		}
		if op == '.' {
			return pos, nil
		}
	}
	return 0, errPickleEnd
}

// hiddenGlobals finds the globals that gopickle resolves itself, without
// asking unpickler.findClass, when a STACK_GLOBAL takes their names from the
// stack: __builtin__.object and copy_reg._reconstructor. A string can only
// reach the stack as a literal of the pickle, so it suffices to see which
// of the names a pickle spells before its STACK_GLOBALs.
type hiddenGlobals struct {
	builtin, object, copyReg, reconstructor bool
}

// see notes the string that a string opcode pushes.
func (h *hiddenGlobals) see(op byte, arg []byte) {
	var s []byte
	switch op {
	case 'S', 'V': // a line, STRING's quoted
		s = bytes.Trim(bytes.TrimSuffix(arg, []byte("\n")), "'\"")
	case 'U', 0x8c: // 1-byte length
		s = arg[1:]
	case 'T', 'X': // 4-byte length
		s = arg[4:]
	case 0x8d: // 8-byte length
		s = arg[8:]
	}
	switch string(s) { // no copy: the compiler compares the bytes
	case "__builtin__":
		h.builtin = true
	case "object":
		h.object = true
	case "copy_reg":
		h.copyReg = true
	case "_reconstructor":
		h.reconstructor = true
	}
}

// check records, at a STACK_GLOBAL, a hidden global whose names the pickle
// has spelled.
func (h *hiddenGlobals) check(p *unpickler) {
	if h.builtin && h.object {
		p.checkGlobal("__builtin__", "object")
	}
	if h.copyReg && h.reconstructor {
		p.checkGlobal("copy_reg", "_reconstructor")
	}
}

// argLen returns the length of an opcode's argument at the start of b.
func argLen(b []byte, info opInfo) (int, error) {
	switch info.arg {
	case argNone:
		return 0, nil
	case argFixed:
		return fits(b, info.n, 0)
	case argLine, argNumText:
		n := lineLen(b)
		if n < 0 {
			return 0, errPickleEnd
		}
		if info.arg == argNumText && n > maxIntText {
			return 0, fmt.Errorf("number of %d digits", n)
		}
		return n, nil
	case argLines:
		n := lineLen(b)
		if n < 0 {
			return 0, errPickleEnd
		}
		m := lineLen(b[n:])
		if m < 0 {
			return 0, errPickleEnd
		}
		return n + m, nil
	case argLen1:
		if len(b) < 1 {
			return 0, errPickleEnd
		}
		return fits(b, 1, uint64(b[0]))
	case argLen4:
		if len(b) < 4 {
			return 0, errPickleEnd
		}
		return fits(b, 4, uint64(binary.LittleEndian.Uint32(b)))
	case argLong:
		if len(b) < info.n {
			return 0, errPickleEnd
		}
		n := uint64(b[0])
		if info.n == 4 {
			n = uint64(binary.LittleEndian.Uint32(b))
		}
		if n == 0 || n > maxLongBytes {
			return 0, fmt.Errorf("integer of %d bytes", n) // gopickle panics on 0
		}
		return fits(b, info.n, n)
	case argLen8:
		if len(b) < 8 {
			return 0, errPickleEnd
		}
		return fits(b, 8, binary.LittleEndian.Uint64(b))
	}
	return 0, fmt.Errorf("bad opcode table entry %v", info)
}

// fits returns head+n if that many bytes are left in b.
func fits(b []byte, head int, n uint64) (int, error) {
	if len(b) < head || uint64(len(b)-head) < n {
		return 0, errPickleEnd
	}
	return head + int(n), nil
}

// lineLen returns the length of the line at the start of b including its
// newline, or -1 if b holds no newline.
func lineLen(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i + 1
		}
	}
	return -1
}
