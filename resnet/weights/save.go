package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
)

// alignment is the offset every storage record's data starts at a multiple
// of, as torch.save aligns them (for memory mapping).
const alignment = 64

// Save writes sd as torch.save(state_dict) does in PyTorch's zip format
// (version 3): the records archive/data.pkl, archive/byteorder ("little"),
// archive/data/N (one storage per tensor, stored uncompressed and aligned
// to 64 bytes) and archive/version. data.pkl is a protocol-2 pickle of a
// collections.OrderedDict whose values are
// torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False,
// OrderedDict()) with persistent ids ("storage", torch.FloatStorage, "N",
// "cpu", numel): what torch.load(weights_only=True) and LoadFile accept.
// Floating-point tensors are written as float32 (FloatStorage), integer
// and boolean ones as int64 (LongStorage). The entries come in the order
// of names, which must name every entry of sd once; nil means sorted
// order. The same sd and names always give the same bytes.
func Save(w io.Writer, sd StateDict, names []string) error {
	if names == nil {
		for k := range sd {
			names = append(names, k)
		}
		slices.Sort(names)
	}
	if len(names) != len(sd) {
		return fmt.Errorf("weights: save: %d names for %d entries", len(names), len(sd))
	}
	var p statePickler
	p.begin()
	storages := make([][]byte, len(names))
	for i, name := range names {
		t, ok := sd[name]
		if !ok || t == nil {
			return fmt.Errorf("weights: save: no entry %q", name)
		}
		if slices.Contains(names[:i], name) {
			return fmt.Errorf("weights: save: %q named twice", name)
		}
		var err error
		if storages[i], err = tensorBytes(name, t); err != nil {
			return err
		}
		class := "FloatStorage"
		if t.IsInt() {
			class = "LongStorage"
		}
		p.tensor(name, class, strconv.Itoa(i), t.Shape, t.Numel())
	}
	p.end()

	cw := &countWriter{w: w}
	zw := zip.NewWriter(cw)
	records := []struct {
		name string
		data []byte
	}{{"archive/data.pkl", p.Bytes()}, {"archive/byteorder", []byte("little")}}
	for i, s := range storages {
		records = append(records, struct {
			name string
			data []byte
		}{"archive/data/" + strconv.Itoa(i), s})
	}
	records = append(records, struct {
		name string
		data []byte
	}{"archive/version", []byte("3\n")})
	for _, r := range records {
		if err := zw.Flush(); err != nil {
			return fmt.Errorf("weights: save: %w", err)
		}
		h := &zip.FileHeader{Name: r.name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(r.data),
			CompressedSize64: uint64(len(r.data)), UncompressedSize64: uint64(len(r.data))}
		// Pad the local header's extra field so that the data is aligned:
		// the header is 30 bytes, the name, then the extra field.
		start := cw.n + 30 + int64(len(r.name)) + 4
		pad := (alignment - start%alignment) % alignment
		h.Extra = make([]byte, 4+pad)
		binary.LittleEndian.PutUint16(h.Extra, 0x4246) // "FB", torch's padding field
		binary.LittleEndian.PutUint16(h.Extra[2:], uint16(pad))
		fw, err := zw.CreateRaw(h)
		if err != nil {
			return fmt.Errorf("weights: save: %w", err)
		}
		if _, err := fw.Write(r.data); err != nil {
			return fmt.Errorf("weights: save: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("weights: save: %w", err)
	}
	return nil
}

// SaveFile writes sd to path with Save.
func SaveFile(path string, sd StateDict, names []string) error {
	var b bytes.Buffer
	if err := Save(&b, sd, names); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	return nil
}

// tensorBytes returns t's values as its storage's little-endian bytes.
func tensorBytes(name string, t *Tensor) ([]byte, error) {
	n := 1
	for _, d := range t.Shape {
		if d < 0 || d >= 1<<31 || n*max(d, 1) >= 1<<31 {
			return nil, fmt.Errorf("weights: save: %s has shape %v (want sizes ≥ 0, under 2³¹ elements)", name, t.Shape)
		}
		n *= d
	}
	if t.IsInt() {
		if len(t.Int) != n {
			return nil, fmt.Errorf("weights: save: %s has %d values for shape %v", name, len(t.Int), t.Shape)
		}
		b := make([]byte, 8*n)
		for i, v := range t.Int {
			binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
		}
		return b, nil
	}
	if len(t.Data) != n {
		return nil, fmt.Errorf("weights: save: %s has %d values for shape %v", name, len(t.Data), t.Shape)
	}
	b := make([]byte, 4*n)
	for i, v := range t.Data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b, nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// statePickler writes the protocol-2 pickle of a state_dict, opcode by opcode
// (no memo: every object is written where it is used).
type statePickler struct{ bytes.Buffer }

// Pickle opcodes (Python's Lib/pickle.py).
const (
	opProto      = 0x80
	opGlobal     = 'c'
	opEmptyTuple = ')'
	opReduce     = 'R'
	opMark       = '('
	opTuple      = 't'
	opSetItems   = 'u'
	opBinUnicode = 'X'
	opBinInt1    = 'K'
	opBinInt2    = 'M'
	opBinInt     = 'J'
	opBinPersID  = 'Q'
	opNewFalse   = 0x89
	opStop       = '.'
)

func (p *statePickler) global(module, name string) {
	p.WriteByte(opGlobal)
	p.WriteString(module + "\n" + name + "\n")
}

func (p *statePickler) str(s string) {
	p.WriteByte(opBinUnicode)
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.WriteString(s)
}

// int writes a non-negative int below 2³¹ (Numel bounds the rest).
func (p *statePickler) int(v int) {
	switch {
	case v < 1<<8:
		p.WriteByte(opBinInt1)
		p.WriteByte(byte(v))
	case v < 1<<16:
		p.WriteByte(opBinInt2)
		p.Write(binary.LittleEndian.AppendUint16(nil, uint16(v)))
	default:
		p.WriteByte(opBinInt)
		p.Write(binary.LittleEndian.AppendUint32(nil, uint32(v)))
	}
}

func (p *statePickler) ints(vs []int) {
	p.WriteByte(opMark)
	for _, v := range vs {
		p.int(v)
	}
	p.WriteByte(opTuple)
}

// orderedDict writes collections.OrderedDict().
func (p *statePickler) orderedDict() {
	p.global("collections", "OrderedDict")
	p.WriteByte(opEmptyTuple)
	p.WriteByte(opReduce)
}

// begin opens the state_dict: an OrderedDict and the mark of its items.
func (p *statePickler) begin() {
	p.WriteByte(opProto)
	p.WriteByte(2)
	p.orderedDict()
	p.WriteByte(opMark)
}

// tensor writes one item: name and a contiguous tensor of the given shape
// over the whole storage key.
func (p *statePickler) tensor(name, class, key string, shape []int, numel int) {
	p.str(name)
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.WriteByte(opMark)
	p.WriteByte(opMark) // the persistent id
	p.str("storage")
	p.global("torch", class)
	p.str(key)
	p.str("cpu")
	p.int(numel)
	p.WriteByte(opTuple)
	p.WriteByte(opBinPersID)
	p.int(0) // storage offset
	p.ints(shape)
	stride := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		stride[i] = s
		s *= max(shape[i], 1)
	}
	p.ints(stride)
	p.WriteByte(opNewFalse) // requires_grad
	p.orderedDict()         // backward hooks
	p.WriteByte(opTuple)
	p.WriteByte(opReduce)
}

// end closes the items and the pickle.
func (p *statePickler) end() {
	p.WriteByte(opSetItems)
	p.WriteByte(opStop)
}
