package weights

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Limits that scanPickle enforces before gopickle sees a pickle. gopickle
// allocates a length-prefixed argument before it reads it, parses long
// integers in quadratic time, and allocates a fresh stack at every MARK, so a
// hostile pickle could otherwise exhaust memory or time.
const (
	maxIntText   = 1024  // bytes of a decimal INT, LONG or FLOAT argument
	maxLongBytes = 1024  // bytes of a LONG4 argument
	maxMarks     = 10000 // MARKs open at once
	memFloor     = 64 << 20
	memPerByte   = 32 // estimated unpickler bytes allowed per pickle byte, above memFloor
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

// marksClosed lists the opcodes that pop the stack back to the last MARK.
var marksClosed = map[byte]bool{'t': true, 'l': true, 'd': true, 'e': true, 'u': true, 0x90: true, 0x91: true, '1': true, 'o': true, 'i': true}

// scanPickle walks the opcodes of the pickle at the start of b and returns
// its length through STOP. It checks that every argument lies inside b and
// that the pickle stays within the limits above.
func scanPickle(b []byte) (int, error) {
	pos, marks, cost := 0, 0, 0
	budget := memFloor + memPerByte*len(b)
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
		pos += n
		if op == 0x95 { // FRAME: its contents are the opcodes that follow
			pos -= n - 8
		}
		if op == '(' {
			marks++
		} else if marksClosed[op] && marks > 0 {
			marks--
		}
		if marks > maxMarks {
			return 0, fmt.Errorf("pickle nests more than %d MARKs", maxMarks)
		}
		if cost += info.cost; cost > budget {
			return 0, fmt.Errorf("pickle of %d bytes builds too many objects", len(b))
		}
		if op == '.' {
			return pos, nil
		}
	}
	return 0, errPickleEnd
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
