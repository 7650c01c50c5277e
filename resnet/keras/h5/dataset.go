package h5

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// Layout classes.
const (
	layoutCompact    = 0
	layoutContiguous = 1
	layoutChunked    = 2
)

// Chunk index types of version 4 layouts.
const (
	indexSingle   = 1
	indexImplicit = 2
	indexFixed    = 3
)

// Dataset is an HDF5 dataset.
type Dataset struct {
	Path  string
	Shape []int // nil for a scalar
	f     *File
	obj   *object
	typ   datatype
	space dataspace
}

// Dataset returns the dataset at a relative path.
func (g *Group) Dataset(path string) (*Dataset, error) {
	full, a, err := g.lookup(path)
	if err != nil {
		return nil, err
	}
	return g.f.dataset(full, a)
}

// dataset reads the dataset whose object header is at addr.
func (f *File) dataset(path string, addr uint64) (*Dataset, error) {
	o, err := f.object(addr)
	if err != nil {
		return nil, err
	}
	what := "dataset " + path
	tm, sm := o.find(msgDatatype), o.find(msgDataspace)
	if tm == nil || sm == nil || o.find(msgLayout) == nil {
		return nil, f.errorf("%s (object header at 0x%s) is not a dataset", what, hexAddr(addr))
	}
	if tm.flags&2 != 0 {
		return nil, f.errorf("%s: committed (shared) datatypes are not supported", what)
	}
	ds := &Dataset{Path: path, f: f, obj: o}
	if ds.typ, err = f.parseDatatype(tm.data, what); err != nil {
		return nil, err
	}
	if ds.space, err = f.parseDataspace(sm.data, what); err != nil {
		return nil, err
	}
	for _, v := range ds.space.dims {
		if v > 1<<53 {
			return nil, f.errorf("%s: dimension %d is too large", what, v)
		}
		ds.Shape = append(ds.Shape, int(v))
	}
	return ds, nil
}

// Attrs returns the dataset's attributes.
func (ds *Dataset) Attrs() ([]*Attribute, error) { return ds.f.attrs(ds.obj, "dataset "+ds.Path) }

// Type describes the element type: "float32", "int32", "string of 8 bytes", ….
func (ds *Dataset) Type() string { return ds.typ.String() }

// Float32s reads a float32 dataset in row-major order.
func (ds *Dataset) Float32s() ([]float32, error) {
	f, what := ds.f, "dataset "+ds.Path
	if ds.typ.class != classFloat || !ds.typ.ieee32 {
		return nil, f.errorf("%s holds %v, not float32", what, ds.typ)
	}
	if m := ds.obj.find(msgFilters); m != nil && len(m.data) > 1 && m.data[1] > 0 {
		return nil, f.errorf("%s is filtered (compressed); only uncompressed data is supported", what)
	}
	// Uncompressed data must lie in the file: no dataset is larger.
	n, ok := ds.space.count(uint64(f.size) / 4)
	if !ok {
		return nil, f.errorf("%s: shape %v is larger than the file could hold (%d bytes)", what, ds.Shape, f.size)
	}
	out := make([]float32, n)
	if n == 0 {
		return out, nil
	}
	lm := ds.obj.find(msgLayout)
	d := f.decoder(lm.data, what+": layout message")
	version, class := d.u8(), d.u8()
	if d.err != nil {
		return nil, d.err
	}
	if version < 3 || version > 4 {
		return nil, f.errorf("%s: layout message version %d is not supported (want 3 or 4)", what, version)
	}
	switch class {
	case layoutCompact:
		size := uint64(d.u16())
		raw := d.bytes(int(size))
		if d.err != nil {
			return nil, d.err
		}
		if size != 4*n {
			return nil, f.errorf("%s: compact data of %d bytes for %d elements", what, size, n)
		}
		ds.decode(out, raw)
		return out, nil
	case layoutContiguous:
		addr, size := d.addr(), d.length()
		if d.err != nil {
			return nil, d.err
		}
		if addr == f.undef {
			return nil, f.errorf("%s: no data stored", what)
		}
		if size != 4*n {
			return nil, f.errorf("%s: %d bytes stored for %d elements", what, size, n)
		}
		if err := f.check(addr, size, what); err != nil {
			return nil, err
		}
		if err := f.readAbs(asBytes(out), f.base+int64(addr), what); err != nil {
			return nil, err
		}
		ds.fixOrder(out)
		return out, nil
	case layoutChunked:
		return out, ds.chunked(out, d, version)
	}
	return nil, f.errorf("%s: layout class %d is not supported", what, class)
}

// chunked reads a chunked dataset's chunks into out.
func (ds *Dataset) chunked(out []float32, d *decoder, version uint8) error {
	f, what := ds.f, "dataset "+ds.Path
	rank := len(ds.Shape)
	var chunk []uint64
	var index uint8
	var addr uint64
	if version == 3 {
		dims := int(d.u8())
		addr = d.addr()
		if dims != rank+1 && d.err == nil {
			return f.errorf("%s: chunks of %d dimensions for a dataset of %d", what, dims-1, rank)
		}
		for i := 0; i < dims; i++ {
			chunk = append(chunk, uint64(d.u32()))
		}
	} else {
		flags := d.u8()
		dims := int(d.u8())
		enc := int(d.u8())
		if d.err == nil && (dims != rank+1 || enc < 1 || enc > 8) {
			return f.errorf("%s: chunks of %d dimensions (encoded in %d bytes) for a dataset of %d", what, dims-1, enc, rank)
		}
		for i := 0; i < dims; i++ {
			chunk = append(chunk, d.uint(enc))
		}
		index = d.u8()
		switch index {
		case indexSingle:
			if flags&2 != 0 {
				d.skip(f.lenSize + 4)
			}
		case indexImplicit:
		case indexFixed:
			d.skip(1)
		default:
			if d.err == nil {
				return f.errorf("%s: chunk index type %d is not supported (extensible arrays and version 2 B-trees index chunks of resizable datasets)", what, index)
			}
		}
		addr = d.addr()
	}
	if d.err != nil {
		return d.err
	}
	if rank == 0 || chunk[rank] != 4 {
		return f.errorf("%s: chunks of %d-byte elements, want 4", what, chunk[rank])
	}
	chunk = chunk[:rank]
	g, err := newGrid(ds.Shape, chunk, uint64(f.size))
	if err != nil {
		return f.errorf("%s: %v", what, err)
	}
	if addr == f.undef {
		return f.errorf("%s: no data stored", what)
	}
	c := &chunkReader{ds: ds, out: out, g: g, have: make([]bool, g.count)}
	switch {
	case version == 3:
		err = f.chunkTree(addr, -1, map[uint64]bool{}, c)
	case index == indexSingle:
		if g.count != 1 {
			return f.errorf("%s: a single chunk index for %d chunks", what, g.count)
		}
		err = c.read(0, addr, g.bytes)
	case index == indexImplicit:
		for i := uint64(0); i < g.count && err == nil; i++ {
			err = c.read(i, addr+i*g.bytes, g.bytes)
		}
	case index == indexFixed:
		err = f.fixedArray(addr, c)
	}
	if err != nil {
		return err
	}
	for i, ok := range c.have {
		if !ok {
			return f.errorf("%s: chunk %d of %d is not stored", what, i, g.count)
		}
	}
	return nil
}

// grid is a dataset's division into chunks.
type grid struct {
	shape, chunk []uint64
	per          []uint64 // chunks along each dimension
	count        uint64   // chunks in all
	bytes        uint64   // bytes of one chunk
}

// newGrid checks the chunk dimensions against the dataset's shape.
func newGrid(shape []int, chunk []uint64, limit uint64) (grid, error) {
	g := grid{chunk: chunk, count: 1, bytes: 4}
	for i, s := range shape {
		c := chunk[i]
		if c == 0 || c > limit {
			return g, errorString("bad chunk dimensions")
		}
		g.shape = append(g.shape, uint64(s))
		p := (uint64(s) + c - 1) / c
		g.per = append(g.per, p)
		if p > 0 && g.count > limit/p || g.bytes > limit/c {
			return g, errorString("chunks larger than the file")
		}
		g.count *= p
		g.bytes *= c
	}
	// Each chunk is stored whole, edge chunks too: all of them fit in the file.
	if g.count > limit/g.bytes {
		return g, errorString("chunks larger than the file")
	}
	return g, nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// chunkReader copies chunks into a dataset's output.
type chunkReader struct {
	ds   *Dataset
	out  []float32
	g    grid
	have []bool
	buf  []float32
}

// indexOf returns the linear index of the chunk at element offsets off.
func (c *chunkReader) indexOf(off []uint64) (uint64, bool) {
	idx := uint64(0)
	for i, o := range off {
		if o%c.g.chunk[i] != 0 || o >= c.g.shape[i] {
			return 0, false
		}
		idx = idx*c.g.per[i] + o/c.g.chunk[i]
	}
	return idx, true
}

// read copies the chunk of linear index idx, size bytes at addr.
func (c *chunkReader) read(idx, addr, size uint64) error {
	f, what := c.ds.f, "dataset "+c.ds.Path
	if size != c.g.bytes {
		return f.errorf("%s: chunk %d has %d bytes, want %d", what, idx, size, c.g.bytes)
	}
	if err := f.check(addr, size, what+": chunk"); err != nil {
		return err
	}
	if c.buf == nil {
		c.buf = make([]float32, size/4)
	}
	if err := f.readAbs(asBytes(c.buf), f.base+int64(addr), what+": chunk"); err != nil {
		return err
	}
	c.ds.fixOrder(c.buf)
	// The chunk's origin, then its rows (along the last dimension).
	rank := len(c.g.shape)
	origin := make([]uint64, rank)
	for i, r := rank-1, idx; i >= 0; i-- {
		origin[i] = r % c.g.per[i] * c.g.chunk[i]
		r /= c.g.per[i]
	}
	pos := make([]uint64, rank) // position inside the chunk, last dimension 0
	last := rank - 1
	width := min(c.g.chunk[last], c.g.shape[last]-origin[last])
	for {
		src, dst := uint64(0), uint64(0)
		inside := true
		for i := 0; i < rank; i++ {
			src = src*c.g.chunk[i] + pos[i]
			p := origin[i] + pos[i]
			if p >= c.g.shape[i] {
				inside = false
			}
			dst = dst*c.g.shape[i] + p
		}
		if inside {
			copy(c.out[dst:dst+width], c.buf[src:src+width])
		}
		i := last - 1
		for ; i >= 0; i-- {
			if pos[i]++; pos[i] < c.g.chunk[i] {
				break
			}
			pos[i] = 0
		}
		if i < 0 {
			break
		}
	}
	c.have[idx] = true
	return nil
}

// chunkTree walks a version 1 B-tree of chunks (node type 1).
func (f *File) chunkTree(addr uint64, level int, seen map[uint64]bool, c *chunkReader) error {
	what := "dataset " + c.ds.Path + ": chunk B-tree node at 0x" + hexAddr(addr)
	if seen[addr] {
		return f.errorf("%s: visited twice (the B-tree loops)", what)
	}
	seen[addr] = true
	head := uint64(8 + 2*f.offSize)
	b, err := f.read(addr, head, what)
	if err != nil {
		return err
	}
	d := f.decoder(b, what)
	d.signature("TREE")
	t, lvl, used := d.u8(), int(d.u8()), uint64(d.u16())
	switch {
	case d.err != nil:
		return d.err
	case t != 1:
		return f.errorf("%s: node type %d, want 1", what, t)
	case level >= 0 && lvl != level:
		return f.errorf("%s: level %d, want %d", what, lvl, level)
	case lvl >= maxDepth:
		return f.errorf("%s: level %d (at most %d)", what, lvl, maxDepth-1)
	}
	rank := len(c.g.shape)
	key := uint64(8 + 8*(rank+1))
	body, err := f.read(addr+head, used*(key+uint64(f.offSize))+key, what)
	if err != nil {
		return err
	}
	d = f.decoder(body, what)
	off := make([]uint64, rank+1)
	for i := uint64(0); i < used; i++ {
		size, mask := uint64(d.u32()), d.u32()
		for j := range off {
			off[j] = d.uint(8)
		}
		child := d.addr()
		if d.err != nil {
			return d.err
		}
		if lvl > 0 {
			if err := f.chunkTree(child, lvl-1, seen, c); err != nil {
				return err
			}
			continue
		}
		idx, ok := c.indexOf(off[:rank])
		if !ok || off[rank] != 0 {
			return f.errorf("%s: chunk at %v is not on the chunk grid", what, off[:rank])
		}
		if mask != 0 {
			return f.errorf("%s: chunk %d has filter mask %x", what, idx, mask)
		}
		if err := c.read(idx, child, size); err != nil {
			return err
		}
	}
	return nil
}

// fixedArray reads the chunk addresses of an unpaged fixed array index.
func (f *File) fixedArray(addr uint64, c *chunkReader) error {
	what := "dataset " + c.ds.Path + ": fixed array header at 0x" + hexAddr(addr)
	n := uint64(4 + 4 + f.lenSize + f.offSize + 4)
	b, err := f.read(addr, n, what)
	if err != nil {
		return err
	}
	if err := f.checksum(b, what); err != nil {
		return err
	}
	d := f.decoder(b, what)
	d.signature("FAHD")
	version, client, entry, pageBits := d.u8(), d.u8(), d.u8(), d.u8()
	count := d.length()
	block := d.addr()
	switch {
	case d.err != nil:
		return d.err
	case version != 0 || client != 0 || int(entry) != f.offSize:
		return f.errorf("%s: version %d, client %d, entries of %d bytes (want 0, 0 and %d: unfiltered chunks)", what, version, client, entry, f.offSize)
	case count != c.g.count:
		return f.errorf("%s: %d entries for %d chunks", what, count, c.g.count)
	case pageBits < 64 && count > 1<<pageBits:
		return f.errorf("%s: a paged fixed array (%d entries, pages of %d) is not supported", what, count, 1<<pageBits)
	}
	what = "dataset " + c.ds.Path + ": fixed array data block at 0x" + hexAddr(block)
	size := uint64(4+2+f.offSize) + count*uint64(f.offSize) + 4
	if count > uint64(f.size) {
		return f.errorf("%s: %d entries", what, count)
	}
	b, err = f.read(block, size, what)
	if err != nil {
		return err
	}
	if err := f.checksum(b, what); err != nil {
		return err
	}
	d = f.decoder(b, what)
	d.signature("FADB")
	d.skip(2 + f.offSize)
	for i := uint64(0); i < count; i++ {
		a := d.addr()
		if d.err != nil {
			return d.err
		}
		if a == f.undef {
			continue
		}
		if err := c.read(i, a, c.g.bytes); err != nil {
			return err
		}
	}
	return nil
}

// decode converts raw bytes of the dataset's byte order into out.
func (ds *Dataset) decode(out []float32, raw []byte) {
	order := binary.ByteOrder(binary.LittleEndian)
	if ds.typ.bigEndian {
		order = binary.BigEndian
	}
	for i := range out {
		out[i] = math.Float32frombits(order.Uint32(raw[4*i:]))
	}
}

// fixOrder turns values read in the file's byte order into the machine's.
func (ds *Dataset) fixOrder(v []float32) {
	if ds.typ.bigEndian == nativeBig {
		return
	}
	for i, x := range v {
		b := math.Float32bits(x)
		v[i] = math.Float32frombits(b>>24 | b>>8&0xff00 | b<<8&0xff0000 | b<<24)
	}
}

// nativeBig is whether this machine stores numbers big-endian.
var nativeBig = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// asBytes is the memory of v as bytes, to read into it directly.
func asBytes(v []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}
