package gpuexec

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
)

// Step is one recorded dispatch with the node it computes.
type Step struct {
	Node     *graph.Node
	Dispatch *gpu.Dispatch
	Variant  string // the convolution kernel, for convolutions
}

// Program is a compiled graph on the GPU. It is safe for concurrent use:
// runs take turns on the device, and up to two of them (see Start) are in
// flight at once.
type Program struct {
	e       *Executor
	g       *graph.Graph
	Plan    *graph.Plan
	Steps   []Step
	slots   []*gpu.Buffer   // the plan's buffers: graph inputs' and outputs' own, then the arenas
	scratch [2]*gpu.Buffer  // between the launches of multi-launch convolutions
	packed  [2]*gpu.Texture // the input of texture-reading convolutions, copied and packed
	wkeys   []weightKey     // the executor's parameters this program holds

	mu     sync.Mutex
	replay *gpu.Replay // the forward pass, encoded one run ahead in each of its two slots
}

// Compile implements graph.Executor.
func (e *Executor) Compile(g *graph.Graph) (graph.Program, error) { return e.CompileGPU(g) }

// CompileGPU is Compile returning the concrete program. It leaves g as it
// is: the device's rewrites (graph.LinearAsConv on CPU adapters,
// graph.FusePreActivation) apply to a clone.
func (e *Executor) CompileGPU(g *graph.Graph) (*Program, error) {
	if e.Opt.Tuner != nil {
		e.Opt.Tuner.Tune(g)
	}
	g = e.forDevice(g)
	plan, err := graph.NewPlanFor(g, graph.PlanOptions{
		Align:      int(e.caps.MinStorageOffsetAlignment),
		MaxBuffer:  int64(min(e.caps.MaxBufferSize, 1<<62)),
		MaxBinding: int64(min(e.caps.MaxStorageBufferBinding, 1<<62)),
		Guard:      e.Opt.Guard,
	})
	if err != nil {
		return nil, err
	}
	p := &Program{e: e, g: g, Plan: plan}
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	steps, elems, texels, err := e.lower(g, p.Plan)
	if err != nil {
		return nil, err
	}
	if err := p.allocate(elems, texels); err != nil {
		return nil, err
	}
	for _, s := range steps {
		if err := p.record(s); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", s.node.Name, s.node, err)
		}
	}
	ok = true
	return p, nil
}

// Graph is the graph the program runs: the compiled one with the
// device's rewrites applied, which its Plan and Steps describe.
func (p *Program) Graph() *graph.Graph { return p.g }

// allocate creates the plan's buffers and the scratches.
func (p *Program) allocate(elems [2]int, texels int) error {
	d := p.e.Dev
	for i, n := range p.Plan.BufferElems {
		b, err := d.NewBuffer(fmt.Sprintf("activation%d", i), uint64(4*n))
		if err != nil {
			return err
		}
		p.slots = append(p.slots, b)
	}
	for i := 0; i < 2 && texels > 0; i++ {
		t, err := d.NewTexture(fmt.Sprintf("packed%d", i), uint64(texels))
		if err != nil {
			return err
		}
		p.packed[i] = t
	}
	for i, n := range elems {
		if n > 0 {
			b, err := d.NewBuffer(fmt.Sprintf("scratch%d", i), uint64(4*n))
			if err != nil {
				return err
			}
			p.scratch[i] = b
		}
	}
	return nil
}

// slot is the buffer v lies in: for a graph input or output, its own.
func (p *Program) slot(v *graph.Value) *gpu.Buffer { return p.slots[p.Plan.Buffer[v.ID]] }

// region is what a dispatch binds for v: its tree's region, guard
// elements included (whole float quadruples, for copies into textures).
func (p *Program) region(v *graph.Value) gpu.Region {
	r := p.Plan.Region[v.ID]
	return gpu.Region{Buf: p.slot(v), Offset: 4 * uint64(r.Off), Size: 4 * uint64(r.Size)}
}

// resolve returns the device binding b names for node n.
func (p *Program) resolve(n *graph.Node, b binding) (gpu.Binding, error) {
	switch b.scr {
	case scratch0, scratch1:
		return p.scratch[b.scr-scratch0], nil
	case packed0, packed1:
		return p.packed[b.scr-packed0], nil
	}
	switch r := b.res; r.Kind {
	case graph.ResIn:
		if r.Index < 0 || r.Index >= len(n.Inputs) {
			return nil, fmt.Errorf("binds input %d of %d", r.Index, len(n.Inputs))
		}
		return p.region(n.Inputs[r.Index]), nil
	case graph.ResOut:
		return p.region(n.Out), nil
	case graph.ResParam:
		w, k, err := p.e.param(n.Name+"."+r.Name, r, b.xf, b.tag, b.tex)
		if err != nil {
			return nil, err
		}
		p.wkeys = append(p.wkeys, k)
		return w, nil
	}
	return nil, fmt.Errorf("unknown resource kind %d", b.res.Kind)
}

// record compiles a step's kernel and records its dispatch.
func (p *Program) record(s step) error {
	binds := gpu.Binds{}
	for name, b := range s.binds {
		r, err := p.resolve(s.node, b)
		if err != nil {
			return fmt.Errorf("binding %s: %w", name, err)
		}
		binds[name] = r
	}
	pl, err := p.e.Dev.Pipeline(s.l.Key, s.l.Source)
	if err != nil {
		return err
	}
	ds, err := p.e.Dev.Bind(s.node.Name, pl, s.l.Params, s.l.Groups, binds)
	if err != nil {
		return err
	}
	p.Steps = append(p.Steps, Step{Node: s.node, Dispatch: ds, Variant: s.variant})
	if s.inTexels > 0 {
		return ds.CopyFirst(p.region(s.node.Inputs[0]), p.packed[0], uint64(s.inTexels))
	}
	return nil
}

// Close implements graph.Program.
func (p *Program) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.replay.Release()
	p.replay = nil
	for _, s := range p.Steps {
		s.Dispatch.Release()
	}
	for _, b := range p.slots {
		b.Release()
	}
	p.e.unref(p.wkeys)
	p.scratch[0].Release()
	p.scratch[1].Release()
	p.packed[0].Release()
	p.packed[1].Release()
	p.Steps, p.slots, p.wkeys, p.scratch, p.packed = nil, nil, nil, [2]*gpu.Buffer{}, [2]*gpu.Texture{}
}

// Run implements graph.Program.
func (p *Program) Run(inputs ...[]float32) ([][]float32, error) {
	out, _, err := p.run(false, inputs)
	return out, err
}

// RunTimed is Run with the run's timing: wall time and, on adapters with
// timestamps, the GPU time of the dispatches.
func (p *Program) RunTimed(inputs ...[]float32) ([][]float32, gpu.Timing, error) {
	return p.run(false, inputs)
}

// RunProfiled is Run with per-dispatch GPU times (on adapters with
// timestamps; Timing.Spans is empty otherwise), in the order of Steps.
func (p *Program) RunProfiled(inputs ...[]float32) ([][]float32, gpu.Timing, error) {
	return p.run(true, inputs)
}

// Pending is a run that Start submitted. Its methods are safe for
// concurrent use.
type Pending struct {
	p   *Program
	run *gpu.Pending
	out [][]float32 // the outputs with their guard regions, filled by the run
}

// Start implements graph.Program: it uploads the inputs, submits the run
// and returns while the GPU executes it. Two runs of a program can be in
// flight; a third Start waits for the oldest.
func (p *Program) Start(inputs ...[]float32) (graph.Pending, error) { return p.start(inputs) }

// start is Start returning the concrete Pending.
func (p *Program) start(inputs [][]float32) (*Pending, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	writes, reads, out, err := p.transfers(inputs)
	if err != nil {
		return nil, err
	}
	if p.replay == nil {
		if p.replay, err = p.e.Dev.NewReplay(p.dispatches(), writes, reads); err != nil {
			return nil, err
		}
	}
	run, err := p.replay.Start(writes, reads)
	if err != nil {
		return nil, err
	}
	return &Pending{p: p, run: run, out: out}, nil
}

// Wait implements graph.Pending.
func (w *Pending) Wait() ([][]float32, error) {
	out, _, err := w.WaitTimed()
	return out, err
}

// WaitTimed is Wait with the run's timing (see RunTimed); Timing.Wall
// counts from Start.
func (w *Pending) WaitTimed() ([][]float32, gpu.Timing, error) {
	t, err := w.run.Wait()
	if err != nil {
		return nil, t, err
	}
	out, err := w.p.unguard(w.out)
	return out, t, err
}

func (p *Program) run(profile bool, inputs [][]float32) ([][]float32, gpu.Timing, error) {
	if !profile {
		w, err := p.start(inputs)
		if err != nil {
			return nil, gpu.Timing{}, err
		}
		return w.WaitTimed()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	writes, reads, out, err := p.transfers(inputs)
	if err != nil {
		return nil, gpu.Timing{}, err
	}
	t, err := p.e.Dev.RunWith(p.dispatches(), writes, reads, true)
	if err != nil {
		return nil, t, err
	}
	out, err = p.unguard(out)
	return out, t, err
}

// transfers checks a run's inputs and returns its uploads (with the
// activation buffers' poison when Options.Guard is set), its read-backs and
// the outputs they fill, each with its guard region; p.mu is held.
func (p *Program) transfers(inputs [][]float32) ([]gpu.Upload, []gpu.ReadBack, [][]float32, error) {
	g := p.g
	if len(inputs) != len(g.Inputs) {
		return nil, nil, nil, fmt.Errorf("gpuexec: %d inputs, want %d", len(inputs), len(g.Inputs))
	}
	if p.slots == nil {
		return nil, nil, nil, fmt.Errorf("gpuexec: run of a closed program")
	}
	guard := p.e.Opt.Guard
	var writes []gpu.Upload
	if guard > 0 {
		for _, b := range p.slots {
			writes = append(writes, gpu.Upload{Buf: b, Data: poison(int(b.Size / 4))})
		}
	}
	for i, v := range g.Inputs {
		if len(inputs[i]) != v.Shape.Numel() {
			return nil, nil, nil, fmt.Errorf("gpuexec: input %s has %d elements, want %d (%v)", v.Name, len(inputs[i]), v.Shape.Numel(), v.Shape)
		}
		writes = append(writes, gpu.Upload{Buf: p.slot(v), Data: gpu.Bytes(inputs[i])})
	}
	out := make([][]float32, len(g.Outputs))
	reads := make([]gpu.ReadBack, len(g.Outputs))
	for i, v := range g.Outputs {
		out[i] = make([]float32, v.Shape.Numel()+guard)
		reads[i] = gpu.ReadBack{Buf: p.slot(v), Dst: gpu.Bytes(out[i])}
	}
	return writes, reads, out, nil
}

// unguard checks that the guard region after each output still holds the
// poison and returns the outputs without it.
func (p *Program) unguard(out [][]float32) ([][]float32, error) {
	for i, v := range p.g.Outputs {
		n := v.Shape.Numel()
		for k, x := range out[i][n:] {
			if bits := math.Float32bits(x); bits != Poison {
				return nil, fmt.Errorf("gpuexec: output %s: guard element %d past the end was overwritten (%#x)", v.Name, k, bits)
			}
		}
		out[i] = out[i][:n:n]
	}
	return out, nil
}

func poison(n int) []byte {
	out := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(out[4*i:], Poison)
	}
	return out
}

// dispatches returns the recorded dispatches in order.
func (p *Program) dispatches() []*gpu.Dispatch {
	ds := make([]*gpu.Dispatch, len(p.Steps))
	for i, s := range p.Steps {
		ds[i] = s.Dispatch
	}
	return ds
}

// Time runs the program's dispatches without input or output transfers and
// returns the wall time, waiting for the GPU; for benchmarks.
func (p *Program) Time() (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, err := p.e.Dev.Run(p.dispatches(), nil, false)
	return t.Wall, err
}

// CheckGuards reads back the guard elements after every region of the
// plan (Options.Guard > 0), which no kernel writes, and reports the first
// one a kernel overwrote.
func (p *Program) CheckGuards() error {
	guard := p.e.Opt.Guard
	if guard == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	type at struct {
		buf int
		r   graph.Region
	}
	var where []at
	var reads []gpu.ReadBack
	name := map[at]string{} // the first value of the region not placed in a concatenation: its tree's top
	for _, v := range p.values() {
		w := at{p.Plan.Buffer[v.ID], p.Plan.Region[v.ID]}
		if _, seen := name[w]; !seen {
			where = append(where, w)
			reads = append(reads, gpu.ReadBack{Buf: p.slots[w.buf], Offset: 4 * uint64(w.r.Off+w.r.Elems), Dst: make([]byte, 4*guard)})
			name[w] = ""
		}
		if _, placed := p.Plan.Placed[v.ID]; !placed && name[w] == "" {
			name[w] = v.Name
		}
	}
	if err := p.e.Dev.ReadInto(reads); err != nil {
		return err
	}
	for i, rd := range reads {
		for k := 0; k < guard; k++ {
			if bits := binary.LittleEndian.Uint32(rd.Dst[4*k:]); bits != Poison {
				w := where[i]
				return fmt.Errorf("gpuexec: guard element %d after %s (activation buffer %d, elements %d–%d) overwritten (%#x)", k, name[w], w.buf, w.r.Off, w.r.Off+w.r.Elems, bits)
			}
		}
	}
	return nil
}

// values lists the graph's inputs and the nodes' outputs.
func (p *Program) values() []*graph.Value {
	vs := append([]*graph.Value{}, p.g.Inputs...)
	for _, n := range p.g.Nodes {
		vs = append(vs, n.Out)
	}
	return vs
}

// Kernels lists the convolution kernels the program's steps run, each
// once, in order of first use.
func (p *Program) Kernels() []string {
	var out []string
	for _, s := range p.Steps {
		if s.Variant != "" && !slices.Contains(out, s.Variant) {
			out = append(out, s.Variant)
		}
	}
	return out
}
