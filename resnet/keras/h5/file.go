package h5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

// Signature is the 8 bytes that open every HDF5 superblock.
var Signature = []byte("\x89HDF\r\n\x1a\n")

// File is an open HDF5 file.
type File struct {
	r       io.ReaderAt
	size    int64
	name    string    // for messages
	closer  io.Closer // nil for NewFile
	base    int64     // file offset of the superblock: addresses count from it
	offSize int       // bytes of an address
	lenSize int       // bytes of a length
	undef   uint64    // the undefined address: all ones
	root    uint64    // the root group's object header
	Version int       // superblock version, 0 to 3

	headers map[uint64]*object // object headers read so far
	heaps   map[uint64][]byte  // global heap collections read so far
	budget  int64              // metadata bytes left to read: a few times the file
}

// Open opens the HDF5 file at path.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("h5: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("h5: %w", err)
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		return nil, fmt.Errorf("h5: %s: not a regular file", path)
	}
	f, err := NewFile(fh, st.Size(), filepath.Base(path))
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// NewFile reads the HDF5 file of size bytes in r; name is used in messages.
func NewFile(r io.ReaderAt, size int64, name string) (*File, error) {
	f := &File{r: r, size: size, name: name, headers: map[uint64]*object{}, heaps: map[uint64][]byte{}, budget: 8*size + 1<<20}
	if err := f.superblock(); err != nil {
		return nil, err
	}
	return f, nil
}

// Close closes the file Open opened.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// Is reports whether r, of size bytes, holds an HDF5 superblock signature
// where one may be: at offset 0, 512, 1024, 2048, ….
func Is(r io.ReaderAt, size int64) bool {
	_, err := findSignature(r, size)
	return err == nil
}

// IsFile reports whether the file at path is an HDF5 file (by its
// signature); it is false for a file that cannot be read.
func IsFile(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	st, err := fh.Stat()
	return err == nil && st.Mode().IsRegular() && Is(fh, st.Size())
}

// findSignature returns the offset of the superblock signature.
func findSignature(r io.ReaderAt, size int64) (int64, error) {
	sig := make([]byte, len(Signature))
	for off := int64(0); off+int64(len(sig)) <= size; {
		if _, err := r.ReadAt(sig, off); err != nil {
			return 0, err
		}
		if bytes.Equal(sig, Signature) {
			return off, nil
		}
		if off == 0 {
			off = 512
		} else {
			off *= 2
		}
	}
	return 0, errors.New("no HDF5 signature")
}

// errorf returns an error naming the file, on one line: the names it
// quotes come from the file and may hold any bytes, so control characters
// are escaped (as Go escapes them in strings).
func (f *File) errorf(format string, args ...any) error {
	msg := fmt.Sprintf("h5: %s: "+format, append([]any{f.name}, args...)...)
	if strings.IndexFunc(msg, unicode.IsControl) < 0 {
		return errors.New(msg)
	}
	var b strings.Builder
	for _, r := range msg {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return errors.New(b.String())
}

// superblock reads the superblock: sizes, base and root group address.
func (f *File) superblock() error {
	at, err := findSignature(f.r, f.size)
	if err != nil {
		return f.errorf("not an HDF5 file (no superblock signature)")
	}
	f.base = at
	head := make([]byte, 16)
	if err := f.readAbs(head, at, "superblock"); err != nil {
		return err
	}
	f.Version = int(head[8])
	switch f.Version {
	case 0, 1:
		f.offSize, f.lenSize = int(head[13]), int(head[14])
	case 2, 3:
		f.offSize, f.lenSize = int(head[9]), int(head[10])
	default:
		return f.errorf("superblock version %d is not supported (want 0 to 3)", f.Version)
	}
	for _, s := range []int{f.offSize, f.lenSize} {
		if s != 2 && s != 4 && s != 8 {
			return f.errorf("superblock gives field sizes %d and %d (want 2, 4 or 8)", f.offSize, f.lenSize)
		}
	}
	f.undef = ^uint64(0) >> (64 - 8*f.offSize)
	switch f.Version {
	case 0, 1:
		n := 24 + 4*f.offSize + 2*f.offSize + 24
		if f.Version == 1 {
			n += 4
		}
		b := make([]byte, n)
		if err := f.readAbs(b, at, "superblock"); err != nil {
			return err
		}
		d := f.decoder(b[24:], "superblock")
		if f.Version == 1 {
			d.skip(4) // indexed storage K, reserved
		}
		d.skip(4 * f.offSize) // base, free space, end of file, driver addresses
		d.skip(f.offSize)     // root entry: link name offset
		f.root = d.addr()
		if d.err != nil {
			return d.err
		}
	default:
		n := 12 + 4*f.offSize + 4
		b := make([]byte, n)
		if err := f.readAbs(b, at, "superblock"); err != nil {
			return err
		}
		if got, want := lookup3(b[:n-4]), binary.LittleEndian.Uint32(b[n-4:]); got != want {
			return f.errorf("superblock checksum %08x, want %08x", got, want)
		}
		d := f.decoder(b[12:], "superblock")
		d.skip(2 * f.offSize) // base, superblock extension
		d.skip(f.offSize)     // end of file
		f.root = d.addr()
		if d.err != nil {
			return d.err
		}
	}
	if f.root == f.undef {
		return f.errorf("superblock has no root group")
	}
	return nil
}

// readAbs fills b from the file offset off; what names the structure read.
func (f *File) readAbs(b []byte, off int64, what string) error {
	if off < 0 || off > f.size || int64(len(b)) > f.size-off {
		return f.errorf("%s at offset %d: %d bytes run past the end of the file (%d bytes)", what, off, len(b), f.size)
	}
	if _, err := f.r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && len(b) > 0) {
		return f.errorf("%s at offset %d: %v", what, off, err)
	}
	return nil
}

// read returns n bytes at address addr (relative to the base).
func (f *File) read(addr, n uint64, what string) ([]byte, error) {
	if err := f.check(addr, n, what); err != nil {
		return nil, err
	}
	// Overlapping structures could make each byte be read many times.
	if f.budget -= int64(n); f.budget < 0 {
		return nil, f.errorf("%s: the file's structures add up to more than 8 times its size", what)
	}
	b := make([]byte, n)
	return b, f.readAbs(b, f.base+int64(addr), what)
}

// check reports an error unless n bytes at addr lie inside the file.
func (f *File) check(addr, n uint64, what string) error {
	if addr == f.undef {
		return f.errorf("%s has an undefined address", what)
	}
	room := uint64(f.size - f.base)
	if addr > room || n > room-addr {
		return f.errorf("%s: %d bytes at 0x%x run past the end of the file (%d bytes)", what, n, addr, f.size)
	}
	return nil
}

// decoder reads little-endian fields from a byte slice. Past the end it
// returns zeros and records an error, which the caller checks once.
type decoder struct {
	f    *File
	b    []byte
	off  int
	what string
	err  error
}

func (f *File) decoder(b []byte, what string) *decoder {
	return &decoder{f: f, b: b, what: what}
}

// take returns the next n bytes, or nil past the end.
func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.err = d.f.errorf("%s: %d bytes, too short (field of %d bytes at %d)", d.what, len(d.b), n, d.off)
		return nil
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s
}

func (d *decoder) skip(n int)         { d.take(n) }
func (d *decoder) left() int          { return len(d.b) - d.off }
func (d *decoder) bytes(n int) []byte { return d.take(n) }

func (d *decoder) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 { return uint16(d.uint(2)) }
func (d *decoder) u32() uint32 { return uint32(d.uint(4)) }

// uint reads an n-byte unsigned integer (n ≤ 8).
func (d *decoder) uint(n int) uint64 {
	b := d.take(n)
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func (d *decoder) addr() uint64   { return d.uint(d.f.offSize) }
func (d *decoder) length() uint64 { return d.uint(d.f.lenSize) }

// signature checks a 4-byte signature.
func (d *decoder) signature(want string) {
	if b := d.take(4); b != nil && string(b) != want {
		d.err = d.f.errorf("%s: signature %q, want %q", d.what, b, want)
	}
}

// lookup3 is Bob Jenkins' hashlittle with seed 0, HDF5's metadata checksum.
func lookup3(k []byte) uint32 {
	rot := func(x uint32, n uint) uint32 { return x<<n | x>>(32-n) }
	a := 0xdeadbeef + uint32(len(k))
	b, c := a, a
	for len(k) > 12 {
		a += binary.LittleEndian.Uint32(k)
		b += binary.LittleEndian.Uint32(k[4:])
		c += binary.LittleEndian.Uint32(k[8:])
		a -= c
		a ^= rot(c, 4)
		c += b
		b -= a
		b ^= rot(a, 6)
		a += c
		c -= b
		c ^= rot(b, 8)
		b += a
		a -= c
		a ^= rot(c, 16)
		c += b
		b -= a
		b ^= rot(a, 19)
		a += c
		c -= b
		c ^= rot(b, 4)
		b += a
		k = k[12:]
	}
	if len(k) == 0 {
		return c
	}
	var tail [12]byte
	copy(tail[:], k)
	a += binary.LittleEndian.Uint32(tail[:])
	b += binary.LittleEndian.Uint32(tail[4:])
	c += binary.LittleEndian.Uint32(tail[8:])
	c ^= b
	c -= rot(b, 14)
	a ^= c
	a -= rot(c, 11)
	b ^= a
	b -= rot(a, 25)
	c ^= b
	c -= rot(b, 16)
	a ^= c
	a -= rot(c, 4)
	b ^= a
	b -= rot(a, 14)
	c ^= b
	c -= rot(b, 24)
	return c
}

// Name is the file's name, as messages give it.
func (f *File) Name() string { return f.name }

// Size is the file's size in bytes.
func (f *File) Size() int64 { return f.size }
