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
	// DValues holds the gradients of the values Options asked for, by
	// value ID.
	DValues map[int][]float32
	// DParams holds the gradients of every node's trainable parameters,
	// by node index, in Trainable's order.
	DParams [][][]float32
	// Bytes is the device memory of the pass's storage buffers: values,
	// gradients, parameters, constants and scratch. The pass is one
	// submission, so they all exist while it runs.
	Bytes uint64
}

// Options says what a pass reads back besides its output and the
// parameters' gradients, and how it holds its memory.
type Options struct {
	// DValues lists the values, by ID, whose gradients the Result holds;
	// AllDValues asks for every value's, graph inputs included.
	DValues    []int
	AllDValues bool
	// NoReuse gives every buffer memory of its own, as the executor did
	// before it reused memory: no buffer of a dead value or gradient
	// serves another, and the forward and the backward upload a parameter
	// each. It is for checking that the reuse changes no result.
	NoReuse bool
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
func (e *Executor) Backward(g *graph.Graph, values map[int][]float32, params [][][]float32, dout []float32, opt Options) (*Result, error) {
	return Backward(e.dev, g, values, params, dout, opt)
}

// Step runs Step on the executor's device.
func (e *Executor) Step(g *graph.Graph, dout []float32, opt Options, inputs ...[]float32) (*Result, error) {
	return Step(e.dev, g, dout, opt, inputs...)
}

// Backward runs g's backward pass on dev in one submission. values holds
// every value's forward result by value ID (the graph inputs and every
// node's output; with only the inputs', the submission runs the forward
// pass first, as Step); params every node's trainable parameters by node
// index (nil: the ops' own); dout the gradient at g's one output (1 for a
// loss); opt which value gradients to read back.
//
// A forward value's buffer lives until its last reader in the forward
// and, where the backward needs it (graph.GradNeeds), until that node's
// backward; a gradient's from its first writer to its last reader; dead
// buffers are reused. It is safe for concurrent use as far as dev is.
func Backward(dev *gpu.Device, g *graph.Graph, values map[int][]float32, params [][][]float32, dout []float32, opt Options) (*Result, error) {
	b := newBackward(dev, g, opt)
	defer b.release()
	if err := b.record(values, params, dout, opt); err != nil {
		return nil, err
	}
	return b.readBack()
}

// Step runs a whole training step of g on dev in one submission: the
// forward pass from inputs through the ops' own GPU lowerings (their
// parameters; convolutions through the general kernel), then the
// backward pass from the output gradient dout (1 for a loss), as
// Backward.
func Step(dev *gpu.Device, g *graph.Graph, dout []float32, opt Options, inputs ...[]float32) (*Result, error) {
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("gpugrad: %d inputs, want %d", len(inputs), len(g.Inputs))
	}
	values := map[int][]float32{}
	for i, v := range g.Inputs {
		values[v.ID] = inputs[i]
	}
	return Backward(dev, g, values, nil, dout, opt)
}

// backward is one backward pass being recorded.
type backward struct {
	dev       *gpu.Device
	g         *graph.Graph
	mem       *pool
	life      lives
	keep      map[int]bool        // the value IDs whose gradients are read back
	needs     []graph.GradNeeds   // by node
	val, grad map[int]*gpu.Buffer // by value ID, while live
	written   map[int]bool        // value gradients some node wrote
	param     [][]*gpu.Buffer     // by node, then parameter
	dparam    [][]*gpu.Buffer
	plen      [][]int
	ds        []*gpu.Dispatch
}

func newBackward(dev *gpu.Device, g *graph.Graph, opt Options) *backward {
	return &backward{dev: dev, g: g, val: map[int]*gpu.Buffer{}, grad: map[int]*gpu.Buffer{}, written: map[int]bool{},
		mem: &pool{dev: dev, noReuse: opt.NoReuse, shared: map[upKey]*gpu.Buffer{}}}
}

func (b *backward) release() {
	for _, d := range b.ds {
		d.Release()
	}
	b.mem.release()
}

// allValues returns every value of g, the inputs first, then the nodes'
// outputs in order.
func allValues(g *graph.Graph) []*graph.Value {
	all := append([]*graph.Value(nil), g.Inputs...)
	for _, n := range g.Nodes {
		all = append(all, n.Out)
	}
	return all
}

// kept returns the value IDs whose gradients opt reads back, checked
// against g.
func kept(g *graph.Graph, opt Options) (map[int]bool, error) {
	ids := map[int]bool{}
	for _, v := range allValues(g) {
		ids[v.ID] = opt.AllDValues
	}
	for _, id := range opt.DValues {
		if _, ok := ids[id]; !ok {
			return nil, fmt.Errorf("gpugrad: gradient of value %d asked for: the graph has no such value", id)
		}
		ids[id] = true
	}
	for id, k := range ids {
		if !k {
			delete(ids, id)
		}
	}
	return ids, nil
}

// StepBytes returns the Bytes of Step(dev, g, dout, opt, inputs…) for
// any dout and inputs: it records the step's launches and buffers without
// running them.
func StepBytes(dev *gpu.Device, g *graph.Graph, opt Options) (uint64, error) {
	values := map[int][]float32{}
	for _, v := range g.Inputs {
		values[v.ID] = make([]float32, v.Shape.Numel())
	}
	var dout []float32
	if len(g.Outputs) == 1 {
		dout = make([]float32, g.Outputs[0].Shape.Numel())
	}
	b := newBackward(dev, g, opt)
	defer b.release()
	if err := b.record(values, nil, dout, opt); err != nil {
		return 0, err
	}
	return b.mem.bytes, nil
}

// record uploads the pass's data and records its launches.
func (b *backward) record(values map[int][]float32, params [][][]float32, dout []float32, opt Options) error {
	g := b.g
	if len(g.Outputs) != 1 {
		return fmt.Errorf("gpugrad: %d outputs, want 1", len(g.Outputs))
	}
	if len(dout) != g.Outputs[0].Shape.Numel() {
		return fmt.Errorf("gpugrad: output gradient of %d elements for an output of shape %v", len(dout), g.Outputs[0].Shape)
	}
	if params != nil && len(params) != len(g.Nodes) {
		return fmt.Errorf("gpugrad: parameters for %d nodes, the graph has %d", len(params), len(g.Nodes))
	}
	var err error
	if b.keep, err = kept(g, opt); err != nil {
		return err
	}
	forward := len(values) == len(g.Inputs)
	if forward && params != nil {
		return errors.New("gpugrad: the forward pass runs on the ops' own parameters: pass no others")
	}
	for _, n := range g.Nodes {
		d, ok := n.Op.(graph.GPUDifferentiable)
		if !ok {
			return fmt.Errorf("gpugrad: %s: %s has no GPU gradient", n.Name, n.Op.Kind())
		}
		need := d.GradNeeds()
		for _, i := range need.In {
			if i < 0 || i >= len(n.Inputs) {
				return fmt.Errorf("gpugrad: %s: its backward needs input %d of %d", n.Name, i, len(n.Inputs))
			}
		}
		b.needs = append(b.needs, need)
	}
	b.life = lifetimes(g, b.needs, b.keep, forward)
	if err := b.load(values, forward); err != nil {
		return err
	}
	if err := b.params(params); err != nil {
		return err
	}
	out := g.Outputs[0]
	if b.grad[out.ID], err = b.mem.load(out.Name+".grad", dout); err != nil {
		return err
	}
	b.written[out.ID] = true
	if forward {
		for k, n := range g.Nodes {
			if b.val[n.Out.ID], err = b.mem.take(n.Out.Name, n.Out.Shape.Numel()); err != nil {
				return err
			}
			if err := b.forward(n); err != nil {
				return err
			}
			b.freeVals(fwdStep(k), n)
		}
	}
	for k := len(g.Nodes) - 1; k >= 0; k-- {
		if err := b.node(k); err != nil {
			return err
		}
	}
	return nil
}

// load uploads the given forward values: with forward, only the graph
// inputs are given; a value that nothing reads gets no buffer.
func (b *backward) load(values map[int][]float32, forward bool) error {
	for _, v := range allValues(b.g) {
		data, ok := values[v.ID]
		if forward && v.Producer != nil {
			continue
		}
		if !ok || len(data) != v.Shape.Numel() {
			return fmt.Errorf("gpugrad: value %s: %d forward values, want %d", v.Name, len(data), v.Shape.Numel())
		}
		if _, read := b.life.val[v.ID]; !read {
			continue
		}
		var err error
		if b.val[v.ID], err = b.mem.load(v.Name, data); err != nil {
			return err
		}
	}
	return nil
}

// params uploads every node's trainable parameters: params, or the ops'
// own if nil.
func (b *backward) params(params [][][]float32) error {
	for k, n := range b.g.Nodes {
		names, vals := n.Op.(graph.Differentiable).Trainable()
		if params != nil {
			if len(params[k]) != len(vals) {
				return fmt.Errorf("gpugrad: %s: %d parameter arrays, want %d", n.Name, len(params[k]), len(vals))
			}
			vals = params[k]
		}
		var ps []*gpu.Buffer
		var lens []int
		for i, v := range vals {
			lens = append(lens, len(v))
			p, err := b.mem.constant(n.Name+"."+names[i], v)
			if err != nil {
				return err
			}
			ps = append(ps, p)
		}
		b.param, b.plen = append(b.param, ps), append(b.plen, lens)
		b.dparam = append(b.dparam, make([]*gpu.Buffer, len(vals)))
	}
	return nil
}

// readBack submits the recorded launches and reads back the output, the
// gradients of the values b.keep names and those of the parameters.
func (b *backward) readBack() (*Result, error) {
	out := b.g.Outputs[0]
	res := &Result{Output: make([]float32, out.Shape.Numel()), DValues: map[int][]float32{}, DParams: make([][][]float32, len(b.g.Nodes))}
	reads := []gpu.ReadBack{{Buf: b.val[out.ID], Dst: gpu.Bytes(res.Output)}}
	for _, v := range allValues(b.g) {
		if !b.keep[v.ID] {
			continue
		}
		res.DValues[v.ID] = make([]float32, v.Shape.Numel())
		if d := b.grad[v.ID]; d != nil { // else no node reads v: its gradient is zero
			reads = append(reads, gpu.ReadBack{Buf: d, Dst: gpu.Bytes(res.DValues[v.ID])})
		}
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
	res.Bytes = b.mem.bytes
	return res, nil
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
