package gpu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Dispatch is one recorded kernel launch: a pipeline, its bound buffers and
// its workgroup counts. Dispatches are built once and replayed by Run. A
// Dispatch may be used by many runs at once; its methods are safe for
// concurrent use (they take the device's lock), but CopyFirst and Release
// must not race with runs that use the dispatch.
type Dispatch struct {
	Label    string
	Pipeline *Pipeline
	Groups   Groups
	bind     *wgpu.BindGroup
	params   *Buffer
	copy     *texCopy // before the kernel (CopyFirst)
	d        *Device
}

// ParamBytes encodes a kernel's parameter struct (fixed-size fields only,
// explicit padding, field order as in the WGSL struct) in little-endian order,
// padded to a multiple of 16 bytes as uniform buffers require.
func ParamBytes(params any) ([]byte, error) {
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, params); err != nil {
		return nil, fmt.Errorf("gpu: parameters %T: %v", params, err)
	}
	for buf.Len()%16 != 0 || buf.Len() == 0 {
		buf.WriteByte(0)
	}
	return buf.Bytes(), nil
}

// bound is one binding of a dispatch besides the parameters: b at index,
// named name in the WGSL.
type bound struct {
	index uint32
	name  string
	b     Binding
}

// newDispatch records a launch of p over groups with params at binding 0
// and bs at theirs; the device lock is held.
func (d *Device) newDispatch(label string, p *Pipeline, params any, groups Groups, bs []bound) (*Dispatch, error) {
	if err := groups.Check(d.Limits.MaxWorkgroupsPerDimension); err != nil {
		return nil, fmt.Errorf("%s (%s): %v", label, p.Key, err)
	}
	entries := []wgpu.BindGroupEntry{{Binding: 0}}
	for _, b := range bs {
		if b.b == nil {
			return nil, fmt.Errorf("%s (%s): binding %d (%s) has no buffer", label, p.Key, b.index, b.name)
		}
		e, err := b.b.entry(b.index)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): binding %d %q: %v", label, p.Key, b.index, b.name, err)
		}
		entries = append(entries, e)
	}
	data, err := ParamBytes(params)
	if err != nil {
		return nil, err
	}
	ub, err := d.createWith(label+".params", 0, data, wgpu.BufferUsage_Uniform|wgpu.BufferUsage_CopyDst)
	if err != nil {
		return nil, err
	}
	entries[0] = wgpu.BindGroupEntry{Binding: 0, Buffer: ub.b, Size: ub.Size}
	var bg *wgpu.BindGroup
	err = d.scoped(fmt.Sprintf("gpu: %s (kernel %s): bind group", label, p.Key), func() (err error) {
		bg, err = d.dev.CreateBindGroup(&wgpu.BindGroupDescriptor{Label: label, Layout: p.layout, Entries: entries})
		return err
	})
	if err != nil {
		ub.release()
		return nil, err
	}
	return &Dispatch{Label: label, Pipeline: p, Groups: groups, bind: bg, params: ub, d: d}, nil
}

// Release frees the dispatch's bind group and parameter buffer.
func (ds *Dispatch) Release() {
	if ds == nil || ds.d == nil {
		return
	}
	ds.d.mu.Lock()
	defer ds.d.mu.Unlock()
	if ds.bind != nil {
		ds.bind.Release()
		ds.bind = nil
	}
	ds.params.release()
}

// Timing is what Run measured.
type Timing struct {
	Wall  time.Duration   // from encoding to the end of read-back
	GPU   time.Duration   // GPU time from the first dispatch's start to the last one's end (adapters with timestamps)
	Spans []time.Duration // GPU time of each dispatch (profiled runs on adapters with timestamps)
}

// Kernels is the GPU time of the dispatches where timestamps measured it,
// else the wall time.
func (t Timing) Kernels() time.Duration {
	if t.GPU > 0 {
		return t.GPU
	}
	return t.Wall
}

// Run is RunWith without uploads.
func (d *Device) Run(ds []*Dispatch, reads []ReadBack, profile bool) (Timing, error) {
	return d.RunWith(ds, nil, reads, profile)
}

// RunWith encodes into one command buffer the uploads, then ds in order
// (one compute pass, or one pass per dispatch with timestamps between them
// when profile is set and the adapter has timestamps), then the read-backs;
// it submits once, waits and copies the read-backs out. On adapters with
// timestamps, the dispatches are bracketed by two timestamps (Timing.GPU).
// Concurrent runs on one device take turns; Timing.Wall starts when this
// run's turn comes.
func (d *Device) RunWith(ds []*Dispatch, writes []Upload, reads []ReadBack, profile bool) (Timing, error) {
	if err := d.lock(); err != nil {
		return Timing{}, err
	}
	defer d.mu.Unlock()
	return d.runWith(ds, writes, reads, profile)
}

// runWith is RunWith with the device lock held.
func (d *Device) runWith(ds []*Dispatch, writes []Upload, reads []ReadBack, profile bool) (Timing, error) {
	start := time.Now()
	var t Timing
	nstamps := 0
	if d.HasTimestamps && len(ds) > 0 {
		nstamps = 2
		if profile {
			nstamps = len(ds) + 1
		}
	}
	enc, err := d.dev.CreateCommandEncoder(nil)
	if err != nil {
		return t, fmt.Errorf("gpu: command encoder: %v", err)
	}
	defer enc.Release()
	if err := d.encodeWrites(enc, writes); err != nil {
		return t, err
	}
	var qs *stampSet
	if nstamps > 0 {
		if qs, err = d.stampSet(nstamps); err != nil {
			return t, err
		}
		if err := enc.WriteTimestamp(qs.set, 0); err != nil {
			return t, fmt.Errorf("gpu: timestamp: %v", err)
		}
	}
	if err := d.encode(enc, ds, qs, nstamps > 2); err != nil {
		return t, err
	}
	var stamps []byte
	if nstamps > 0 {
		if nstamps == 2 {
			if err := enc.WriteTimestamp(qs.set, 1); err != nil {
				return t, fmt.Errorf("gpu: timestamp: %v", err)
			}
		}
		if err := enc.ResolveQuerySet(qs.set, 0, uint32(nstamps), qs.resolve.b, 0); err != nil {
			return t, fmt.Errorf("gpu: resolve timestamps: %v", err)
		}
		stamps = make([]byte, 8*nstamps)
		reads = append(reads[:len(reads):len(reads)], ReadBack{Buf: qs.resolve, Dst: stamps})
	}
	var staging *Buffer
	var offs []uint64
	if len(reads) > 0 {
		staging, offs, err = d.encodeReads(enc, reads)
		if err != nil {
			return t, err
		}
	}
	if err := d.submit("forward pass", enc); err != nil {
		return t, err
	}
	if staging != nil {
		if err := d.mapOut(staging, offs, reads); err != nil {
			return t, err
		}
	}
	t.Wall = time.Since(start)
	if nstamps > 0 {
		at := func(i int) uint64 { return binary.LittleEndian.Uint64(stamps[8*i:]) } // nanoseconds on Vulkan
		t.GPU = time.Duration(at(nstamps-1) - at(0))
		for i := 1; i < nstamps && profile; i++ {
			t.Spans = append(t.Spans, time.Duration(at(i)-at(i-1)))
		}
	}
	return t, nil
}

// stampSet is a timestamp query set with a buffer its values resolve into.
type stampSet struct {
	set     *wgpu.QuerySet
	resolve *Buffer
	n       int
}

// stampSet returns the device's timestamp query set, at least n entries,
// reusing it between runs.
func (d *Device) stampSet(n int) (*stampSet, error) {
	if d.stamps != nil && d.stamps.n >= n {
		return d.stamps, nil
	}
	d.stamps.release()
	d.stamps = nil
	s, err := d.newStampSet("timestamps", max(n, 64))
	if err != nil {
		return nil, err
	}
	d.stamps = s
	return s, nil
}

// newStampSet creates a query set of n timestamps and its resolve buffer.
func (d *Device) newStampSet(label string, n int) (*stampSet, error) {
	set, err := d.dev.CreateQuerySet(&wgpu.QuerySetDescriptor{Label: label, Type: wgpu.QueryType_Timestamp, Count: uint32(n)})
	if err != nil {
		return nil, fmt.Errorf("gpu: timestamp query set: %v", err)
	}
	resolve, err := d.newBuffer(label, uint64(8*n), wgpu.BufferUsage_QueryResolve|wgpu.BufferUsage_CopySrc)
	if err != nil {
		set.Release()
		return nil, err
	}
	return &stampSet{set: set, resolve: resolve, n: n}, nil
}

func (s *stampSet) release() {
	if s != nil {
		s.set.Release()
		s.resolve.release()
	}
}

// encode records ds; with each set, each dispatch gets its own pass
// followed by a timestamp in qs.
func (d *Device) encode(enc *wgpu.CommandEncoder, ds []*Dispatch, qs *stampSet, each bool) error {
	var pass *wgpu.ComputePassEncoder
	end := func(label string) error {
		err := pass.End()
		pass.Release()
		pass = nil
		if err != nil {
			return fmt.Errorf("gpu: %s: %v", label, oneLine(err.Error()))
		}
		return nil
	}
	for i, ds := range ds {
		if ds.copy != nil {
			if pass != nil {
				if err := end("compute pass"); err != nil {
					return err
				}
			}
			if err := ds.copy.encode(enc); err != nil {
				return fmt.Errorf("gpu: %s: copy to texture %s: %v", ds.Label, ds.copy.dst.Label, oneLine(err.Error()))
			}
		}
		if pass == nil {
			pass = enc.BeginComputePass(nil)
		}
		pass.SetPipeline(ds.Pipeline.p)
		pass.SetBindGroup(0, ds.bind, nil)
		pass.DispatchWorkgroups(ds.Groups[0], ds.Groups[1], ds.Groups[2])
		if each {
			if err := end(fmt.Sprintf("%s (kernel %s)", ds.Label, ds.Pipeline.Key)); err != nil {
				return err
			}
			if err := enc.WriteTimestamp(qs.set, uint32(i+1)); err != nil {
				return fmt.Errorf("gpu: timestamp: %v", err)
			}
		}
	}
	if pass != nil {
		return end("compute pass")
	}
	return nil
}

// submit finishes enc, submits it and waits for the queue to drain.
func (d *Device) submit(what string, enc *wgpu.CommandEncoder) error {
	cb, err := enc.Finish(nil)
	if err != nil {
		return fmt.Errorf("gpu: %s: %v", what, oneLine(err.Error()))
	}
	defer cb.Release()
	return d.scoped("gpu: "+what, func() error {
		d.queue.Submit(cb)
		d.wait()
		return nil
	})
}

// wait polls the device until its queue is empty. It does not ask wgpu to
// block (Poll(true)): blocking waits in Mesa's lavapipe return before the
// queue thread has finished, and wgpu then recycles command buffers that
// are still executing.
func (d *Device) wait() {
	spin(0, func() bool { return d.dev.Poll(false, nil) })
}

// spin calls step until it reports true: back to back for the first 2 ms
// (a sleep overshoots by tens of microseconds, which a one-image forward
// pass of a millisecond cannot afford), then with 20 µs sleeps in between,
// at most max times (0: no limit). It reports whether step succeeded.
func spin(max int, step func() bool) bool {
	start, busy := time.Now(), true
	for i := 0; max == 0 || i < max; i++ {
		if step() {
			return true
		}
		if busy && i%64 == 63 {
			busy = time.Since(start) < 2*time.Millisecond
		}
		if !busy {
			time.Sleep(20 * time.Microsecond)
		}
	}
	return false
}
