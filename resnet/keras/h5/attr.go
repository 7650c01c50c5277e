package h5

import (
	"bytes"
	"strings"
)

// Attribute is an attribute of a group or dataset.
type Attribute struct {
	Name  string
	f     *File
	what  string
	typ   datatype
	space dataspace
	data  []byte
}

// attrs returns the attributes of an object header.
func (f *File) attrs(o *object, what string) ([]*Attribute, error) {
	var out []*Attribute
	if m := o.find(msgAttrInfo); m != nil {
		d := f.decoder(m.data, what+": attribute info message")
		d.skip(1)
		if d.u8()&1 != 0 {
			d.skip(2)
		}
		if heap := d.addr(); d.err == nil && heap != f.undef {
			return nil, f.errorf("%s: attributes in dense storage (a fractal heap) are not supported", what)
		}
		if d.err != nil {
			return nil, d.err
		}
	}
	for _, m := range o.msgs {
		if m.typ != msgAttribute {
			continue
		}
		a, err := f.parseAttribute(m.data, what)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// parseAttribute reads an attribute message.
func (f *File) parseAttribute(b []byte, what string) (*Attribute, error) {
	w := what + ": attribute"
	d := f.decoder(b, w)
	version := d.u8()
	flags := d.u8()
	nameLen, typeLen, spaceLen := int(d.u16()), int(d.u16()), int(d.u16())
	pad := func(n int) int { return n }
	switch version {
	case 1:
		pad = func(n int) int { return (n + 7) &^ 7 }
	case 2:
	case 3:
		d.skip(1) // name encoding
	default:
		if d.err == nil {
			return nil, f.errorf("%s: attribute message version %d", w, version)
		}
	}
	if flags&3 != 0 {
		return nil, f.errorf("%s: shared datatypes or dataspaces are not supported", w)
	}
	name := d.bytes(pad(nameLen))
	tb := d.bytes(pad(typeLen))
	sb := d.bytes(pad(spaceLen))
	if d.err != nil {
		return nil, d.err
	}
	if nameLen > len(name) || nameLen == 0 {
		return nil, f.errorf("%s: bad name length %d", w, nameLen)
	}
	a := &Attribute{Name: string(bytes.TrimRight(name[:nameLen], "\x00")), f: f}
	a.what = what + ": attribute " + a.Name
	var err error
	if a.typ, err = f.parseDatatype(tb[:typeLen], a.what); err != nil {
		return nil, err
	}
	if a.space, err = f.parseDataspace(sb[:spaceLen], a.what); err != nil {
		return nil, err
	}
	n, ok := a.space.count(uint64(d.left()) / a.typ.size)
	if !ok {
		return nil, f.errorf("%s: %v elements of %d bytes do not fit its %d bytes", a.what, a.space.dims, a.typ.size, d.left())
	}
	a.data = d.bytes(int(n * a.typ.size))
	return a, d.err
}

// Len is the number of elements.
func (a *Attribute) Len() int {
	n, _ := a.space.count(uint64(len(a.data)) + 1)
	return int(n)
}

// Strings returns the attribute's strings: its elements if it is a string
// attribute (fixed or variable length), or none if it has no elements, as
// Keras' empty lists (stored as float64 arrays).
func (a *Attribute) Strings() ([]string, error) {
	n := a.Len()
	if n == 0 {
		return []string{}, nil
	}
	out := make([]string, 0, n)
	switch {
	case a.typ.class == classString:
		for i := 0; i < n; i++ {
			s := a.data[uint64(i)*a.typ.size : uint64(i+1)*a.typ.size]
			if a.typ.strPad == 2 {
				s = bytes.TrimRight(s, " ")
			} else if j := bytes.IndexByte(s, 0); j >= 0 {
				s = s[:j]
			}
			out = append(out, string(s))
		}
	case a.typ.vlenStr:
		d := a.f.decoder(a.data, a.what)
		for i := 0; i < n; i++ {
			length := uint64(d.u32())
			coll, index := d.addr(), d.u32()
			if d.err != nil {
				return nil, d.err
			}
			s, err := a.f.globalObject(coll, index, a.what)
			if err != nil {
				return nil, err
			}
			if length > uint64(len(s)) {
				return nil, a.f.errorf("%s: string %d claims %d bytes, its heap object has %d", a.what, i, length, len(s))
			}
			out = append(out, strings.TrimRight(string(s[:length]), "\x00"))
		}
	default:
		return nil, a.f.errorf("%s is a %v, not a string", a.what, a.typ)
	}
	return out, nil
}

// String returns a scalar or one-element string attribute.
func (a *Attribute) String() (string, error) {
	s, err := a.Strings()
	if err != nil {
		return "", err
	}
	if len(s) != 1 {
		return "", a.f.errorf("%s has %d strings, want 1", a.what, len(s))
	}
	return s[0], nil
}

// globalObject returns object index of the global heap collection at addr.
func (f *File) globalObject(addr uint64, index uint32, what string) ([]byte, error) {
	w := what + ": global heap at 0x" + hexAddr(addr)
	coll, ok := f.heaps[addr]
	if !ok {
		head, err := f.read(addr, uint64(8+f.lenSize), w)
		if err != nil {
			return nil, err
		}
		d := f.decoder(head, w)
		d.signature("GCOL")
		if v := d.u8(); v != 1 && d.err == nil {
			return nil, f.errorf("%s: version %d, want 1", w, v)
		}
		d.skip(3)
		size := d.length()
		if d.err != nil {
			return nil, d.err
		}
		if size < uint64(8+f.lenSize) {
			return nil, f.errorf("%s: collection of %d bytes", w, size)
		}
		if coll, err = f.read(addr, size, w); err != nil {
			return nil, err
		}
		f.heaps[addr] = coll
	}
	d := f.decoder(coll[8+f.lenSize:], w)
	for d.left() >= 8+f.lenSize {
		i, _ := d.u16(), d.u16()
		d.skip(4)
		size := d.length()
		if i == 0 || d.err != nil {
			break
		}
		if size > uint64(d.left()) {
			return nil, f.errorf("%s: object %d of %d bytes runs past its collection", w, i, size)
		}
		data := d.bytes(int(size))
		if uint32(i) == index {
			return data, nil
		}
		d.skip(min(int((size+7)&^7-size), d.left()))
	}
	return nil, f.errorf("%s: no object %d", w, index)
}

// Attrs returns the group's attributes.
func (g *Group) Attrs() ([]*Attribute, error) { return g.f.attrs(g.obj, "group "+g.Path) }

// Attr returns the group's attribute called name, or nil if it has none.
func (g *Group) Attr(name string) (*Attribute, error) {
	as, err := g.Attrs()
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.Name == name {
			return a, nil
		}
	}
	return nil, nil
}

// Variable reports whether the attribute holds variable-length strings.
func (a *Attribute) Variable() bool { return a.typ.vlenStr }
