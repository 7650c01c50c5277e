package onnx

import (
	"errors"
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/onnx/onnxpb"
)

// ops maps each supported operator to the function that imports a node
// of it: into graph ops (ops.go) or, on constants, into a constant
// (fold.go).
var ops = map[string]func(*node) error{
	"Conv":               conv,
	"BatchNormalization": batchNorm,
	"Relu":               relu,
	"Clip":               clip,
	"MaxPool":            maxPool,
	"AveragePool":        avgPool,
	"GlobalAveragePool":  globalAvgPool,
	"Add":                arith,
	"Sub":                arith,
	"Mul":                arith,
	"Div":                arith,
	"Sum":                sum,
	"Concat":             concat,
	"Flatten":            flatten,
	"Reshape":            reshape,
	"Gemm":               gemm,
	"MatMul":             matmul,
	"Softmax":            softmax,
	"Pad":                pad,
	"Identity":           identity,
	"Dropout":            dropout,
	"Constant":           constant,
	"ConstantOfShape":    constantOfShape,
	"Shape":              shape,
	"Gather":             gather,
	"Unsqueeze":          unsqueeze,
	"Squeeze":            squeeze,
	"Slice":              slice,
	"Cast":               cast,
	"Transpose":          transpose,
}

// val is what an ONNX value name stands for while a graph is built: a
// graph value (with the batch on axis 0), a constant, or a zero Pad of a
// graph value that waits for the Conv or AveragePool reading it.
type val struct {
	v   *graph.Value
	c   *tensor
	pad *padded
}

// padded is src padded with zeros: top, left, bottom, right.
type padded struct {
	src  *graph.Value
	pads [4]int
}

// builder builds one graph from a Model.
type builder struct {
	m      *Model
	b      graph.Builder
	vals   map[string]*val
	names  map[*graph.Value]int // value names bound to each graph value
	budget int                  // elements that folding constants may still allocate
	final  *onnxpb.NodeProto    // the softmax computing the output, if any
}

// build returns the graph of m for an input of shape in.
func (m *Model) build(in graph.Shape, softmax bool) (g *graph.Graph, err error) {
	defer func() {
		if p := recover(); p != nil {
			g, err = nil, fmt.Errorf("internal error importing the model: %v", p)
		}
	}()
	b := &builder{m: m, vals: map[string]*val{}, names: map[*graph.Value]int{}, budget: m.elems + 1<<24}
	b.bind(m.Input, &val{v: b.b.Input(m.Input, in)})
	if last := m.nodes[len(m.nodes)-1]; last.OpType == "Softmax" && m.uses[m.Output] == 1 {
		b.final = last
	}
	for _, p := range m.nodes {
		n := &node{NodeProto: p, b: b, index: m.index[p], read: map[string]bool{}}
		if err := n.run(); err != nil {
			return nil, err
		}
	}
	out := b.vals[m.Output]
	if out == nil || out.v == nil {
		return nil, fmt.Errorf("output %q is not computed from the input", m.Output)
	}
	b.b.Output(out.v)
	if softmax {
		b.b.Output(b.b.Apply("softmax", graph.Softmax{}, out.v))
	}
	return b.b.Graph()
}

// bind makes name stand for v.
func (b *builder) bind(name string, v *val) {
	b.vals[name] = v
	if v.v != nil {
		b.names[v.v]++
	}
}

// get returns what name stands for: a value computed so far or an
// initializer.
func (b *builder) get(name string) *val {
	if v, ok := b.vals[name]; ok {
		return v
	}
	if c, ok := b.m.consts[name]; ok {
		return &val{c: c}
	}
	return nil
}

// sole reports whether the graph value v, called name, has no reader but
// the node about to use it, so that its producer may absorb that node.
func (b *builder) sole(name string, v *graph.Value) bool {
	return b.m.uses[name] == 1 && b.names[v] == 1 && name != b.m.Output
}

// node is one ONNX node being imported. Like graph.Builder it keeps the
// first error: the accessors then return zero values and run reports it.
type node struct {
	*onnxpb.NodeProto
	b     *builder
	index int
	read  map[string]bool // attributes read
	err   error
}

// run imports the node and checks that it read every attribute and that
// no later node reads an output it did not set.
func (n *node) run() error {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return n.errorf("operator domain %q is not supported", n.Domain)
	}
	f, ok := ops[n.OpType]
	if !ok {
		return n.errorf("operator %s is not supported", n.OpType)
	}
	if err := f(n); err != nil {
		return err
	}
	if n.err != nil {
		return n.err
	}
	for _, a := range n.Attribute {
		if !n.read[a.Name] {
			return n.errorf("attribute %q is not supported", a.Name)
		}
	}
	for i, o := range n.Output {
		if _, set := n.b.vals[o]; o != "" && !set && n.b.m.uses[o] > 0 {
			return n.errorf("output %d (%q) is not supported", i, o)
		}
	}
	return nil
}

// errorf returns an error naming the node; it also becomes n's error.
func (n *node) errorf(format string, a ...any) error {
	err := fmt.Errorf("%s: %s", describe(n.NodeProto, n.index, n.b.m.Opset), fmt.Sprintf(format, a...))
	if n.err == nil {
		n.err = err
	}
	return n.err
}

// opset is the model's standard operator set version.
func (n *node) opset() int { return n.b.m.Opset }

// name is the name of the node's graph op: the node's, or its output's.
func (n *node) name() string {
	if n.Name != "" {
		return n.Name
	}
	return n.Output[0]
}

// in returns input i, nil when it is left out.
func (n *node) in(i int) *val {
	if i >= len(n.Input) || n.Input[i] == "" {
		return nil
	}
	return n.b.get(n.Input[i])
}

// inputs checks that the node has lo to hi inputs (hi < 0: any number).
func (n *node) inputs(lo, hi int) bool {
	k := len(n.Input)
	for k > 0 && n.Input[k-1] == "" {
		k--
	}
	if k < lo || hi >= 0 && k > hi {
		n.errorf("%d inputs, want %d to %d", k, lo, hi)
		return false
	}
	if n.in(0) == nil && lo > 0 {
		n.errorf("input 0 is left out")
		return false
	}
	return true
}

// graphIn returns input i, which must be a graph value.
func (n *node) graphIn(i int) *graph.Value {
	v := n.in(i)
	switch {
	case n.err != nil:
		return nil
	case v == nil:
		n.errorf("input %d is left out", i)
	case v.pad != nil:
		n.errorf("input %d is a Pad, supported only before Conv and AveragePool", i)
	case v.c != nil:
		n.errorf("input %d (%q) is a constant, which the operator is supported on only as a graph value", i, n.Input[i])
	default:
		return v.v
	}
	return nil
}

// constIn returns input i, which must be a constant; optional inputs may
// be left out (nil).
func (n *node) constIn(i int, optional bool) *tensor {
	v := n.in(i)
	switch {
	case n.err != nil:
		return nil
	case v == nil && optional:
		return nil
	case v == nil:
		n.errorf("input %d is left out", i)
	case v.c == nil:
		n.errorf("input %d (%q) is computed from the graph input, want a constant", i, n.Input[i])
	default:
		return v.c
	}
	return nil
}

// floats returns input i, which must be a float constant of n elements.
func (n *node) floats(i, count int, what string) []float32 {
	c := n.constIn(i, false)
	if c != nil && (!c.Float || c.numel() != count) {
		n.errorf("%s has shape %v, want %d floats", what, c.Dims, count)
		return nil
	}
	if c == nil {
		return nil
	}
	return c.F
}

// set makes output 0 stand for v.
func (n *node) set(v *val) {
	if n.err == nil && len(n.Output) > 0 && n.Output[0] != "" {
		n.b.bind(n.Output[0], v)
	}
}

// setConst makes output 0 the constant t.
func (n *node) setConst(t *tensor) {
	if t != nil {
		n.set(&val{c: t})
	}
}

// apply adds a node computing op on in as output 0.
func (n *node) apply(op graph.Op, in ...*graph.Value) *graph.Value {
	if n.err != nil {
		return nil
	}
	out := n.b.b.Apply(n.name(), op, in...)
	if out.Producer == nil {
		_, err := n.b.b.Graph()
		n.errorf("%v", err)
		return nil
	}
	if len(out.Shape) == 0 || out.Shape[1:].Numel() > maxElems {
		n.errorf("output shape %v: more than %d elements per batch item", out.Shape, maxElems)
		return nil
	}
	n.set(&val{v: out})
	return out
}

// attr returns the attribute called name (nil when absent), which must
// have the type t, and marks it read.
func (n *node) attr(name string, t onnxpb.AttributeProto_AttributeType) *onnxpb.AttributeProto {
	for _, a := range n.Attribute {
		if a.Name != name {
			continue
		}
		n.read[name] = true
		if a.Type != t && a.Type != onnxpb.AttributeProto_UNDEFINED {
			n.errorf("attribute %q is %s, want %s", name, a.Type, t)
			return nil
		}
		return a
	}
	return nil
}

// int returns the integer attribute name, def when absent.
func (n *node) int(name string, def int64) int64 {
	if a := n.attr(name, onnxpb.AttributeProto_INT); a != nil {
		return a.I
	}
	return def
}

// float returns the float attribute name, def when absent.
func (n *node) float(name string, def float64) float64 {
	if a := n.attr(name, onnxpb.AttributeProto_FLOAT); a != nil {
		return float64(a.F)
	}
	return def
}

// str returns the string attribute name, def when absent.
func (n *node) str(name, def string) string {
	if a := n.attr(name, onnxpb.AttributeProto_STRING); a != nil {
		return string(a.S)
	}
	return def
}

// ints returns the integer list attribute name, def when absent.
func (n *node) ints(name string, def []int64) []int64 {
	if a := n.attr(name, onnxpb.AttributeProto_INTS); a != nil {
		return a.Ints
	}
	return def
}

// sizes returns the integer list attribute name (def when absent) as k
// ints in [lo, maxDim].
func (n *node) sizes(name string, k int, lo int64, def ...int) []int {
	v := n.ints(name, nil)
	out := make([]int, k)
	switch {
	case v == nil && len(def) == k:
		copy(out, def)
		return out
	case v == nil:
		n.errorf("attribute %q is missing", name)
		return out
	case len(v) != k:
		n.errorf("attribute %q has %d values, want %d", name, len(v), k)
		return out
	}
	for i, x := range v {
		if x < lo || x > maxDim {
			n.errorf("attribute %q = %v: values must be in %d..%d", name, v, lo, maxDim)
			return out
		}
		out[i] = int(x)
	}
	return out
}

// axis returns the attribute or value axis normalised to 0..rank-1.
func (n *node) axis(what string, a int64, rank int) int {
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		n.errorf("%s %d is out of range for rank %d", what, a, rank)
		return 0
	}
	return int(a)
}

// errBatch is the reason ops that would mix batch items are refused.
var errBatch = errors.New("it would mix the items of a batch (the batch is axis 0)")
