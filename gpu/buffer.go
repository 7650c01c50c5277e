package gpu

import (
	"fmt"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Buffer is a storage buffer on the device, usable as a copy source and
// destination.
type Buffer struct {
	Label string
	Size  uint64 // bytes
	b     *wgpu.Buffer
}

// NewBuffer allocates a storage buffer of size bytes (rounded up to a
// multiple of 4). Sizes beyond the adapter's limits and out-of-memory are
// errors naming label.
func (d *Device) NewBuffer(label string, size uint64) (*Buffer, error) {
	return d.newBuffer(label, size, wgpu.BufferUsage_Storage|wgpu.BufferUsage_CopySrc|wgpu.BufferUsage_CopyDst)
}

func (d *Device) newBuffer(label string, size uint64, usage wgpu.BufferUsage) (*Buffer, error) {
	size = (size + 3) &^ 3
	if size == 0 {
		size = 4
	}
	if usage&wgpu.BufferUsage_Storage != 0 && size > d.Limits.MaxStorageBufferBinding {
		return nil, fmt.Errorf("gpu: buffer %s: %d bytes exceed the adapter's storage binding limit of %d bytes", label, size, d.Limits.MaxStorageBufferBinding)
	}
	if size > d.Limits.MaxBufferSize {
		return nil, fmt.Errorf("gpu: buffer %s: %d bytes exceed the adapter's buffer size limit of %d bytes", label, size, d.Limits.MaxBufferSize)
	}
	var b *wgpu.Buffer
	err := d.scoped("gpu: buffer "+label, func() (err error) {
		b, err = d.dev.CreateBuffer(&wgpu.BufferDescriptor{Label: label, Size: size, Usage: usage})
		return err
	})
	if err != nil {
		if b != nil {
			b.Release()
		}
		return nil, err
	}
	return &Buffer{Label: label, Size: size, b: b}, nil
}

// Release frees the buffer's memory.
func (b *Buffer) Release() {
	if b != nil && b.b != nil {
		b.b.Destroy()
		b.b.Release()
		b.b = nil
	}
}

// Write copies data into b at offset (both multiples of 4) and waits.
//
// It stages the bytes in a buffer mapped at creation and copies them with a
// command of its own instead of calling queue.WriteBuffer: on Mesa's
// lavapipe (22.3), wgpu's pending-writes command buffer submitted after
// earlier work crashes the driver's queue thread.
func (d *Device) Write(b *Buffer, offset uint64, data []byte) error {
	if offset%4 != 0 || len(data)%4 != 0 {
		return fmt.Errorf("gpu: write to %s: offset %d and length %d must be multiples of 4", b.Label, offset, len(data))
	}
	if offset+uint64(len(data)) > b.Size {
		return fmt.Errorf("gpu: write to %s: %d bytes at %d overrun its %d bytes", b.Label, len(data), offset, b.Size)
	}
	if len(data) == 0 {
		return nil
	}
	up, err := d.upload(b.Label, data)
	if err != nil {
		return err
	}
	defer up.Release()
	enc, err := d.dev.CreateCommandEncoder(nil)
	if err != nil {
		return fmt.Errorf("gpu: write to %s: %v", b.Label, err)
	}
	defer enc.Release()
	if err := enc.CopyBufferToBuffer(up.b, 0, b.b, offset, uint64(len(data))); err != nil {
		return fmt.Errorf("gpu: write to %s: %v", b.Label, oneLine(err.Error()))
	}
	return d.submit("write to "+b.Label, enc)
}

// upload returns a copy-source buffer holding data, mapped at creation.
func (d *Device) upload(label string, data []byte) (*Buffer, error) {
	size := uint64(len(data)+3) &^ 3
	var b *wgpu.Buffer
	err := d.scoped("gpu: upload to "+label, func() (err error) {
		b, err = d.dev.CreateBuffer(&wgpu.BufferDescriptor{Label: label + ".upload", Size: size, Usage: wgpu.BufferUsage_MapWrite | wgpu.BufferUsage_CopySrc, MappedAtCreation: true})
		if err != nil {
			return err
		}
		copy(b.GetMappedRange(0, uint(size)), data)
		return b.Unmap()
	})
	if err != nil {
		if b != nil {
			b.Release()
		}
		return nil, err
	}
	return &Buffer{Label: label + ".upload", Size: size, b: b}, nil
}

// Read copies size bytes at offset out of b, waiting for all submitted work.
func (d *Device) Read(b *Buffer, offset, size uint64) ([]byte, error) {
	out := make([]byte, size)
	err := d.ReadInto([]ReadBack{{Buf: b, Offset: offset, Dst: out}})
	return out, err
}

// ReadBack is one region to read back: len(Dst) bytes of Buf from Offset.
type ReadBack struct {
	Buf    *Buffer
	Offset uint64
	Dst    []byte
}

// ReadInto reads back several regions with one submission and one mapping.
func (d *Device) ReadInto(rs []ReadBack) error {
	enc, err := d.dev.CreateCommandEncoder(nil)
	if err != nil {
		return fmt.Errorf("gpu: read back: %v", err)
	}
	defer enc.Release()
	staging, offs, err := d.encodeReads(enc, rs)
	if err != nil {
		return err
	}
	defer staging.Release()
	if err := d.submit("read back", enc); err != nil {
		return err
	}
	return d.mapOut(staging, offs, rs)
}

// encodeReads adds copies of rs into a new staging buffer to enc.
func (d *Device) encodeReads(enc *wgpu.CommandEncoder, rs []ReadBack) (*Buffer, []uint64, error) {
	var total uint64
	offs := make([]uint64, len(rs))
	for i, r := range rs {
		n := uint64(len(r.Dst))
		if r.Offset%4 != 0 || n%4 != 0 || r.Offset+n > r.Buf.Size {
			return nil, nil, fmt.Errorf("gpu: read back %s: bad region %d+%d of %d bytes", r.Buf.Label, r.Offset, n, r.Buf.Size)
		}
		offs[i] = total
		total += n
	}
	staging, err := d.staging(total)
	if err != nil {
		return nil, nil, err
	}
	for i, r := range rs {
		if len(r.Dst) == 0 {
			continue
		}
		if err := enc.CopyBufferToBuffer(r.Buf.b, r.Offset, staging.b, offs[i], uint64(len(r.Dst))); err != nil {
			staging.Release()
			return nil, nil, fmt.Errorf("gpu: read back %s: %v", r.Buf.Label, oneLine(err.Error()))
		}
	}
	return staging, offs, nil
}

// staging returns a read-back buffer. It is created mapped and unmapped at
// once so that wgpu counts it as initialised and never schedules a clear of
// it through its pending-writes command buffer (see Write).
func (d *Device) staging(size uint64) (*Buffer, error) {
	size = (size + 3) &^ 3
	var b *wgpu.Buffer
	err := d.scoped("gpu: staging buffer", func() (err error) {
		b, err = d.dev.CreateBuffer(&wgpu.BufferDescriptor{Label: "staging", Size: size, Usage: wgpu.BufferUsage_MapRead | wgpu.BufferUsage_CopyDst, MappedAtCreation: true})
		if err != nil {
			return err
		}
		return b.Unmap()
	})
	if err != nil {
		if b != nil {
			b.Release()
		}
		return nil, err
	}
	return &Buffer{Label: "staging", Size: size, b: b}, nil
}

// mapOut maps staging and copies each region into its destination.
func (d *Device) mapOut(staging *Buffer, offs []uint64, rs []ReadBack) error {
	var status wgpu.BufferMapAsyncStatus
	done := false
	err := d.scoped("gpu: map staging buffer", func() error {
		poll, free := mapRead(staging.b, staging.Size)
		for i := 0; i < 100; i++ {
			if done, status = poll(); done {
				free() // else leaked: the callback may still write to it
				break
			}
			d.wait()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !done {
		return fmt.Errorf("gpu: read back: the mapping never completed")
	}
	if status != wgpu.BufferMapAsyncStatus_Success {
		if e := d.errs.take(); e != nil {
			return fmt.Errorf("gpu: read back: %w", e)
		}
		return fmt.Errorf("gpu: read back: mapping failed: %s", status)
	}
	mapped := staging.b.GetMappedRange(0, uint(staging.Size))
	for i, r := range rs {
		copy(r.Dst, mapped[offs[i]:offs[i]+uint64(len(r.Dst))])
	}
	return staging.b.Unmap()
}
