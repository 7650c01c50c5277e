// Package gpuexec is the GPU executor: it plans a graph's memory, uploads
// its parameters, compiles its kernels and records every dispatch once;
// each Run writes the inputs, replays the whole forward pass in one command
// buffer and one submission, and reads back only the graph's outputs.
package gpuexec

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Poison is the bit pattern (a NaN) written over activation buffers before
// a checked run: an element a kernel fails to write reads back as NaN.
const Poison uint32 = 0x7fc0dead

// Options tune an Executor.
type Options struct {
	// Guard adds this many float32 elements after every activation buffer;
	// they are poisoned before each run and checked after it, so an
	// out-of-bounds write fails the run. Guard > 0 also poisons the
	// activations themselves before each run.
	Guard int
	// ConvVariant picks the convolution kernel for a node; nil uses Choose.
	ConvVariant func(n *graph.Node) string
}

// Executor runs graphs on a GPU device.
type Executor struct {
	Dev *gpu.Device
	Opt Options
}

// New returns an executor on dev.
func New(dev *gpu.Device, opt Options) *Executor { return &Executor{Dev: dev, Opt: opt} }

// Name implements graph.Executor.
func (e *Executor) Name() string {
	return fmt.Sprintf("gpu: %s (%s)", e.Dev.Info.Name, e.Dev.Info.Backend)
}

// Step is one recorded dispatch with the node it computes.
type Step struct {
	Node     *graph.Node // nil for helper dispatches
	Dispatch *gpu.Dispatch
	Variant  string
}

// Program is a compiled graph on the GPU.
type Program struct {
	e       *Executor
	g       *graph.Graph
	Plan    *graph.Plan
	Steps   []Step
	slots   []*gpu.Buffer
	weights []*gpu.Buffer
	convs   map[*graph.Node]conv // each convolution's kernel, chosen once
	scratch [2]*gpu.Buffer       // between the launches of multi-launch convolutions (shaders.ConvLaunch)
	packed  [2]*gpu.Texture      // the input of texture-reading convolutions, copied and packed (ConvLaunch.Texels)
	texs    []*gpu.Texture       // weights of texture-reading convolutions
	replay  *gpu.Replay          // the forward pass, encoded one run ahead
}

// Compile implements graph.Executor.
func (e *Executor) Compile(g *graph.Graph) (graph.Program, error) { return e.CompileGPU(g) }

// CompileGPU is Compile returning the concrete program.
func (e *Executor) CompileGPU(g *graph.Graph) (*Program, error) {
	p := &Program{e: e, g: g, Plan: graph.NewPlan(g)}
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	for i, elems := range p.Plan.SlotElems {
		// whole texels, for copies into textures (ConvLaunch.InTexels)
		b, err := e.Dev.NewBuffer(fmt.Sprintf("activation%d", i), uint64(16*((elems+e.Opt.Guard+3)/4)))
		if err != nil {
			return nil, err
		}
		p.slots = append(p.slots, b)
	}
	if err := p.planConvs(); err != nil {
		return nil, err
	}
	for _, n := range g.Nodes {
		if err := p.record(n); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", n.Name, n, err)
		}
	}
	ok = true
	return p, nil
}

func (p *Program) slot(v *graph.Value) *gpu.Buffer { return p.slots[p.Plan.Slot[v.ID]] }

// conv is a convolution's chosen kernel variant and its launches.
type conv struct {
	variant string
	l       shaders.ConvLaunch
	op      *graph.Conv2D // the node's, or its Linear as a convolution (linearConv)
}

// linearConv returns node n's Linear as a 1×1 convolution of its N×In×1×1
// input on CPU adapters, where the direct4 kernel's texture reads beat the
// linear kernel's storage-buffer loads (llvmpipe loads those one lane at a
// time); nil elsewhere.
func (e *Executor) linearConv(n *graph.Node) *graph.Conv2D {
	op, ok := n.Op.(*graph.Linear)
	in := n.Inputs[0].Shape
	if !ok || e.Dev.Info.Type != "CPU" || len(in) != 4 || in[2] != 1 || in[3] != 1 {
		return nil
	}
	return &graph.Conv2D{Cin: op.In, Cout: op.Out, KH: 1, KW: 1, Stride: 1, Weight: op.Weight, Bias: op.Bias}
}

// planConvs chooses every convolution's kernel and allocates the scratch
// buffers and texture the multi-launch ones need, each as large as the
// largest use (one set serves all: the launches run one after another).
func (p *Program) planConvs() error {
	p.convs = map[*graph.Node]conv{}
	var elems [2]int
	texels := 0
	for _, n := range p.g.Nodes {
		var c conv
		var err error
		if op, ok := n.Op.(*graph.Conv2D); ok {
			c, err = p.e.chooseConv(n, op)
		} else if op := p.e.linearConv(n); op != nil {
			c.variant = shaders.ConvDirect4
			c.l, err = shaders.Conv2D(op, n.Inputs[0].Shape, c.variant, p.e.Dev.Limits.MaxWorkgroupsPerDimension)
			c.op = op
		} else {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %s: %w", n.Name, n, err)
		}
		p.convs[n] = c
		elems[0], elems[1] = max(elems[0], c.l.Scratch[0]), max(elems[1], c.l.Scratch[1])
		texels = max(texels, c.l.Texels)
	}
	for i := 0; i < 2 && texels > 0; i++ {
		t, err := p.e.Dev.NewTexture(fmt.Sprintf("packed%d", i), uint64(texels))
		if err != nil {
			return err
		}
		p.packed[i] = t
	}
	for i, e := range elems {
		if e > 0 {
			b, err := p.e.Dev.NewBuffer(fmt.Sprintf("scratch%d", i), uint64(4*e))
			if err != nil {
				return err
			}
			p.scratch[i] = b
		}
	}
	return nil
}

// chooseConv picks node n's convolution kernel: Options.ConvVariant's
// choice, else the adapter's default, which falls back to tiled64 where a
// multi-launch kernel's scratch would pass the adapter's buffer limits
// (e.g. Winograd's at a large batch).
func (e *Executor) chooseConv(n *graph.Node, op *graph.Conv2D) (conv, error) {
	max := e.Dev.Limits.MaxWorkgroupsPerDimension
	in := n.Inputs[0].Shape
	if e.Opt.ConvVariant != nil {
		if v := e.Opt.ConvVariant(n); v != "" {
			l, err := shaders.Conv2D(op, in, v, max)
			return conv{v, l, op}, err
		}
	}
	v := e.defaultChoice()(n)
	l, err := shaders.Conv2D(op, in, v, max)
	if err != nil || !fits(l, e.Dev.Limits) {
		v = shaders.ConvTiled64
		l, err = shaders.Conv2D(op, in, v, max)
	}
	return conv{v, l, op}, err
}

// upload copies float32 values into a new buffer.
func (p *Program) upload(label string, vals []float32) (*gpu.Buffer, error) {
	b, err := p.e.Dev.NewBuffer(label, uint64(4*len(vals)))
	if err != nil {
		return nil, err
	}
	p.weights = append(p.weights, b)
	return b, p.e.Dev.Write(b, 0, gpu.Bytes(vals))
}

// uploadTexture copies float32 values into a new texture.
func (p *Program) uploadTexture(label string, vals []float32) (*gpu.Texture, error) {
	t, err := p.e.Dev.NewTexture(label, uint64(len(vals)+3)/4)
	if err != nil {
		return nil, err
	}
	p.texs = append(p.texs, t)
	return t, p.e.Dev.WriteTexture(t, vals)
}

// orFill returns vals, or n copies of v when vals is nil (an absent scale
// or bias).
func orFill(vals []float32, n int, v float32) []float32 {
	if vals != nil {
		return vals
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// param is one named parameter array of a node.
type param struct {
	name string
	vals []float32
}

// params uploads node n's parameter arrays, in order.
func (p *Program) params(n *graph.Node, ps ...param) ([]*gpu.Buffer, error) {
	bufs := make([]*gpu.Buffer, len(ps))
	for i, pr := range ps {
		b, err := p.upload(n.Name+"."+pr.name, pr.vals)
		if err != nil {
			return nil, err
		}
		bufs[i] = b
	}
	return bufs, nil
}

// record compiles and records the dispatch of node n.
func (p *Program) record(n *graph.Node) error {
	d := p.e.Dev
	max := d.Limits.MaxWorkgroupsPerDimension
	in := n.Inputs[0].Shape
	var l shaders.Launch
	var bufs []gpu.Binding
	var err error
	variant := ""
	op := n.Op
	c, isConv := p.convs[n]
	if isConv {
		op = c.op // a Linear's convolution (linearConv)
	}
	switch op := op.(type) {
	case *graph.Conv2D:
		variant = c.variant
		cl := c.l
		w := op.Weight
		if cl.Weights != nil {
			w = cl.Weights(w)
		}
		ps, err := p.params(n, param{"scale", orFill(op.Scale, op.Cout, 1)}, param{"bias", orFill(op.Bias, op.Cout, 0)})
		if err != nil {
			return err
		}
		var wb, src, pre gpu.Binding = nil, p.slot(n.Inputs[0]), p.scratch[0]
		if cl.Texels > 0 {
			wb, err = p.uploadTexture(n.Name+".weight", w)
			src, pre = p.packed[0], p.packed[1]
		} else {
			wb, err = p.upload(n.Name+".weight", w)
		}
		if err != nil {
			return err
		}
		dst := p.slot(n.Out)
		res := p.slot(n.Inputs[0]) // unread without Residual
		if op.Residual {
			res = p.slot(n.Inputs[1])
		}
		if cl.Pre != nil {
			if err := p.add(n, variant, *cl.Pre, []gpu.Binding{src, pre}); err != nil {
				return err
			}
			if cl.Texels > 0 {
				if err := p.Steps[len(p.Steps)-1].Dispatch.CopyFirst(p.slot(n.Inputs[0]), p.packed[0], uint64(cl.InTexels)); err != nil {
					return err
				}
			}
			src = pre
		}
		if cl.Post != nil {
			dst = p.scratch[1]
		}
		l, bufs = cl.Launch, []gpu.Binding{src, wb, ps[0], ps[1], res, dst}
		if cl.Post != nil {
			if err := p.add(n, variant, cl.Launch, bufs); err != nil {
				return err
			}
			l, bufs = *cl.Post, []gpu.Binding{p.scratch[1], ps[0], ps[1], res, p.slot(n.Out)}
		}
	case graph.MaxPool:
		if l, err = shaders.MaxPool(op, in, max); err != nil {
			return err
		}
		bufs = []gpu.Binding{p.slot(n.Inputs[0]), p.slot(n.Out)}
	case graph.GlobalAvgPool:
		if l, err = shaders.GlobalAvgPool(in, max); err != nil {
			return err
		}
		bufs = []gpu.Binding{p.slot(n.Inputs[0]), p.slot(n.Out)}
	case *graph.Linear:
		if l, err = shaders.Linear(op, in, max); err != nil {
			return err
		}
		ps, err := p.params(n, param{"weight", op.Weight}, param{"bias", orFill(op.Bias, op.Out, 0)})
		if err != nil {
			return err
		}
		bufs = []gpu.Binding{p.slot(n.Inputs[0]), ps[0], ps[1], p.slot(n.Out)}
	case graph.Softmax:
		if l, err = shaders.Softmax(in, max); err != nil {
			return err
		}
		bufs = []gpu.Binding{p.slot(n.Inputs[0]), p.slot(n.Out)}
	case graph.ReLU:
		if l, err = shaders.Elementwise(shaders.ModeReLU, true, in, max); err != nil {
			return err
		}
		bufs = []gpu.Binding{p.slot(n.Inputs[0]), p.slot(n.Inputs[0]), p.slot(n.Out)} // b unread
	case graph.Add:
		if l, err = shaders.Elementwise(shaders.ModeAdd, op.ReLU, in, max); err != nil {
			return err
		}
		bufs = []gpu.Binding{p.slot(n.Inputs[0]), p.slot(n.Inputs[1]), p.slot(n.Out)}
	case *graph.BatchNorm:
		if l, err = shaders.Elementwise(shaders.ModeAffine, false, in, max); err != nil {
			return err
		}
		st := make([]float32, 2*in[1])
		for c := 0; c < in[1]; c++ {
			s := float64(op.Gamma[c]) / math.Sqrt(float64(op.Var[c])+op.Eps)
			st[c] = float32(s)
			st[in[1]+c] = float32(float64(op.Beta[c]) - float64(float64(op.Mean[c])*s))
		}
		ps, err := p.params(n, param{"affine", st})
		if err != nil {
			return err
		}
		bufs = []gpu.Binding{p.slot(n.Inputs[0]), ps[0], p.slot(n.Out)}
	default:
		return fmt.Errorf("gpuexec: unsupported op %s", n.Op.Kind())
	}
	return p.add(n, variant, l, bufs)
}

// add compiles l and records its dispatch as a step of node n.
func (p *Program) add(n *graph.Node, variant string, l shaders.Launch, bufs []gpu.Binding) error {
	pl, err := p.e.Dev.Pipeline(l.Key, l.Source)
	if err != nil {
		return err
	}
	ds, err := p.e.Dev.NewDispatch(n.Name, pl, l.Params, l.Groups, bufs...)
	if err != nil {
		return err
	}
	p.Steps = append(p.Steps, Step{Node: n, Dispatch: ds, Variant: variant})
	return nil
}

// fits reports whether l's scratch buffers are within the adapter's buffer
// limits.
func fits(l shaders.ConvLaunch, lim gpu.Limits) bool {
	for _, e := range l.Scratch {
		if n := 4 * uint64(e); n > lim.MaxBufferSize || n > lim.MaxStorageBufferBinding {
			return false
		}
	}
	return true
}

// defaultChoice is the untuned kernel choice for the executor's adapter.
func (e *Executor) defaultChoice() func(*graph.Node) string {
	if e.Dev.Info.Type == "CPU" {
		return ChooseCPU
	}
	return Choose
}

// Close implements graph.Program.
func (p *Program) Close() {
	p.replay.Release()
	p.replay = nil
	for _, s := range p.Steps {
		s.Dispatch.Release()
	}
	for _, b := range p.slots {
		b.Release()
	}
	for _, b := range p.weights {
		b.Release()
	}
	for _, t := range p.texs {
		t.Release()
	}
	p.scratch[0].Release()
	p.scratch[1].Release()
	p.packed[0].Release()
	p.packed[1].Release()
	p.Steps, p.slots, p.weights, p.scratch, p.packed, p.texs = nil, nil, nil, [2]*gpu.Buffer{}, [2]*gpu.Texture{}, nil
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

func (p *Program) run(profile bool, inputs [][]float32) ([][]float32, gpu.Timing, error) {
	d := p.e.Dev
	g := p.g
	if len(inputs) != len(g.Inputs) {
		return nil, gpu.Timing{}, fmt.Errorf("gpuexec: %d inputs, want %d", len(inputs), len(g.Inputs))
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
			return nil, gpu.Timing{}, fmt.Errorf("gpuexec: input %s has %d elements, want %d (%v)", v.Name, len(inputs[i]), v.Shape.Numel(), v.Shape)
		}
		writes = append(writes, gpu.Upload{Buf: p.slot(v), Data: gpu.Bytes(inputs[i])})
	}
	out := make([][]float32, len(g.Outputs))
	reads := make([]gpu.ReadBack, len(g.Outputs))
	for i, v := range g.Outputs {
		out[i] = make([]float32, v.Shape.Numel()+guard)
		reads[i] = gpu.ReadBack{Buf: p.slot(v), Dst: gpu.Bytes(out[i])}
	}
	var t gpu.Timing
	var err error
	if profile {
		t, err = d.RunWith(p.dispatches(), writes, reads, true)
	} else {
		if p.replay == nil {
			if p.replay, err = d.NewReplay(p.dispatches(), writes, reads); err != nil {
				return nil, t, err
			}
		}
		t, err = p.replay.Run(writes, reads)
	}
	if err != nil {
		return nil, t, err
	}
	for i, v := range g.Outputs {
		n := v.Shape.Numel()
		for k, x := range out[i][n:] {
			if bits := math.Float32bits(x); bits != Poison {
				return nil, t, fmt.Errorf("gpuexec: output %s: guard element %d past the end was overwritten (%#x)", v.Name, k, bits)
			}
		}
		out[i] = out[i][:n:n]
	}
	return out, t, nil
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
	t, err := p.e.Dev.Run(p.dispatches(), nil, false)
	return t.Wall, err
}

// CheckGuards reads back the guard region after every activation buffer
// (Options.Guard > 0) and reports the first one a kernel overwrote.
func (p *Program) CheckGuards() error {
	guard := p.e.Opt.Guard
	if guard == 0 {
		return nil
	}
	for i, b := range p.slots {
		raw, err := p.e.Dev.Read(b, b.Size-uint64(4*guard), uint64(4*guard))
		if err != nil {
			return err
		}
		for k := 0; k < guard; k++ {
			if bits := binary.LittleEndian.Uint32(raw[4*k:]); bits != Poison {
				return fmt.Errorf("gpuexec: guard element %d after activation buffer %d overwritten (%#x)", k, i, bits)
			}
		}
	}
	return nil
}

// ConvChooser returns the executor's convolution kernel choice (the one
// CompileGPU makes, a Linear's too where it runs as a convolution), so
// that tools timing single layers pick what the network runs.
func (e *Executor) ConvChooser() func(*graph.Node) string {
	return func(n *graph.Node) string {
		if e.linearConv(n) != nil {
			return shaders.ConvDirect4
		}
		op, ok := n.Op.(*graph.Conv2D)
		if !ok {
			return ""
		}
		c, _ := e.chooseConv(n, op)
		return c.variant
	}
}
