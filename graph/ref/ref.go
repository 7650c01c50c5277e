package ref

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/graph"
)

// Executor is the CPU reference: it runs each node's Op.Eval (plain
// loops, float64 accumulation) in graph order. The zero value is ready to
// use; it and its programs are safe for concurrent use.
type Executor struct{}

// Name implements graph.Executor.
func (Executor) Name() string { return "cpu reference" }

// Compile implements graph.Executor.
func (Executor) Compile(g *graph.Graph) (graph.Program, error) {
	for _, n := range g.Nodes {
		if _, err := n.Op.OutShape(n.InShapes()); err != nil {
			return nil, fmt.Errorf("ref: %s: %w", n.Name, err)
		}
	}
	return &program{g: g, last: g.LastUse()}, nil
}

// program is a graph ready to run; it holds nothing a run changes.
type program struct {
	g    *graph.Graph
	last map[int]int
}

func (p *program) Close() {}

// Start implements graph.Program: it runs the graph before it returns.
func (p *program) Start(inputs ...[]float32) (graph.Pending, error) {
	out, err := p.Run(inputs...)
	if err != nil {
		return nil, err
	}
	return graph.Done(out), nil
}

// Run implements graph.Program.
func (p *program) Run(inputs ...[]float32) ([][]float32, error) {
	g := p.g
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("ref: %d inputs, want %d", len(inputs), len(g.Inputs))
	}
	vals := map[int][]float32{}
	for i, v := range g.Inputs {
		if len(inputs[i]) != v.Shape.Numel() {
			return nil, fmt.Errorf("ref: input %s has %d elements, want %d (%v)", v.Name, len(inputs[i]), v.Shape.Numel(), v.Shape)
		}
		vals[v.ID] = inputs[i]
	}
	keep := map[int]bool{}
	for _, v := range g.Outputs {
		keep[v.ID] = true
	}
	for _, n := range g.Nodes {
		in := make([][]float32, len(n.Inputs))
		for i, v := range n.Inputs {
			in[i] = vals[v.ID]
		}
		out := make([]float32, n.Out.Shape.Numel())
		n.Op.Eval(n.InShapes(), in, out)
		vals[n.Out.ID] = out
		for _, v := range n.Inputs {
			if p.last[v.ID] == n.ID && !keep[v.ID] {
				delete(vals, v.ID)
			}
		}
	}
	out := make([][]float32, len(g.Outputs))
	for i, v := range g.Outputs {
		out[i] = vals[v.ID]
	}
	return out, nil
}

// Apply computes op on the CPU for inputs data of shapes in and returns
// the output and its shape.
func Apply(op graph.Op, in []graph.Shape, data [][]float32) ([]float32, graph.Shape, error) {
	if len(in) != op.Arity() || len(data) != len(in) {
		return nil, nil, fmt.Errorf("ref: %s takes %d inputs, got %d shapes and %d arrays", op.Kind(), op.Arity(), len(in), len(data))
	}
	for i, s := range in {
		if len(data[i]) != s.Numel() {
			return nil, nil, fmt.Errorf("ref: input %d has %d elements, want %d (%v)", i, len(data[i]), s.Numel(), s)
		}
	}
	s, err := op.OutShape(in)
	if err != nil {
		return nil, nil, err
	}
	out := make([]float32, s.Numel())
	op.Eval(in, data, out)
	return out, s, nil
}
