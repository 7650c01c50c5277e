package gpu

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Region is a byte range of a buffer (offset and size multiples of 4).
type Region struct {
	Buf          *Buffer
	Offset, Size uint64
}

// Replay runs one fixed sequence of dispatches many times, with the same
// upload and read-back regions each time: a compiled network's forward
// pass. WebGPU command buffers are single-use, so a Replay encodes the next
// run's command buffer while the GPU executes the current one, and maps its
// upload buffer for the next run as soon as the GPU has read it; a run then
// costs the CPU little more than the input copy, one submission and the
// read-back. It owns its upload, read-back and timestamp buffers, so other
// work on the device cannot invalidate a command buffer it holds.
type Replay struct {
	d             *Device
	ds            []*Dispatch
	writes, reads []Region
	up, down      *Buffer
	stamps        *stampSet // nil without timestamps
	next          *wgpu.CommandBuffer
	upMapped      bool
	upPoll        func() (bool, wgpu.BufferMapAsyncStatus) // a pending mapping of up
	upFree        func()
}

// NewReplay prepares runs of ds that upload into writes and read back reads.
func (d *Device) NewReplay(ds []*Dispatch, writes, reads []Region) (*Replay, error) {
	r := &Replay{d: d, ds: ds, writes: writes, reads: reads}
	var nup, ndown uint64
	for _, w := range writes {
		if err := w.check("upload to"); err != nil {
			return nil, err
		}
		nup += w.Size
	}
	for _, rd := range reads {
		if err := rd.check("read back"); err != nil {
			return nil, err
		}
		ndown += rd.Size
	}
	ok := false
	defer func() {
		if !ok {
			r.Release()
		}
	}()
	var err error
	if nup > 0 {
		if r.up, err = d.create("replay upload", nup, wgpu.BufferUsage_MapWrite|wgpu.BufferUsage_CopySrc, true); err != nil {
			return nil, err
		}
		r.upMapped = true
	}
	if d.HasTimestamps && len(ds) > 0 {
		set, err := d.dev.CreateQuerySet(&wgpu.QuerySetDescriptor{Label: "replay timestamps", Type: wgpu.QueryType_Timestamp, Count: 2})
		if err != nil {
			return nil, fmt.Errorf("gpu: timestamp query set: %v", err)
		}
		r.stamps = &stampSet{set: set, n: 2}
		if r.stamps.resolve, err = d.newBuffer("replay timestamps", 16, wgpu.BufferUsage_QueryResolve|wgpu.BufferUsage_CopySrc); err != nil {
			return nil, err
		}
		ndown += 16
	}
	if ndown > 0 {
		// Created mapped and unmapped at once: see stagingBuffer.
		if r.down, err = d.create("replay read-back", ndown, wgpu.BufferUsage_MapRead|wgpu.BufferUsage_CopyDst, true); err != nil {
			return nil, err
		}
		if err := r.down.b.Unmap(); err != nil {
			return nil, fmt.Errorf("gpu: replay read-back buffer: %v", err)
		}
	}
	ok = true
	return r, nil
}

func (g Region) check(what string) error {
	if g.Buf == nil || g.Offset%4 != 0 || g.Size%4 != 0 || g.Offset+g.Size > g.Buf.Size {
		return fmt.Errorf("gpu: %s: bad region", what)
	}
	return nil
}

// Run writes in[i] into writes[i], runs the dispatches and copies reads[i]
// into out[i] (len(in[i]) and len(out[i]) equal to the regions' sizes).
// Timing.GPU is set on adapters with timestamps.
func (r *Replay) Run(in, out [][]byte) (Timing, error) {
	start := time.Now()
	var t Timing
	if len(in) != len(r.writes) || len(out) != len(r.reads) {
		return t, fmt.Errorf("gpu: replay of %d uploads and %d read-backs given %d and %d", len(r.writes), len(r.reads), len(in), len(out))
	}
	for i, w := range r.writes {
		if uint64(len(in[i])) != w.Size {
			return t, fmt.Errorf("gpu: upload to %s: %d bytes, want %d", w.Buf.Label, len(in[i]), w.Size)
		}
	}
	for i, rd := range r.reads {
		if uint64(len(out[i])) != rd.Size {
			return t, fmt.Errorf("gpu: read back %s: %d bytes, want %d", rd.Buf.Label, len(out[i]), rd.Size)
		}
	}
	if r.next == nil {
		cb, err := r.encode()
		if err != nil {
			return t, err
		}
		r.next = cb
	}
	if r.up != nil {
		if err := r.mapUp(); err != nil {
			return t, err
		}
		mapped := r.up.b.GetMappedRange(0, uint(r.up.Size))
		var off uint64
		for _, b := range in {
			parallelCopy(mapped[off:], b)
			off += uint64(len(b))
		}
		r.upMapped = false
		if err := r.up.b.Unmap(); err != nil {
			return t, fmt.Errorf("gpu: upload: %v", err)
		}
	}
	cb := r.next
	r.next = nil
	err := r.d.scoped("gpu: forward pass", func() error {
		r.d.queue.Submit(cb)
		return nil
	})
	cb.Release()
	if err != nil {
		return t, err
	}
	// While the GPU works: ask for the upload buffer back and encode the
	// next run (an error here resurfaces when the next run encodes again).
	if r.up != nil {
		r.upPoll, r.upFree = mapAsync(r.up.b, 2, r.up.Size)
	}
	if next, err := r.encode(); err == nil {
		r.next = next
	}
	r.d.wait()
	if r.down != nil {
		if err := r.d.mapNow(r.down, 1); err != nil {
			return t, fmt.Errorf("gpu: read back: %w", err)
		}
		mapped := r.down.b.GetMappedRange(0, uint(r.down.Size))
		var off uint64
		for i := range r.reads {
			off += uint64(copy(out[i], mapped[off:off+uint64(len(out[i]))]))
		}
		if r.stamps != nil {
			t.GPU = time.Duration(binary.LittleEndian.Uint64(mapped[off+8:]) - binary.LittleEndian.Uint64(mapped[off:]))
		}
		if err := r.down.b.Unmap(); err != nil {
			return t, fmt.Errorf("gpu: read back: %v", err)
		}
	}
	t.Wall = time.Since(start)
	return t, nil
}

// mapUp waits until the upload buffer is mapped for writing.
func (r *Replay) mapUp() error {
	if r.upMapped {
		return nil
	}
	if r.upPoll == nil {
		r.upPoll, r.upFree = mapAsync(r.up.b, 2, r.up.Size)
	}
	var status wgpu.BufferMapAsyncStatus
	done := spin(100000, func() bool {
		var ok bool
		if ok, status = r.upPoll(); ok {
			return true
		}
		r.d.dev.Poll(false, nil)
		return false
	})
	if !done {
		return fmt.Errorf("gpu: map %s: the mapping never completed", r.up.Label)
	}
	r.upFree()
	r.upPoll, r.upFree = nil, nil
	if status != wgpu.BufferMapAsyncStatus_Success {
		return fmt.Errorf("gpu: map %s: %s", r.up.Label, status)
	}
	r.upMapped = true
	return nil
}

// encode records one run: the copies from the upload buffer, the
// dispatches in one pass between two timestamps, the copies into the
// read-back buffer.
func (r *Replay) encode() (*wgpu.CommandBuffer, error) {
	enc, err := r.d.dev.CreateCommandEncoder(nil)
	if err != nil {
		return nil, fmt.Errorf("gpu: command encoder: %v", err)
	}
	defer enc.Release()
	var off uint64
	for _, w := range r.writes {
		if err := enc.CopyBufferToBuffer(r.up.b, off, w.Buf.b, w.Offset, w.Size); err != nil {
			return nil, fmt.Errorf("gpu: write to %s: %v", w.Buf.Label, oneLine(err.Error()))
		}
		off += w.Size
	}
	if r.stamps != nil {
		if err := enc.WriteTimestamp(r.stamps.set, 0); err != nil {
			return nil, fmt.Errorf("gpu: timestamp: %v", err)
		}
	}
	if err := r.d.encode(enc, r.ds, nil, false); err != nil {
		return nil, err
	}
	if r.stamps != nil {
		if err := enc.WriteTimestamp(r.stamps.set, 1); err != nil {
			return nil, fmt.Errorf("gpu: timestamp: %v", err)
		}
	}
	off = 0
	for _, rd := range r.reads {
		if err := enc.CopyBufferToBuffer(rd.Buf.b, rd.Offset, r.down.b, off, rd.Size); err != nil {
			return nil, fmt.Errorf("gpu: read back %s: %v", rd.Buf.Label, oneLine(err.Error()))
		}
		off += rd.Size
	}
	if r.stamps != nil {
		if err := enc.ResolveQuerySet(r.stamps.set, 0, 2, r.stamps.resolve.b, 0); err != nil {
			return nil, fmt.Errorf("gpu: resolve timestamps: %v", err)
		}
		if err := enc.CopyBufferToBuffer(r.stamps.resolve.b, 0, r.down.b, off, 16); err != nil {
			return nil, fmt.Errorf("gpu: read back timestamps: %v", oneLine(err.Error()))
		}
	}
	cb, err := enc.Finish(nil)
	if err != nil {
		return nil, fmt.Errorf("gpu: forward pass: %v", oneLine(err.Error()))
	}
	return cb, nil
}

// Release frees the replay's buffers and any command buffer it holds; a
// pending mapping's status word is left to the callback (a few bytes).
func (r *Replay) Release() {
	if r == nil {
		return
	}
	if r.next != nil {
		r.next.Release()
		r.next = nil
	}
	r.up.Release()
	r.down.Release()
	r.stamps.release()
	r.up, r.down, r.stamps = nil, nil, nil
}
