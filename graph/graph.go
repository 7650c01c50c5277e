package graph

import (
	"errors"
	"fmt"
)

// Value is a tensor flowing through the graph.
type Value struct {
	ID    int
	Name  string
	Shape Shape
	// Producer is the node computing the value, nil for graph inputs.
	Producer *Node
}

// Node applies Op to Inputs, producing Out.
type Node struct {
	ID     int
	Name   string // e.g. "layer1.0.conv1"
	Op     Op
	Inputs []*Value
	Out    *Value
}

// String names the node's op and input shape, e.g.
// conv2d(n=1,c=64,h=56,w=56,o=64,k=3x3,s=1,p=1,relu).
func (n *Node) String() string { return Name(n.Op, n.Inputs[0].Shape) }

// Graph is a topologically ordered list of nodes with designated inputs and
// outputs.
type Graph struct {
	Inputs  []*Value
	Outputs []*Value
	Nodes   []*Node
	nextID  int
}

// Builder builds a Graph. Like bufio.Writer it remembers the first error:
// later calls do nothing and Graph returns that error.
type Builder struct {
	g   Graph
	err error
}

// Input declares a graph input.
func (b *Builder) Input(name string, s Shape) *Value {
	v := b.value(name, s)
	b.g.Inputs = append(b.g.Inputs, v)
	return v
}

func (b *Builder) value(name string, s Shape) *Value {
	v := &Value{ID: b.g.nextID, Name: name, Shape: s}
	b.g.nextID++
	return v
}

// Apply adds a node computing op on in and returns its output.
func (b *Builder) Apply(name string, op Op, in ...*Value) *Value {
	if b.err != nil {
		return &Value{Name: name}
	}
	if len(in) != op.Arity() {
		b.err = fmt.Errorf("graph: %s: %s takes %d inputs, got %d", name, op.Kind(), op.Arity(), len(in))
		return &Value{Name: name}
	}
	shapes := make([]Shape, len(in))
	for i, v := range in {
		if v == nil || len(v.Shape) == 0 || v.Shape.Numel() <= 0 {
			b.err = fmt.Errorf("graph: %s: input %d is empty", name, i)
			return &Value{Name: name}
		}
		shapes[i] = v.Shape
	}
	s, err := op.OutShape(shapes)
	if err != nil {
		b.err = fmt.Errorf("graph: %s: %w", name, err)
		return &Value{Name: name}
	}
	out := b.value(name, s)
	n := &Node{ID: len(b.g.Nodes), Name: name, Op: op, Inputs: in, Out: out}
	out.Producer = n
	b.g.Nodes = append(b.g.Nodes, n)
	return out
}

// Output marks v as a graph output, in order.
func (b *Builder) Output(v *Value) { b.g.Outputs = append(b.g.Outputs, v) }

// Graph returns the built graph or the first error.
func (b *Builder) Graph() (*Graph, error) {
	if b.err != nil {
		return nil, b.err
	}
	if len(b.g.Outputs) == 0 {
		return nil, errors.New("graph: no outputs")
	}
	g := b.g
	return &g, nil
}

// Consumers returns, for each value ID, the nodes that read it.
func (g *Graph) Consumers() map[int][]*Node {
	c := map[int][]*Node{}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			c[v.ID] = append(c[v.ID], n)
		}
	}
	return c
}

// LastUse maps each value ID to the ID of the last node that reads it;
// values nobody reads are absent.
func (g *Graph) LastUse() map[int]int {
	last := map[int]int{}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			last[v.ID] = n.ID
		}
	}
	return last
}

func (g *Graph) isOutput(v *Value) bool {
	for _, o := range g.Outputs {
		if o == v {
			return true
		}
	}
	return false
}

// renumber restores node IDs after a pass removed nodes.
func (g *Graph) renumber() {
	for i, n := range g.Nodes {
		n.ID = i
	}
}

// WeightBytes is the number of bytes of parameters (weights, scales,
// biases, batch-norm statistics) the graph's ops hold, as float32.
func (g *Graph) WeightBytes() int64 {
	var n int
	for _, nd := range g.Nodes {
		for _, p := range nd.Op.Params() {
			n += len(p)
		}
	}
	return 4 * int64(n)
}

// InShapes returns the shapes of the node's inputs.
func (n *Node) InShapes() []Shape {
	s := make([]Shape, len(n.Inputs))
	for i, v := range n.Inputs {
		s[i] = v.Shape
	}
	return s
}

// FLOPs is the number of floating-point operations of one forward pass
// (a multiply-add counts as two).
func (n *Node) FLOPs() int64 { return n.Op.FLOPs(n.InShapes(), n.Out.Shape) }

// Bytes is the minimum memory traffic of the node: inputs, parameters and
// output read or written once, as float32.
func (n *Node) Bytes() int64 {
	if isView(n.Op) {
		return 0
	}
	b := int64(n.Out.Shape.Numel())
	for _, v := range n.Inputs {
		b += int64(v.Shape.Numel())
	}
	for _, p := range n.Op.Params() {
		b += int64(len(p))
	}
	return 4 * b
}

// Clone returns a copy of g with its own nodes and values (the ops, which
// are immutable, are shared), for passes that must leave g as it is.
func (g *Graph) Clone() *Graph {
	c := &Graph{nextID: g.nextID}
	vals := map[*Value]*Value{}
	val := func(v *Value) *Value {
		if nv, ok := vals[v]; ok {
			return nv
		}
		nv := &Value{ID: v.ID, Name: v.Name, Shape: v.Shape.Clone()}
		vals[v] = nv
		return nv
	}
	for _, v := range g.Inputs {
		c.Inputs = append(c.Inputs, val(v))
	}
	for _, n := range g.Nodes {
		nn := &Node{ID: n.ID, Name: n.Name, Op: n.Op, Out: val(n.Out)}
		for _, v := range n.Inputs {
			nn.Inputs = append(nn.Inputs, val(v))
		}
		nn.Out.Producer = nn
		c.Nodes = append(c.Nodes, nn)
	}
	for _, v := range g.Outputs {
		c.Outputs = append(c.Outputs, val(v))
	}
	return c
}

// Reshape returns a clone of g for inputs of the given shapes (another
// batch size, say), every value's shape recomputed; the ops and their
// parameters are shared with g.
func (g *Graph) Reshape(inputs ...Shape) (*Graph, error) {
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("graph: %d input shapes for %d inputs", len(inputs), len(g.Inputs))
	}
	c := g.Clone()
	for i, v := range c.Inputs {
		if inputs[i].Numel() <= 0 {
			return nil, fmt.Errorf("graph: input %s: empty shape %v", v.Name, inputs[i])
		}
		v.Shape = inputs[i].Clone()
	}
	for _, n := range c.Nodes {
		s, err := n.Op.OutShape(n.InShapes())
		if err != nil {
			return nil, fmt.Errorf("graph: %s: %w", n.Name, err)
		}
		n.Out.Shape = s
	}
	return c, nil
}
