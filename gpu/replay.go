package gpu

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Replay runs one fixed sequence of dispatches many times, with the same
// upload and read-back regions each time: a compiled network's forward
// pass. WebGPU command buffers are single-use, so a Replay encodes the next
// run's command buffer while the GPU executes the current one, and maps its
// upload buffer for the next run as soon as the GPU has read it; a run then
// costs the CPU little more than the input copy, one submission and the
// read-back. It owns its upload, read-back and timestamp buffers, so other
// work on the device cannot invalidate a command buffer it holds.
//
// A Replay is safe for concurrent use: concurrent Runs of one Replay take
// turns (each holds the replay's lock, then the device's), and so do Runs
// of different replays and other work on the device.
type Replay struct {
	mu       sync.Mutex // guards the fields below and the command buffer held ahead
	d        *Device
	ds       []*Dispatch
	writes   []region
	reads    []region
	up, down *Buffer
	stamps   *stampSet // nil without timestamps
	next     *wgpu.CommandBuffer
	upMap    *pendingMap // the upload buffer's mapping for the next run, once asked for
}

// region is n bytes of buf at offset off.
type region struct {
	buf    *Buffer
	off, n uint64
}

// check reports an error unless b, offset and n are the region's.
func (g region) check(what string, i int, b *Buffer, offset, n uint64) error {
	if b != g.buf || offset != g.off || n != g.n {
		name := "no buffer"
		if b != nil {
			name = b.Label
		}
		return fmt.Errorf("gpu: replay %s %d: %d bytes at %d of %s, want %d bytes at %d of %s", what, i, n, offset, name, g.n, g.off, g.buf.Label)
	}
	return nil
}

// NewReplay prepares runs of ds that upload into the regions of writes and
// read back the regions of reads; only the lengths of their Data and Dst
// count here.
func (d *Device) NewReplay(ds []*Dispatch, writes []Upload, reads []ReadBack) (*Replay, error) {
	r := &Replay{d: d, ds: slices.Clone(ds)}
	var nup, ndown uint64
	for _, w := range writes {
		if err := checkRegion("write to", w.Buf, w.Offset, uint64(len(w.Data))); err != nil {
			return nil, err
		}
		r.writes = append(r.writes, region{w.Buf, w.Offset, uint64(len(w.Data))})
		nup += uint64(len(w.Data))
	}
	for _, rd := range reads {
		if err := checkRegion("read back", rd.Buf, rd.Offset, uint64(len(rd.Dst))); err != nil {
			return nil, err
		}
		r.reads = append(r.reads, region{rd.Buf, rd.Offset, uint64(len(rd.Dst))})
		ndown += uint64(len(rd.Dst))
	}
	if err := d.lock(); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	ok := false
	defer func() {
		if !ok {
			r.release()
		}
	}()
	var err error
	if nup > 0 {
		if r.up, err = d.create("replay upload", nup, wgpu.BufferUsage_MapWrite|wgpu.BufferUsage_CopySrc, true); err != nil {
			return nil, err
		}
	}
	if d.HasTimestamps && len(ds) > 0 {
		if r.stamps, err = d.newStampSet("replay timestamps", 2); err != nil {
			return nil, err
		}
		ndown += 16
	}
	if ndown > 0 {
		if r.down, err = d.newReadBack("replay read-back", ndown); err != nil {
			return nil, err
		}
	}
	ok = true
	return r, nil
}

// Run writes each writes[i].Data into its region and reads each region
// back into reads[i].Dst; the buffers, offsets and lengths must be those
// given to NewReplay. Timing.GPU is set on adapters with timestamps.
func (r *Replay) Run(writes []Upload, reads []ReadBack) (Timing, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.d == nil {
		return Timing{}, fmt.Errorf("gpu: replay released")
	}
	if err := r.d.lock(); err != nil {
		return Timing{}, err
	}
	defer r.d.mu.Unlock()
	return r.run(writes, reads)
}

// run is Run with the replay's and the device's locks held.
func (r *Replay) run(writes []Upload, reads []ReadBack) (Timing, error) {
	start := time.Now()
	var t Timing
	if len(writes) != len(r.writes) || len(reads) != len(r.reads) {
		return t, fmt.Errorf("gpu: replay of %d uploads and %d read-backs given %d and %d", len(r.writes), len(r.reads), len(writes), len(reads))
	}
	for i, w := range writes {
		if err := r.writes[i].check("upload", i, w.Buf, w.Offset, uint64(len(w.Data))); err != nil {
			return t, err
		}
	}
	for i, rd := range reads {
		if err := r.reads[i].check("read-back", i, rd.Buf, rd.Offset, uint64(len(rd.Dst))); err != nil {
			return t, err
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
		if r.upMap != nil { // else still mapped from its creation
			err := r.upMap.wait(r.d)
			r.upMap = nil
			if err != nil {
				return t, err
			}
		}
		mapped := r.up.b.GetMappedRange(0, uint(r.up.Size))
		var off uint64
		for _, w := range writes {
			parallelCopy(mapped[off:], w.Data)
			off += uint64(len(w.Data))
		}
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
		r.upMap = startMap(r.up, 2)
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
		for _, rd := range reads {
			off += uint64(copy(rd.Dst, mapped[off:off+uint64(len(rd.Dst))]))
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
		if err := enc.CopyBufferToBuffer(r.up.b, off, w.buf.b, w.off, w.n); err != nil {
			return nil, fmt.Errorf("gpu: write to %s: %v", w.buf.Label, oneLine(err.Error()))
		}
		off += w.n
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
		if err := enc.CopyBufferToBuffer(rd.buf.b, rd.off, r.down.b, off, rd.n); err != nil {
			return nil, fmt.Errorf("gpu: read back %s: %v", rd.buf.Label, oneLine(err.Error()))
		}
		off += rd.n
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
// Runs after Release return an error.
func (r *Replay) Release() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.d == nil {
		return
	}
	d := r.d
	d.mu.Lock()
	defer d.mu.Unlock()
	r.release()
}

// release is Release with the replay's and the device's locks held.
func (r *Replay) release() {
	if r.next != nil {
		r.next.Release()
		r.next = nil
	}
	r.up.release()
	r.down.release()
	r.stamps.release()
	r.up, r.down, r.stamps, r.upMap, r.d = nil, nil, nil, nil, nil
}
