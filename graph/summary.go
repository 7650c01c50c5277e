package graph

// ParamCounter is implemented by ops whose Params hold more than the
// learned parameters PyTorch counts: batch-norm's running statistics, which
// PyTorch keeps as buffers, and a convolution's stand-ins for an absent
// scale or bias. Summarize counts len(Params()) for other ops.
type ParamCounter interface {
	// NumParams is the number of learned parameters, as
	// sum(p.numel() for p in model.parameters()) counts them.
	NumParams() int
}

// MulAdder is implemented by the ops that are made of multiply-adds, the
// convolutions and linear layers whose count of them is a network's
// "MACs", as torchvision and torchinfo report it. Summarize counts no
// multiply-adds for other ops (element-wise ops, pooling, views).
type MulAdder interface {
	// MACs is the number of multiply-adds on inputs of shapes in.
	MACs(in []Shape, out Shape) int64
}

// Layer is one node of a summarised graph.
type Layer struct {
	Name   string `json:"name"`   // the node name, e.g. "layer1.0.conv1"
	Kind   string `json:"kind"`   // the op kind, e.g. "conv2d"
	Attrs  string `json:"attrs"`  // the op's attributes (Op.Describe), e.g. "c=64,o=64,k=3x3,s=1,p=1"
	Out    Shape  `json:"out"`    // the output shape
	Params int64  `json:"params"` // learned parameters (see ParamCounter)
	MACs   int64  `json:"macs"`   // multiply-adds (see MulAdder)
}

// Summary is a graph layer by layer with its totals, like PyTorch's
// print(model) together with torchinfo's summary. Sizes are in bytes of
// float32 values.
type Summary struct {
	Inputs []Shape `json:"inputs"` // the shapes of the graph inputs
	Layers []Layer `json:"layers"` // one per node, in graph order
	Params int64   `json:"params"` // the sum of the layers' Params
	MACs   int64   `json:"macs"`   // the sum of the layers' MACs
	// InputBytes is the size of the graph inputs.
	InputBytes int64 `json:"input_bytes"`
	// ActivationBytes is the size of every layer's output but those of
	// views (Flatten), which are their input's memory: what the graph
	// would hold if no activation were ever freed.
	ActivationBytes int64 `json:"activation_bytes"`
	// PeakBytes is the memory planner's activation memory (Plan.PeakBytes,
	// inputs and outputs included) for the optimised graph, with batch-norm
	// folded and element-wise ops fused.
	PeakBytes int64 `json:"peak_bytes"`
}

// Summarize lists g's nodes with their output shapes, parameter counts and
// multiply-adds, and totals them. g is typically the unoptimised graph a
// model builder returns, whose nodes are PyTorch's modules one for one; it
// is left as it is (the planner's peak is that of an optimised clone).
func Summarize(g *Graph) Summary {
	s := Summary{}
	for _, v := range g.Inputs {
		s.Inputs = append(s.Inputs, v.Shape.Clone())
		s.InputBytes += 4 * int64(v.Shape.Numel())
	}
	for _, n := range g.Nodes {
		l := Layer{Name: n.Name, Kind: n.Op.Kind(), Attrs: n.Op.Describe(), Out: n.Out.Shape.Clone(), Params: numParams(n.Op)}
		if m, ok := n.Op.(MulAdder); ok {
			l.MACs = m.MACs(n.InShapes(), n.Out.Shape)
		}
		s.Layers = append(s.Layers, l)
		s.Params += l.Params
		s.MACs += l.MACs
		if !isView(n.Op) {
			s.ActivationBytes += 4 * int64(n.Out.Shape.Numel())
		}
	}
	opt := g.Clone()
	Optimize(opt)
	s.PeakBytes = NewPlan(opt).PeakBytes()
	return s
}

// numParams is op's count of learned parameters.
func numParams(op Op) int64 {
	if c, ok := op.(ParamCounter); ok {
		return int64(c.NumParams())
	}
	var n int64
	for _, p := range op.Params() {
		n += int64(len(p))
	}
	return n
}
