package gpu

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Buffer is a storage buffer on the device, usable as a copy source and
// destination. Its methods are safe for concurrent use (they take the
// device's lock); Release must not race with a run that uses the buffer.
type Buffer struct {
	Label string
	Size  uint64 // bytes
	b     *wgpu.Buffer
	d     *Device
}

// NewBuffer allocates a storage buffer of size bytes (rounded up to a
// multiple of 4). Sizes beyond the adapter's buffer size limit and
// out-of-memory are errors naming label. A buffer larger than the storage
// binding limit is bound by Regions.
func (d *Device) NewBuffer(label string, size uint64) (*Buffer, error) {
	if err := d.lock(); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return d.newBuffer(label, size, wgpu.BufferUsage_Storage|wgpu.BufferUsage_CopySrc|wgpu.BufferUsage_CopyDst)
}

func (d *Device) newBuffer(label string, size uint64, usage wgpu.BufferUsage) (*Buffer, error) {
	return d.create(label, size, usage, false)
}

// NewBufferWith allocates a storage buffer of size bytes, as NewBuffer,
// holding data at its start and zeros after it, without a submission: the
// buffer is created mapped and filled before the device sees it, where
// NewBuffer and Write would wait for a copy.
func (d *Device) NewBufferWith(label string, size uint64, data []byte) (*Buffer, error) {
	if err := d.lock(); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return d.createWith(label, size, data, wgpu.BufferUsage_Storage|wgpu.BufferUsage_CopySrc|wgpu.BufferUsage_CopyDst)
}

// createWith allocates a buffer of max(size, len(data)) bytes holding
// data (see NewBufferWith); the device lock is held.
func (d *Device) createWith(label string, size uint64, data []byte, usage wgpu.BufferUsage) (*Buffer, error) {
	b, err := d.create(label, max(size, uint64(len(data))), usage, true)
	if err != nil {
		return nil, err
	}
	parallelCopy(b.b.GetMappedRange(0, uint(b.Size)), data)
	if err := b.b.Unmap(); err != nil {
		b.release()
		return nil, fmt.Errorf("gpu: buffer %s: %v", label, err)
	}
	return b, nil
}

// create allocates a buffer of size bytes (rounded up to a multiple of 4),
// checked against the adapter's limits, mapped when mapped is set.
func (d *Device) create(label string, size uint64, usage wgpu.BufferUsage, mapped bool) (*Buffer, error) {
	size = (size + 3) &^ 3
	if size == 0 {
		size = 4
	}
	if size > d.Limits.MaxBufferSize {
		return nil, fmt.Errorf("gpu: buffer %s: %d bytes exceed the adapter's buffer size limit of %d bytes", label, size, d.Limits.MaxBufferSize)
	}
	var b *wgpu.Buffer
	err := d.scoped("gpu: buffer "+label, func() (err error) {
		b, err = d.dev.CreateBuffer(&wgpu.BufferDescriptor{Label: label, Size: size, Usage: usage, MappedAtCreation: mapped})
		return err
	})
	if err != nil {
		if b != nil {
			b.Release()
		}
		return nil, err
	}
	return &Buffer{Label: label, Size: size, b: b, d: d}, nil
}

// Release frees the buffer's memory.
func (b *Buffer) Release() {
	if b == nil || b.d == nil {
		return
	}
	b.d.mu.Lock()
	defer b.d.mu.Unlock()
	b.release()
}

// release is Release with the device lock held.
func (b *Buffer) release() {
	if b != nil && b.b != nil {
		b.b.Destroy()
		b.b.Release()
		b.b = nil
	}
}

// Write copies data into b at offset (both multiples of 4) and waits.
func (d *Device) Write(b *Buffer, offset uint64, data []byte) error {
	if err := d.lock(); err != nil {
		return err
	}
	defer d.mu.Unlock()
	return d.write(b, offset, data)
}

// write is Write with the device lock held.
func (d *Device) write(b *Buffer, offset uint64, data []byte) error {
	_, err := d.runWith(nil, []Upload{{Buf: b, Offset: offset, Data: data}}, nil, false)
	return err
}

// Upload is one region to write before a run's dispatches: Data into Buf
// at Offset (multiples of 4).
type Upload struct {
	Buf    *Buffer
	Offset uint64
	Data   []byte
}

// encodeWrites stages ws in the device's upload buffer and adds the copies
// to enc. It does not use queue.WriteBuffer: on Mesa's lavapipe 22.3, wgpu's
// pending-writes command buffer crashed the driver's queue thread.
func (d *Device) encodeWrites(enc *wgpu.CommandEncoder, ws []Upload) error {
	var total uint64
	for _, w := range ws {
		n := uint64(len(w.Data))
		if err := checkRegion("write to", w.Buf, w.Offset, n); err != nil {
			return err
		}
		total += n
	}
	if total == 0 {
		return nil
	}
	up, err := d.uploadBuffer(total)
	if err != nil {
		return err
	}
	mapped := up.b.GetMappedRange(0, uint(up.Size))
	var off uint64
	for _, w := range ws {
		parallelCopy(mapped[off:], w.Data)
		off += uint64(len(w.Data))
	}
	if err := up.b.Unmap(); err != nil {
		return fmt.Errorf("gpu: upload: %v", err)
	}
	off = 0
	for _, w := range ws {
		n := uint64(len(w.Data))
		if n == 0 {
			continue
		}
		if err := enc.CopyBufferToBuffer(up.b, off, w.Buf.b, w.Offset, n); err != nil {
			return fmt.Errorf("gpu: write to %s: %v", w.Buf.Label, oneLine(err.Error()))
		}
		off += n
	}
	return nil
}

// checkRegion reports an error unless n bytes at offset lie inside b, both
// multiples of 4 (what copies between buffers need).
func checkRegion(what string, b *Buffer, offset, n uint64) error {
	if b == nil || b.b == nil {
		return fmt.Errorf("gpu: %s: no buffer", what)
	}
	if offset%4 != 0 || n%4 != 0 {
		return fmt.Errorf("gpu: %s %s: offset %d and length %d must be multiples of 4", what, b.Label, offset, n)
	}
	if offset+n > b.Size {
		return fmt.Errorf("gpu: %s %s: %d bytes at %d overrun its %d bytes", what, b.Label, n, offset, b.Size)
	}
	return nil
}

// parallelCopy is copy(dst, src) spread over the CPUs for large inputs (a
// batch of 64 images is 38.5 MB, several milliseconds for one core).
func parallelCopy(dst, src []byte) {
	const chunk = 4 << 20
	n := min(len(dst), len(src))
	if n < 2*chunk {
		copy(dst, src)
		return
	}
	parts := min(runtime.GOMAXPROCS(0), n/chunk)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := i*n/parts, (i+1)*n/parts
		wg.Go(func() { copy(dst[lo:hi], src[lo:hi]) })
	}
	wg.Wait()
}

// uploadBuffer returns the device's upload buffer, mapped for writing and
// at least size bytes, reusing it between runs.
func (d *Device) uploadBuffer(size uint64) (*Buffer, error) {
	size = (size + 3) &^ 3
	if d.up != nil && d.up.Size >= size {
		if err := d.mapNow(d.up, 2); err != nil {
			return nil, err
		}
		return d.up, nil
	}
	d.up.release()
	d.up = nil
	up, err := d.create("upload", size, wgpu.BufferUsage_MapWrite|wgpu.BufferUsage_CopySrc, true)
	if err != nil {
		return nil, err
	}
	d.up = up
	return up, nil
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
	if err := d.lock(); err != nil {
		return err
	}
	defer d.mu.Unlock()
	_, err := d.runWith(nil, nil, rs, false)
	return err
}

// encodeReads adds copies of rs into the device's staging buffer to enc.
func (d *Device) encodeReads(enc *wgpu.CommandEncoder, rs []ReadBack) (*Buffer, []uint64, error) {
	var total uint64
	offs := make([]uint64, len(rs))
	for i, r := range rs {
		n := uint64(len(r.Dst))
		if err := checkRegion("read back", r.Buf, r.Offset, n); err != nil {
			return nil, nil, err
		}
		offs[i] = total
		total += n
	}
	staging, err := d.stagingBuffer(total)
	if err != nil {
		return nil, nil, err
	}
	for i, r := range rs {
		if len(r.Dst) == 0 {
			continue
		}
		if err := enc.CopyBufferToBuffer(r.Buf.b, r.Offset, staging.b, offs[i], uint64(len(r.Dst))); err != nil {
			return nil, nil, fmt.Errorf("gpu: read back %s: %v", r.Buf.Label, oneLine(err.Error()))
		}
	}
	return staging, offs, nil
}

// stagingBuffer returns the device's read-back buffer, at least size
// bytes, reusing it between runs.
func (d *Device) stagingBuffer(size uint64) (*Buffer, error) {
	size = (size + 3) &^ 3
	if d.down != nil && d.down.Size >= size {
		return d.down, nil
	}
	d.down.release()
	d.down = nil
	down, err := d.newReadBack("staging", size)
	if err != nil {
		return nil, err
	}
	d.down = down
	return down, nil
}

// newReadBack creates a buffer to map for reading. It is created mapped and
// unmapped at once so that wgpu counts it as initialised and never
// schedules a clear of it through its pending-writes command buffer (see
// encodeWrites).
func (d *Device) newReadBack(label string, size uint64) (*Buffer, error) {
	b, err := d.create(label, size, wgpu.BufferUsage_MapRead|wgpu.BufferUsage_CopyDst, true)
	if err != nil {
		return nil, err
	}
	if err := b.b.Unmap(); err != nil {
		b.release()
		return nil, fmt.Errorf("gpu: %s buffer: %v", label, err)
	}
	return b, nil
}

// mapOut maps staging and copies each region into its destination.
func (d *Device) mapOut(staging *Buffer, offs []uint64, rs []ReadBack) error {
	if err := d.mapNow(staging, 1); err != nil {
		return fmt.Errorf("gpu: read back: %w", err)
	}
	mapped := staging.b.GetMappedRange(0, uint(staging.Size))
	for i, r := range rs {
		copy(r.Dst, mapped[offs[i]:offs[i]+uint64(len(r.Dst))])
	}
	return staging.b.Unmap()
}
