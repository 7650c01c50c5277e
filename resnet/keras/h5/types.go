package h5

import "fmt"

// Datatype classes.
const (
	classFixed  = 0
	classFloat  = 1
	classString = 3
	classVLen   = 9
)

// maxRank is HDF5's largest number of dimensions.
const maxRank = 32

// datatype is a parsed datatype message.
type datatype struct {
	class     int
	size      uint64 // bytes of one element
	bigEndian bool
	signed    bool // fixed-point
	ieee32    bool // a float: the IEEE single layout
	vlenStr   bool // a variable-length string
	strPad    int  // strings: 0 null-terminated, 1 null-padded, 2 space-padded
}

// String describes the type for messages.
func (t datatype) String() string {
	switch {
	case t.class == classFloat:
		return fmt.Sprintf("float%d", 8*t.size)
	case t.class == classFixed && t.signed:
		return fmt.Sprintf("int%d", 8*t.size)
	case t.class == classFixed:
		return fmt.Sprintf("uint%d", 8*t.size)
	case t.class == classString:
		return fmt.Sprintf("string of %d bytes", t.size)
	case t.vlenStr:
		return "variable-length string"
	case t.class == classVLen:
		return "variable-length sequence"
	}
	return fmt.Sprintf("datatype class %d", t.class)
}

// parseDatatype reads a datatype message.
func (f *File) parseDatatype(b []byte, what string) (datatype, error) {
	d := f.decoder(b, what+": datatype")
	cv := d.u8()
	bits := d.uint(3)
	t := datatype{class: int(cv & 15), size: uint64(d.u32())}
	if d.err != nil {
		return t, d.err
	}
	if v := cv >> 4; v < 1 || v > 5 {
		return t, f.errorf("%s: datatype version %d", what, v)
	}
	switch t.class {
	case classFixed:
		t.bigEndian, t.signed = bits&1 != 0, bits&8 != 0
	case classFloat:
		t.bigEndian = bits&1 != 0
		if bits&0x40 != 0 {
			return t, f.errorf("%s: VAX-order floats are not supported", what)
		}
		d.skip(4) // bit offset, precision
		eloc, esize, mloc, msize := d.u8(), d.u8(), d.u8(), d.u8()
		bias := d.u32()
		if d.err != nil {
			return t, d.err
		}
		t.ieee32 = t.size == 4 && eloc == 23 && esize == 8 && mloc == 0 && msize == 23 && bias == 127 && bits>>8&0xff == 31
	case classString:
		t.strPad = int(bits & 15)
	case classVLen:
		t.vlenStr = bits&15 == 1
	}
	if t.size == 0 || t.size > 1<<20 {
		return t, f.errorf("%s: datatype of %d bytes an element", what, t.size)
	}
	return t, nil
}

// dataspace is a parsed dataspace message: nil dims is a scalar, null an
// empty (null) dataspace.
type dataspace struct {
	dims []uint64
	null bool
}

// parseDataspace reads a dataspace message.
func (f *File) parseDataspace(b []byte, what string) (dataspace, error) {
	d := f.decoder(b, what+": dataspace")
	version, rank, flags := d.u8(), int(d.u8()), d.u8()
	var s dataspace
	switch version {
	case 1:
		d.skip(5)
	case 2:
		switch d.u8() {
		case 0:
			rank = 0
		case 2:
			s.null = true
			return s, d.err
		}
	default:
		if d.err == nil {
			return s, f.errorf("%s: dataspace version %d", what, version)
		}
	}
	if rank > maxRank {
		return s, f.errorf("%s: %d dimensions (at most %d)", what, rank, maxRank)
	}
	for i := 0; i < rank; i++ {
		s.dims = append(s.dims, d.length())
	}
	_ = flags // maximum sizes may follow; they do not matter for reading
	return s, d.err
}

// count returns the number of elements, failing past limit.
func (s dataspace) count(limit uint64) (uint64, bool) {
	if s.null {
		return 0, true
	}
	n := uint64(1)
	for _, v := range s.dims {
		if v == 0 {
			return 0, true
		}
		if n > limit/v {
			return 0, false
		}
		n *= v
	}
	return n, n <= limit
}
