package h5

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// maxDepth bounds the levels of a B-tree.
const maxDepth = 64

// Group is an HDF5 group: named links to other objects, and attributes.
type Group struct {
	Path  string // "/", "/conv1_conv"
	f     *File
	obj   *object
	names []string          // link names, sorted
	links map[string]uint64 // hard links: name → object header address
}

// Root returns the root group.
func (f *File) Root() (*Group, error) { return f.group("/", f.root) }

// group reads the group whose object header is at addr.
func (f *File) group(path string, addr uint64) (*Group, error) {
	o, err := f.object(addr)
	if err != nil {
		return nil, err
	}
	g := &Group{Path: path, f: f, obj: o, links: map[string]uint64{}}
	what := "group " + path
	add := func(name string, a uint64) error {
		if _, dup := g.links[name]; dup {
			return f.errorf("%s: two links named %q", what, name)
		}
		g.links[name] = a
		g.names = append(g.names, name)
		return nil
	}
	if st := o.find(msgSymbolTable); st != nil {
		d := f.decoder(st.data, what+": symbol table message")
		tree, heap := d.addr(), d.addr()
		if d.err != nil {
			return nil, d.err
		}
		names, err := f.localHeap(heap, what)
		if err != nil {
			return nil, err
		}
		if err := f.groupTree(tree, names, what, add); err != nil {
			return nil, err
		}
	} else if li := o.find(msgLinkInfo); li != nil || o.find(msgLink) != nil {
		if li != nil {
			d := f.decoder(li.data, what+": link info message")
			d.skip(1)
			if d.u8()&1 != 0 {
				d.skip(8)
			}
			heap := d.addr()
			if d.err != nil {
				return nil, d.err
			}
			if heap != f.undef {
				return nil, f.errorf("%s: links in dense storage (a fractal heap) are not supported", what)
			}
		}
		for _, m := range o.msgs {
			if m.typ != msgLink {
				continue
			}
			name, a, hard, err := f.parseLink(m.data, what)
			if err != nil {
				return nil, err
			}
			if hard {
				if err := add(name, a); err != nil {
					return nil, err
				}
			}
		}
	} else {
		return nil, f.errorf("%s (object header at 0x%s) is not a group", what, hexAddr(addr))
	}
	sort.Strings(g.names)
	return g, nil
}

// localHeap returns the data segment of the local heap at addr.
func (f *File) localHeap(addr uint64, what string) ([]byte, error) {
	w := what + ": local heap at 0x" + hexAddr(addr)
	n := uint64(8 + 2*f.lenSize + f.offSize)
	b, err := f.read(addr, n, w)
	if err != nil {
		return nil, err
	}
	d := f.decoder(b, w)
	d.signature("HEAP")
	if v := d.u8(); v != 0 && d.err == nil {
		return nil, f.errorf("%s: version %d, want 0", w, v)
	}
	d.skip(3)
	size := d.length()
	d.length() // free list
	data := d.addr()
	if d.err != nil {
		return nil, d.err
	}
	return f.read(data, size, w+": data segment")
}

// heapName returns the NUL-terminated string at off in a local heap.
func (f *File) heapName(heap []byte, off uint64, what string) (string, error) {
	if off >= uint64(len(heap)) {
		return "", f.errorf("%s: name offset %d is outside its heap (%d bytes)", what, off, len(heap))
	}
	s := heap[off:]
	end := bytes.IndexByte(s, 0)
	if end < 0 {
		return "", f.errorf("%s: name at offset %d is not terminated", what, off)
	}
	return string(s[:end]), nil
}

// groupTree visits the symbol-table nodes of a group's version 1 B-tree.
func (f *File) groupTree(root uint64, heap []byte, what string, add func(string, uint64) error) error {
	seen := map[uint64]bool{}
	return f.btree(root, 0, -1, seen, what, func(child uint64) error {
		return f.symbolNode(child, heap, what, seen, add)
	})
}

// btree walks the group (typ 0) B-tree node at addr, calling leaf for each
// child of a level-0 node. level is the level the parent expects (-1 for
// the root); seen holds the nodes visited.
func (f *File) btree(addr uint64, typ uint8, level int, seen map[uint64]bool, what string, leaf func(uint64) error) error {
	w := what + ": B-tree node at 0x" + hexAddr(addr)
	if seen[addr] {
		return f.errorf("%s: visited twice (the B-tree loops)", w)
	}
	seen[addr] = true
	head := uint64(8 + 2*f.offSize)
	b, err := f.read(addr, head, w)
	if err != nil {
		return err
	}
	d := f.decoder(b, w)
	d.signature("TREE")
	t, lvl, used := d.u8(), int(d.u8()), uint64(d.u16())
	if d.err != nil {
		return d.err
	}
	switch {
	case t != typ:
		return f.errorf("%s: node type %d, want %d", w, t, typ)
	case level >= 0 && lvl != level:
		return f.errorf("%s: level %d, want %d", w, lvl, level)
	case lvl >= maxDepth:
		return f.errorf("%s: level %d (at most %d)", w, lvl, maxDepth-1)
	}
	key := uint64(f.lenSize)
	body, err := f.read(addr+head, used*(key+uint64(f.offSize))+key, w)
	if err != nil {
		return err
	}
	d = f.decoder(body, w)
	for i := uint64(0); i < used; i++ {
		d.skip(int(key))
		child := d.addr()
		if d.err != nil {
			return d.err
		}
		if lvl == 0 {
			err = leaf(child)
		} else {
			err = f.btree(child, typ, lvl-1, seen, what, leaf)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// symbolNode adds the entries of the symbol-table node at addr.
func (f *File) symbolNode(addr uint64, heap []byte, what string, seen map[uint64]bool, add func(string, uint64) error) error {
	w := what + ": symbol table node at 0x" + hexAddr(addr)
	if seen[addr] {
		return f.errorf("%s: visited twice", w)
	}
	seen[addr] = true
	b, err := f.read(addr, 8, w)
	if err != nil {
		return err
	}
	d := f.decoder(b, w)
	d.signature("SNOD")
	if v := d.u8(); v != 1 && d.err == nil {
		return f.errorf("%s: version %d, want 1", w, v)
	}
	d.skip(1)
	n := uint64(d.u16())
	if d.err != nil {
		return d.err
	}
	entry := uint64(2*f.offSize + 24)
	body, err := f.read(addr+8, n*entry, w)
	if err != nil {
		return err
	}
	d = f.decoder(body, w)
	for i := uint64(0); i < n; i++ {
		nameOff, obj, cache := d.addr(), d.addr(), d.u32()
		d.skip(20)
		if d.err != nil {
			return d.err
		}
		if cache == 2 {
			continue // a soft link: its path is in the scratch pad
		}
		name, err := f.heapName(heap, nameOff, w)
		if err != nil {
			return err
		}
		if err := checkName(f, name, w); err != nil {
			return err
		}
		if err := add(name, obj); err != nil {
			return err
		}
	}
	return nil
}

// parseLink reads a link message: its name and, for a hard link, the
// object's address.
func (f *File) parseLink(b []byte, what string) (name string, addr uint64, hard bool, err error) {
	d := f.decoder(b, what+": link message")
	if v := d.u8(); v != 1 && d.err == nil {
		return "", 0, false, f.errorf("%s: link message version %d, want 1", what, v)
	}
	flags := d.u8()
	typ := uint8(0)
	if flags&0x08 != 0 {
		typ = d.u8()
	}
	if flags&0x04 != 0 {
		d.skip(8)
	}
	if flags&0x10 != 0 {
		d.skip(1)
	}
	n := d.uint(1 << (flags & 3))
	if n > uint64(d.left()) {
		return "", 0, false, f.errorf("%s: link name of %d bytes runs past its message", what, n)
	}
	name = string(d.bytes(int(n)))
	if typ == 0 {
		addr = d.addr()
	}
	if d.err != nil {
		return "", 0, false, d.err
	}
	return name, addr, typ == 0, checkName(f, name, what)
}

// checkName rejects link names that cannot name one child.
func checkName(f *File, name, what string) error {
	if name == "" || name == "." || strings.Contains(name, "/") {
		return f.errorf("%s: bad link name %q", what, name)
	}
	return nil
}

// Names returns the group's hard links' names, sorted.
func (g *Group) Names() []string { return g.names }

// lookup returns the address of the object at a relative path.
func (g *Group) lookup(path string) (string, uint64, error) {
	cur := g
	parts := strings.Split(strings.Trim(path, "/"), "/")
	full := strings.TrimSuffix(g.Path, "/")
	for i, p := range parts {
		a, ok := cur.links[p]
		if !ok {
			return "", 0, g.f.errorf("%s has no %q", cur.Path, p)
		}
		full += "/" + p
		if i == len(parts)-1 {
			return full, a, nil
		}
		next, err := g.f.group(full, a)
		if err != nil {
			return "", 0, err
		}
		cur = next
	}
	return "", 0, fmt.Errorf("h5: empty path")
}

// Has reports whether the group has a link at path (relative, "a/b").
func (g *Group) Has(path string) bool {
	_, _, err := g.lookup(path)
	return err == nil
}

// Group returns the group at a relative path.
func (g *Group) Group(path string) (*Group, error) {
	full, a, err := g.lookup(path)
	if err != nil {
		return nil, err
	}
	return g.f.group(full, a)
}

// IsGroup reports whether the object at path is a group.
func (g *Group) IsGroup(path string) bool {
	_, a, err := g.lookup(path)
	if err != nil {
		return false
	}
	o, err := g.f.object(a)
	return err == nil && (o.find(msgSymbolTable) != nil || o.find(msgLinkInfo) != nil || o.find(msgLink) != nil)
}
