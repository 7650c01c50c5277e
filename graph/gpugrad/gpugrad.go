package gpugrad

import (
	"errors"
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Result is what one backward pass computes, as float32.
type Result struct {
	// Output is the graph's output (the loss) as the forward pass left it.
	Output []float32
	// DValues holds the gradient at every value, by value ID (graph
	// inputs included).
	DValues map[int][]float32
	// DParams holds the gradients of every node's trainable parameters,
	// by node index, in Trainable's order.
	DParams [][][]float32
}

// Executor runs backward passes on one device. It is safe for concurrent
// use as far as its device is.
type Executor struct{ dev *gpu.Device }

// New returns the executor of dev.
func New(dev *gpu.Device) *Executor { return &Executor{dev: dev} }

// Name describes the device.
func (e *Executor) Name() string {
	return fmt.Sprintf("gpu: %s (%s)", e.dev.Info.Name, e.dev.Info.Backend)
}

// Backward runs Backward on the executor's device.
func (e *Executor) Backward(g *graph.Graph, values map[int][]float32, params [][][]float32, dout []float32) (*Result, error) {
	return Backward(e.dev, g, values, params, dout)
}

// Step runs Step on the executor's device.
func (e *Executor) Step(g *graph.Graph, dout []float32, inputs ...[]float32) (*Result, error) {
	return Step(e.dev, g, dout, inputs...)
}

// Backward runs g's backward pass on dev in one submission. values holds
// every value's forward result by value ID (the graph inputs and every
// node's output; with only the inputs', the submission runs the forward
// pass first, as Step); params every node's trainable parameters by node
// index (nil: the ops' own); dout the gradient at g's one output (1 for a
// loss).
// It is safe for concurrent use as far as dev is.
func Backward(dev *gpu.Device, g *graph.Graph, values map[int][]float32, params [][][]float32, dout []float32) (*Result, error) {
	if len(g.Outputs) != 1 {
		return nil, fmt.Errorf("gpugrad: %d outputs, want 1", len(g.Outputs))
	}
	if len(dout) != g.Outputs[0].Shape.Numel() {
		return nil, fmt.Errorf("gpugrad: output gradient of %d elements for an output of shape %v", len(dout), g.Outputs[0].Shape)
	}
	if params != nil && len(params) != len(g.Nodes) {
		return nil, fmt.Errorf("gpugrad: parameters for %d nodes, the graph has %d", len(params), len(g.Nodes))
	}
	b := &backward{dev: dev, g: g, val: map[int]*gpu.Buffer{}, grad: map[int]*gpu.Buffer{}, written: map[int]bool{}}
	defer b.release()
	return b.run(values, params, dout)
}

// Step runs a whole training step of g on dev in one submission: the
// forward pass from inputs through the ops' own GPU lowerings (their
// parameters; convolutions through the general kernel) keeping every
// value, then the backward pass from the output gradient dout (1 for a
// loss).
func Step(dev *gpu.Device, g *graph.Graph, dout []float32, inputs ...[]float32) (*Result, error) {
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("gpugrad: %d inputs, want %d", len(inputs), len(g.Inputs))
	}
	values := map[int][]float32{}
	for i, v := range g.Inputs {
		values[v.ID] = inputs[i]
	}
	return Backward(dev, g, values, nil, dout)
}

// backward is one backward pass being recorded.
type backward struct {
	dev       *gpu.Device
	g         *graph.Graph
	val, grad map[int]*gpu.Buffer // by value ID
	written   map[int]bool        // value gradients some node wrote
	param     [][]*gpu.Buffer     // by node, then parameter
	dparam    [][]*gpu.Buffer
	plen      [][]int
	ds        []*gpu.Dispatch
	bufs      []gpu.Binding
}

func (b *backward) release() {
	for _, d := range b.ds {
		d.Release()
	}
	for _, x := range b.bufs {
		x.Release()
	}
}

// buffer returns a new buffer of n floats (rounded up to whole vec4s, as
// the copy kernel reads), holding v if given, else zeros.
func (b *backward) buffer(label string, n int, v []float32) (*gpu.Buffer, error) {
	x, err := b.dev.NewBuffer(label, shaders.CopyBytes(max(n, 1)))
	if err != nil {
		return nil, err
	}
	b.bufs = append(b.bufs, x)
	if len(v) > 0 {
		if err := b.dev.Write(x, 0, gpu.Bytes(v)); err != nil {
			return nil, err
		}
	}
	return x, nil
}

func (b *backward) run(values map[int][]float32, params [][][]float32, dout []float32) (*Result, error) {
	g := b.g
	all := append([]*graph.Value(nil), g.Inputs...)
	for _, n := range g.Nodes {
		all = append(all, n.Out)
	}
	forward := len(values) == len(g.Inputs)
	for _, v := range all {
		data, ok := values[v.ID]
		if forward && !ok {
			data = nil
		} else if !ok || len(data) != v.Shape.Numel() {
			return nil, fmt.Errorf("gpugrad: value %s: %d forward values, want %d", v.Name, len(data), v.Shape.Numel())
		}
		var err error
		if b.val[v.ID], err = b.buffer(v.Name, v.Shape.Numel(), data); err != nil {
			return nil, err
		}
		if b.grad[v.ID], err = b.buffer(v.Name+".grad", v.Shape.Numel(), nil); err != nil {
			return nil, err
		}
	}
	if forward {
		if params != nil {
			return nil, errors.New("gpugrad: the forward pass runs on the ops' own parameters: pass no others")
		}
		for _, n := range g.Nodes {
			if err := b.forward(n); err != nil {
				return nil, err
			}
		}
	}
	out := g.Outputs[0]
	if err := b.dev.Write(b.grad[out.ID], 0, gpu.Bytes(dout)); err != nil {
		return nil, err
	}
	b.written[out.ID] = true
	for k, n := range g.Nodes {
		d, ok := n.Op.(graph.GPUDifferentiable)
		if !ok {
			return nil, fmt.Errorf("gpugrad: %s: %s has no GPU gradient", n.Name, n.Op.Kind())
		}
		names, vals := d.Trainable()
		if params != nil {
			if len(params[k]) != len(vals) {
				return nil, fmt.Errorf("gpugrad: %s: %d parameter arrays, want %d", n.Name, len(params[k]), len(vals))
			}
			vals = params[k]
		}
		var ps, dps []*gpu.Buffer
		var lens []int
		for i, v := range vals {
			lens = append(lens, len(v))
			p, err := b.buffer(n.Name+"."+names[i], len(v), v)
			if err != nil {
				return nil, err
			}
			dp, err := b.buffer(n.Name+"."+names[i]+".grad", len(v), nil)
			if err != nil {
				return nil, err
			}
			ps, dps = append(ps, p), append(dps, dp)
		}
		b.param, b.dparam, b.plen = append(b.param, ps), append(b.dparam, dps), append(b.plen, lens)
	}
	for k := len(g.Nodes) - 1; k >= 0; k-- {
		if err := b.node(k); err != nil {
			return nil, err
		}
	}
	res := &Result{Output: make([]float32, out.Shape.Numel()), DValues: map[int][]float32{}, DParams: make([][][]float32, len(g.Nodes))}
	reads := []gpu.ReadBack{{Buf: b.val[out.ID], Dst: gpu.Bytes(res.Output)}}
	for _, v := range all {
		res.DValues[v.ID] = make([]float32, v.Shape.Numel())
		reads = append(reads, gpu.ReadBack{Buf: b.grad[v.ID], Dst: gpu.Bytes(res.DValues[v.ID])})
	}
	for k, dps := range b.dparam {
		for i, dp := range dps {
			res.DParams[k] = append(res.DParams[k], make([]float32, b.plen[k][i]))
			reads = append(reads, gpu.ReadBack{Buf: dp, Dst: gpu.Bytes(res.DParams[k][i])})
		}
	}
	if _, err := b.dev.Run(b.ds, reads, false); err != nil {
		return nil, err
	}
	return res, nil
}

// node records node k's backward launches and then adds the gradients it
// wrote to scratch buffers into those of values an earlier-recorded node
// (a later reader) already wrote.
func (b *backward) node(k int) error {
	n := b.g.Nodes[k]
	l := &lowerer{b: b, k: k, din: map[int]*gpu.Buffer{}, acc: map[int]*gpu.Buffer{}, scratch: map[int]*gpu.Buffer{}}
	if err := n.Op.(graph.GPUDifferentiable).LowerGrad(l, n.InShapes(), n.Out.Shape); err != nil {
		return fmt.Errorf("gpugrad: %s: %w", n.Name, err)
	}
	if l.err != nil {
		return fmt.Errorf("gpugrad: %s: %w", n.Name, l.err)
	}
	for i, v := range n.Inputs {
		if _, ok := l.din[i]; !ok {
			return fmt.Errorf("gpugrad: %s: the backward launches leave input %d's gradient unwritten", n.Name, i)
		}
		if t, ok := l.acc[i]; ok {
			k, err := shaders.Accumulate(v.Shape.Numel(), b.dev.Caps().MaxWorkgroupsPerDimension)
			if err != nil {
				return err
			}
			if err := b.launch(n.Name+".accumulate", k, gpu.Binds{"src": t, "dst": b.grad[v.ID]}); err != nil {
				return err
			}
		}
		b.written[v.ID] = true
	}
	return nil
}

// launch records one dispatch.
func (b *backward) launch(label string, k shaders.Launch, binds gpu.Binds) error {
	p, err := b.dev.Pipeline(k.Key, k.Source)
	if err != nil {
		return err
	}
	d, err := b.dev.Bind(label, p, k.Params, k.Groups, binds)
	if err != nil {
		return err
	}
	b.ds = append(b.ds, d)
	return nil
}

// lowerer is the graph.GradLowerer of node k.
type lowerer struct {
	b       *backward
	k       int
	din     map[int]*gpu.Buffer // input i's gradient as this node writes it
	acc     map[int]*gpu.Buffer // … where that is a scratch buffer to add to the value's
	scratch map[int]*gpu.Buffer
	err     error
}

// Caps implements graph.GradLowerer.
func (l *lowerer) Caps() gpu.Caps { return l.b.dev.Caps() }

// Launch implements graph.GradLowerer.
func (l *lowerer) Launch(k shaders.Launch, binds map[string]graph.GradRes) {
	if l.err != nil {
		return
	}
	n := l.b.g.Nodes[l.k]
	gb := gpu.Binds{}
	for name, r := range binds {
		buf, err := l.resolve(n, r)
		if err != nil {
			l.err = fmt.Errorf("%s binding %q: %w", k.Key.Kernel, name, err)
			return
		}
		gb[name] = buf
	}
	l.err = l.b.launch(n.Name+"."+k.Key.Kernel, k, gb)
}

func (l *lowerer) resolve(n *graph.Node, r graph.GradRes) (*gpu.Buffer, error) {
	b := l.b
	inRange := func(i, m int) error {
		if i < 0 || i >= m {
			return fmt.Errorf("index %d out of range [0, %d)", i, m)
		}
		return nil
	}
	switch r.Kind {
	case graph.GradIn:
		if err := inRange(r.Index, len(n.Inputs)); err != nil {
			return nil, err
		}
		return b.val[n.Inputs[r.Index].ID], nil
	case graph.GradOut:
		return b.val[n.Out.ID], nil
	case graph.GradDOut:
		return b.grad[n.Out.ID], nil
	case graph.GradDIn:
		if err := inRange(r.Index, len(n.Inputs)); err != nil {
			return nil, err
		}
		if d, ok := l.din[r.Index]; ok {
			return d, nil
		}
		v := n.Inputs[r.Index]
		d := b.grad[v.ID]
		if b.written[v.ID] || l.claimed(d) { // another reader's gradient is there: add to it
			t, err := b.buffer(fmt.Sprintf("%s.dx%d", n.Name, r.Index), v.Shape.Numel(), nil)
			if err != nil {
				return nil, err
			}
			d, l.acc[r.Index] = t, t
		}
		l.din[r.Index] = d
		return d, nil
	case graph.GradParam, graph.GradDParam:
		if err := inRange(r.Index, len(b.param[l.k])); err != nil {
			return nil, err
		}
		if r.Kind == graph.GradParam {
			return b.param[l.k][r.Index], nil
		}
		return b.dparam[l.k][r.Index], nil
	case graph.GradConst:
		return b.buffer(n.Name+".const", len(r.Vals), r.Vals)
	case graph.GradScratch:
		if s, ok := l.scratch[r.Index]; ok {
			return s, nil
		}
		if r.N < 1 {
			return nil, errors.New("scratch buffer of no elements")
		}
		s, err := b.buffer(fmt.Sprintf("%s.scratch%d", n.Name, r.Index), r.N, nil)
		if err != nil {
			return nil, err
		}
		l.scratch[r.Index] = s
		return s, nil
	}
	return nil, fmt.Errorf("unknown resource kind %d", r.Kind)
}

// claimed reports whether this node already writes d as another input's
// gradient (a value read twice, as in Add(x, x)).
func (l *lowerer) claimed(d *gpu.Buffer) bool {
	for _, x := range l.din {
		if x == d {
			return true
		}
	}
	return false
}
