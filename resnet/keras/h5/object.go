package h5

import (
	"encoding/binary"
	"strconv"
)

// Header message types.
const (
	msgDataspace    = 0x01
	msgLinkInfo     = 0x02
	msgDatatype     = 0x03
	msgLink         = 0x06
	msgLayout       = 0x08
	msgFilters      = 0x0b
	msgAttribute    = 0x0c
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
	msgAttrInfo     = 0x15
)

// maxMessages bounds the messages of one object header.
const maxMessages = 1 << 16

// message is one header message.
type message struct {
	typ   uint16
	flags uint8
	data  []byte
}

// span is a block of the file: its address and size.
type span struct{ addr, size uint64 }

// object is a parsed object header.
type object struct {
	addr uint64
	msgs []message
}

// find returns the first message of type t.
func (o *object) find(t uint16) *message {
	for i := range o.msgs {
		if o.msgs[i].typ == t {
			return &o.msgs[i]
		}
	}
	return nil
}

// object returns the object header at addr, read once.
func (f *File) object(addr uint64) (*object, error) {
	if o, ok := f.headers[addr]; ok {
		return o, nil
	}
	o, err := f.readObject(addr)
	if err != nil {
		return nil, err
	}
	f.headers[addr] = o
	return o, nil
}

// readObject parses the object header at addr with its continuation blocks.
func (f *File) readObject(addr uint64) (*object, error) {
	what := func() string { return "object header at 0x" + hexAddr(addr) }
	peek, err := f.read(addr, 4, what())
	if err != nil {
		return nil, err
	}
	o := &object{addr: addr}
	var pending []span
	seen := map[uint64]bool{}
	v2 := string(peek) == "OHDR"
	if v2 {
		b, err := f.read(addr, 6, what())
		if err != nil {
			return nil, err
		}
		if b[4] != 2 {
			return nil, f.errorf("%s: version %d, want 2", what(), b[4])
		}
		flags := b[5]
		n := uint64(6)
		if flags&0x20 != 0 {
			n += 16
		}
		if flags&0x10 != 0 {
			n += 4
		}
		sizeBytes := uint64(1) << (flags & 3)
		b, err = f.read(addr, n+sizeBytes, what())
		if err != nil {
			return nil, err
		}
		d := f.decoder(b[n:], what())
		chunk := d.uint(int(sizeBytes))
		start := n + sizeBytes
		if chunk > uint64(f.size) {
			return nil, f.errorf("%s: chunk of %d bytes is larger than the file", what(), chunk)
		}
		body, err := f.read(addr, start+chunk+4, what())
		if err != nil {
			return nil, err
		}
		if err := f.checksum(body, what()); err != nil {
			return nil, err
		}
		seen[addr] = true
		if err := f.messagesV2(o, body[start:start+chunk], flags, what(), &pending); err != nil {
			return nil, err
		}
		for len(pending) > 0 {
			c := pending[0]
			pending = pending[1:]
			w := "continuation block at 0x" + hexAddr(c.addr) + " of " + what()
			if seen[c.addr] {
				return nil, f.errorf("%s: continuation blocks form a loop", w)
			}
			seen[c.addr] = true
			body, err := f.read(c.addr, c.size, w)
			if err != nil {
				return nil, err
			}
			if c.size < 8 || string(body[:4]) != "OCHK" {
				return nil, f.errorf("%s: no OCHK signature", w)
			}
			if err := f.checksum(body, w); err != nil {
				return nil, err
			}
			if err := f.messagesV2(o, body[4:len(body)-4], flags, w, &pending); err != nil {
				return nil, err
			}
		}
		return o, nil
	}
	b, err := f.read(addr, 16, what())
	if err != nil {
		return nil, err
	}
	if b[0] != 1 {
		return nil, f.errorf("%s: version %d, want 1 or an OHDR signature", what(), b[0])
	}
	count := int(binary.LittleEndian.Uint16(b[2:]))
	size := uint64(binary.LittleEndian.Uint32(b[8:]))
	pending = append(pending, span{addr + 16, size})
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		w := what()
		if c.addr != addr+16 {
			w = "continuation block at 0x" + hexAddr(c.addr) + " of " + what()
		}
		if seen[c.addr] {
			return nil, f.errorf("%s: continuation blocks form a loop", w)
		}
		seen[c.addr] = true
		body, err := f.read(c.addr, c.size, w)
		if err != nil {
			return nil, err
		}
		d := f.decoder(body, w)
		for d.left() >= 8 && len(o.msgs) < count {
			typ, n, flags := d.u16(), int(d.u16()), d.u8()
			d.skip(3)
			data := d.bytes(n)
			if d.err != nil {
				return nil, f.errorf("%s: message %d (type 0x%x) of %d bytes runs past its block", w, len(o.msgs), typ, n)
			}
			if err := f.addMessage(o, typ, flags, data, w, &pending); err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

// messagesV2 appends the messages of a version 2 header chunk.
func (f *File) messagesV2(o *object, b []byte, hflags uint8, what string, pending *[]span) error {
	d := f.decoder(b, what)
	head := 4
	if hflags&0x04 != 0 {
		head = 6
	}
	for d.left() >= head {
		typ, n, flags := uint16(d.u8()), int(d.u16()), d.u8()
		if head == 6 {
			d.skip(2)
		}
		data := d.bytes(n)
		if d.err != nil {
			return f.errorf("%s: message %d (type 0x%x) of %d bytes runs past its block", what, len(o.msgs), typ, n)
		}
		if err := f.addMessage(o, typ, flags, data, what, pending); err != nil {
			return err
		}
	}
	return nil
}

// addMessage records one message, queueing the block a continuation
// message names.
func (f *File) addMessage(o *object, typ uint16, flags uint8, data []byte, what string, pending *[]span) error {
	if len(o.msgs) >= maxMessages {
		return f.errorf("%s: more than %d messages", what, maxMessages)
	}
	if typ == msgContinuation {
		d := f.decoder(data, what+": continuation message")
		a, n := d.addr(), d.length()
		if d.err != nil {
			return d.err
		}
		if err := f.check(a, n, what+": continuation block"); err != nil {
			return err
		}
		*pending = append(*pending, span{a, n})
		return nil
	}
	o.msgs = append(o.msgs, message{typ: typ, flags: flags, data: data})
	return nil
}

// checksum checks the lookup3 checksum in the last 4 bytes of b.
func (f *File) checksum(b []byte, what string) error {
	if len(b) < 4 {
		return f.errorf("%s: too short for its checksum", what)
	}
	n := len(b) - 4
	if got, want := lookup3(b[:n]), binary.LittleEndian.Uint32(b[n:]); got != want {
		return f.errorf("%s: checksum %08x, want %08x", what, got, want)
	}
	return nil
}

// hex formats an address.
func hexAddr(a uint64) string { return strconv.FormatUint(a, 16) }
