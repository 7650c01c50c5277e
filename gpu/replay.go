package gpu

import (
	"encoding/binary"
	"errors"
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
// Start submits a run and returns at once, so that the host can prepare
// the next run while the GPU executes this one. Up to two runs are in
// flight: the replay has two sets of staging buffers (slots) and
// alternates between them, and a Start whose slot is still in use waits
// for that run, the older of the two, to finish.
//
// A Replay is safe for concurrent use: Starts, Waits and Runs take turns on
// the replay's lock, except while a Wait waits for the GPU (so that the
// next run can start meanwhile), and hold the device's lock only while
// they encode, submit, map or poll, so other replays and other work on
// the device can proceed while one waits for the GPU.
type Replay struct {
	mu     sync.Mutex // guards the fields below and the slots
	d      *Device
	ds     []*Dispatch
	writes []region
	reads  []region
	slots  [2]*slot
	turn   int        // the slot the next Start uses
	flight []*Pending // started and not finished, oldest first
}

// slot is one set of a replay's staging buffers, with the command buffer
// recorded for them.
type slot struct {
	up, down *Buffer
	stamps   *stampSet           // nil without timestamps
	next     *wgpu.CommandBuffer // the slot's next run, once encoded
	upMap    *pendingMap         // the upload buffer's mapping for the next run, once asked for
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
	if d.HasTimestamps && len(ds) > 0 {
		ndown += 16
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
	for i := range r.slots {
		s := &slot{}
		r.slots[i] = s
		var err error
		if nup > 0 {
			if s.up, err = d.create(fmt.Sprintf("replay upload %d", i), nup, wgpu.BufferUsage_MapWrite|wgpu.BufferUsage_CopySrc, true); err != nil {
				return nil, err
			}
		}
		if d.HasTimestamps && len(ds) > 0 {
			if s.stamps, err = d.newStampSet(fmt.Sprintf("replay timestamps %d", i), 2); err != nil {
				return nil, err
			}
		}
		if ndown > 0 {
			if s.down, err = d.newReadBack(fmt.Sprintf("replay read-back %d", i), ndown); err != nil {
				return nil, err
			}
		}
	}
	ok = true
	return r, nil
}

// Pending is a run that Start submitted. Its Wait is safe for concurrent
// use.
type Pending struct {
	r       *Replay
	d       *Device // the replay's, which Release clears
	s       *slot
	reads   []ReadBack
	start   time.Time
	downMap *pendingMap // the read-back buffer's mapping; nil without read-backs
	done    bool        // finished: t and err are set
	t       Timing
	err     error
}

// errReleased is what runs of a released replay report.
var errReleased = errors.New("gpu: replay released")

// Run is Start followed by the run's Wait.
func (r *Replay) Run(writes []Upload, reads []ReadBack) (Timing, error) {
	p, err := r.Start(writes, reads)
	if err != nil {
		return Timing{}, err
	}
	return p.Wait()
}

// Start writes each writes[i].Data into its region, submits a run and
// returns; the run's Wait reads each region back into reads[i].Dst. The
// buffers, offsets and lengths must be those given to NewReplay. Start has
// copied the Data when it returns, so the caller may reuse it; the Dst
// slices belong to the run until its Wait returns. When two runs are in
// flight, Start first waits for the older one to finish (its Wait then
// returns at once).
func (r *Replay) Start(writes []Upload, reads []ReadBack) (*Pending, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.d == nil {
		return nil, errReleased
	}
	if len(writes) != len(r.writes) || len(reads) != len(r.reads) {
		return nil, fmt.Errorf("gpu: replay of %d uploads and %d read-backs given %d and %d", len(r.writes), len(r.reads), len(writes), len(reads))
	}
	for i, w := range writes {
		if err := r.writes[i].check("upload", i, w.Buf, w.Offset, uint64(len(w.Data))); err != nil {
			return nil, err
		}
	}
	for i, rd := range reads {
		if err := r.reads[i].check("read-back", i, rd.Buf, rd.Offset, uint64(len(rd.Dst))); err != nil {
			return nil, err
		}
	}
	s := r.slots[r.turn]
	for _, p := range slices.Clone(r.flight) {
		if p.s == s {
			r.finish(p)
		}
	}
	p := &Pending{r: r, d: r.d, s: s, reads: slices.Clone(reads), start: time.Now()}
	if err := r.upload(s, writes); err != nil {
		return nil, err
	}
	if err := r.submit(p); err != nil {
		return nil, err
	}
	r.turn = 1 - r.turn
	r.flight = append(r.flight, p)
	return p, nil
}

// upload copies writes into the slot's upload buffer, once the GPU has
// finished reading it for the slot's last run. The copy runs without the
// device lock.
func (r *Replay) upload(s *slot, writes []Upload) error {
	if s.up == nil {
		return nil
	}
	if s.upMap != nil { // else still mapped from its creation
		err := r.d.await(s.upMap)
		s.upMap = nil
		if err != nil {
			if r.d.lock() == nil {
				s.upMap = startMap(s.up, 2) // ask again, so that the next run does not write an unmapped buffer
				r.d.mu.Unlock()
			}
			return err
		}
	}
	if err := r.d.lock(); err != nil {
		return err
	}
	mapped := s.up.b.GetMappedRange(0, uint(s.up.Size))
	r.d.mu.Unlock()
	if uint64(len(mapped)) < s.up.Size {
		return fmt.Errorf("gpu: upload: the mapping of %s has %d of its %d bytes", s.up.Label, len(mapped), s.up.Size)
	}
	var off uint64
	for _, w := range writes {
		parallelCopy(mapped[off:], w.Data)
		off += uint64(len(w.Data))
	}
	return nil
}

// submit unmaps the slot's upload buffer, submits its command buffer and
// asks for the slot's buffers back: the upload buffer for the next run,
// the read-back buffer for p's Wait. Then, while the GPU works, it encodes
// the slot's next run (an error there resurfaces when the next run encodes
// again).
func (r *Replay) submit(p *Pending) error {
	s := p.s
	d := r.d
	if err := d.lock(); err != nil {
		return err
	}
	defer d.mu.Unlock()
	if s.up != nil {
		if err := s.up.b.Unmap(); err != nil {
			return fmt.Errorf("gpu: upload: %v", err)
		}
		defer func() { s.upMap = startMap(s.up, 2) }()
	}
	if s.next == nil {
		cb, err := r.encode(s)
		if err != nil {
			return err
		}
		s.next = cb
	}
	cb := s.next
	s.next = nil
	err := d.scoped("gpu: forward pass", func() error {
		d.queue.Submit(cb)
		return nil
	})
	cb.Release()
	if err != nil {
		return err
	}
	if s.down != nil {
		p.downMap = startMap(s.down, 1)
	}
	if next, err := r.encode(s); err == nil {
		s.next = next
	}
	return nil
}

// Wait waits for the run to finish and returns its timing: Timing.Wall
// from Start to the end of the read-back, and Timing.GPU on adapters with
// timestamps. Errors the GPU or the read-back met are Wait's; a run whose
// replay was released before it finished reports an error.
func (p *Pending) Wait() (Timing, error) {
	r := p.r
	if p.downMap != nil {
		// Without the replay's lock, so that the next run can start
		// meanwhile; finish then finds the mapping done.
		p.d.settle(p.downMap)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finish(p)
	return p.t, p.err
}

// finish waits for p's run, copies its read-backs out and takes it off the
// list of runs in flight; r.mu is held and the device's is not.
func (r *Replay) finish(p *Pending) {
	if p.done {
		return
	}
	p.done = true
	r.flight = slices.DeleteFunc(r.flight, func(q *Pending) bool { return q == p })
	if p.downMap == nil {
		p.err = r.d.drain()
	} else {
		p.err = r.readOut(p)
	}
	p.t.Wall = time.Since(p.start)
}

// readOut waits for p's read-back buffer to map and copies it into p's
// destinations (the copy without the device lock).
func (r *Replay) readOut(p *Pending) error {
	d, down := r.d, p.s.down
	if err := d.await(p.downMap); err != nil {
		return fmt.Errorf("gpu: read back: %w", err)
	}
	if err := d.lock(); err != nil {
		return err
	}
	mapped := down.b.GetMappedRange(0, uint(down.Size))
	d.mu.Unlock()
	if uint64(len(mapped)) < down.Size {
		return fmt.Errorf("gpu: read back: the mapping of %s has %d of its %d bytes", down.Label, len(mapped), down.Size)
	}
	var off uint64
	for _, rd := range p.reads {
		off += uint64(copy(rd.Dst, mapped[off:off+uint64(len(rd.Dst))]))
	}
	if p.s.stamps != nil {
		p.t.GPU = time.Duration(binary.LittleEndian.Uint64(mapped[off+8:]) - binary.LittleEndian.Uint64(mapped[off:]))
	}
	if err := d.lock(); err != nil {
		return err
	}
	defer d.mu.Unlock()
	if err := down.b.Unmap(); err != nil {
		return fmt.Errorf("gpu: read back: %v", err)
	}
	return nil
}

// encode records one run in slot s: the copies from its upload buffer, the
// dispatches in one pass between two timestamps, the copies into its
// read-back buffer.
func (r *Replay) encode(s *slot) (*wgpu.CommandBuffer, error) {
	enc, err := r.d.dev.CreateCommandEncoder(nil)
	if err != nil {
		return nil, fmt.Errorf("gpu: command encoder: %v", err)
	}
	defer enc.Release()
	var off uint64
	for _, w := range r.writes {
		if err := enc.CopyBufferToBuffer(s.up.b, off, w.buf.b, w.off, w.n); err != nil {
			return nil, fmt.Errorf("gpu: write to %s: %v", w.buf.Label, oneLine(err.Error()))
		}
		off += w.n
	}
	if s.stamps != nil {
		if err := enc.WriteTimestamp(s.stamps.set, 0); err != nil {
			return nil, fmt.Errorf("gpu: timestamp: %v", err)
		}
	}
	if err := r.d.encode(enc, r.ds, nil, false); err != nil {
		return nil, err
	}
	if s.stamps != nil {
		if err := enc.WriteTimestamp(s.stamps.set, 1); err != nil {
			return nil, fmt.Errorf("gpu: timestamp: %v", err)
		}
	}
	off = 0
	for _, rd := range r.reads {
		if err := enc.CopyBufferToBuffer(rd.buf.b, rd.off, s.down.b, off, rd.n); err != nil {
			return nil, fmt.Errorf("gpu: read back %s: %v", rd.buf.Label, oneLine(err.Error()))
		}
		off += rd.n
	}
	if s.stamps != nil {
		if err := enc.ResolveQuerySet(s.stamps.set, 0, 2, s.stamps.resolve.b, 0); err != nil {
			return nil, fmt.Errorf("gpu: resolve timestamps: %v", err)
		}
		if err := enc.CopyBufferToBuffer(s.stamps.resolve.b, 0, s.down.b, off, 16); err != nil {
			return nil, fmt.Errorf("gpu: read back timestamps: %v", oneLine(err.Error()))
		}
	}
	cb, err := enc.Finish(nil)
	if err != nil {
		return nil, fmt.Errorf("gpu: forward pass: %v", oneLine(err.Error()))
	}
	return cb, nil
}

// Release waits for the runs in flight to leave the GPU, then frees the
// replay's buffers and the command buffers it holds; a pending upload
// mapping's status word is left to the callback (a few bytes). The Waits
// of runs that had not finished, and Starts and Runs after Release, return
// an error.
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
	for _, p := range r.flight {
		if p.downMap != nil {
			d.await(p.downMap) // the GPU is done with the buffers once it maps
		} else {
			d.drain()
		}
		p.done, p.err = true, errReleased
	}
	r.flight = nil
	if d.lock() != nil {
		return // the device is closed, and its buffers with it
	}
	defer d.mu.Unlock()
	r.release()
}

// release frees the slots with the device lock held.
func (r *Replay) release() {
	for _, s := range r.slots {
		if s == nil {
			continue
		}
		if s.next != nil {
			s.next.Release()
		}
		s.up.release()
		s.down.release()
		s.stamps.release()
	}
	r.slots, r.d = [2]*slot{}, nil
}
