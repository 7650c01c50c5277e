package gpu

import (
	"fmt"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Region is Size bytes of Buf from Offset: what a dispatch binds when
// several values share one buffer. Offset must be a multiple of the
// device's MinStorageOffsetAlignment, Size a multiple of 4 and at most
// MaxStorageBufferBinding, and the range inside the buffer; Bind reports
// a region that is not as an error.
//
// WebGPU checks a dispatch's use of a buffer over the whole buffer, not
// the range: one dispatch may bind regions of a buffer read-only
// (var<storage, read>) or writable (read_write), never both.
//
// A Region is a plain value, safe for concurrent use as its buffer is.
type Region struct {
	Buf          *Buffer
	Offset, Size uint64 // bytes
}

// Release does nothing: a region borrows its buffer's memory, which
// Buffer.Release frees.
func (Region) Release() {}

// check reports why r, of a buffer, cannot be bound on a device with
// limits l, or nil.
func (r Region) check(l Limits) error {
	b := r.Buf
	switch {
	case l.MinStorageOffsetAlignment == 0 || r.Offset%uint64(l.MinStorageOffsetAlignment) != 0:
		return fmt.Errorf("region of %s at byte %d: the offset is not a multiple of the device's %d-byte alignment", b.Label, r.Offset, l.MinStorageOffsetAlignment)
	case r.Size == 0 || r.Size%4 != 0:
		return fmt.Errorf("region of %s at byte %d: %d bytes, not a positive multiple of 4", b.Label, r.Offset, r.Size)
	case r.Size > l.MaxStorageBufferBinding:
		return fmt.Errorf("region of %s at byte %d: %d bytes exceed the device's storage binding limit of %d bytes", b.Label, r.Offset, r.Size, l.MaxStorageBufferBinding)
	case r.Offset > b.Size || r.Size > b.Size-r.Offset:
		return fmt.Errorf("region of %s: %d bytes at byte %d overrun its %d bytes", b.Label, r.Size, r.Offset, b.Size)
	}
	return nil
}

func (r Region) entry(i uint32) (wgpu.BindGroupEntry, error) {
	if r.Buf == nil || r.Buf.b == nil {
		return wgpu.BindGroupEntry{}, fmt.Errorf("region of no buffer")
	}
	if err := r.check(r.Buf.d.Limits); err != nil {
		return wgpu.BindGroupEntry{}, err
	}
	return wgpu.BindGroupEntry{Binding: i, Buffer: r.Buf.b, Offset: r.Offset, Size: r.Size}, nil
}
