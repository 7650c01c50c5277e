package ref

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/graph"
)

// Trainer is the CPU reference of the backward pass: it runs a training
// graph, every node's op graph.Differentiable and its one output the loss
// (shape [1]), forward in float64 keeping every activation, then backward
// from the loss, giving the gradient of the loss with respect to every
// value and every trainable parameter. A Trainer is not safe for
// concurrent use: Params may change between runs.
type Trainer struct {
	g   *graph.Graph
	ops []graph.Differentiable
	// Params holds each node's trainable parameters in float64, by node
	// index, in the order of the op's Trainable; they start as the op's
	// values, and a caller may change them (an optimiser step, a finite
	// difference) before the next run.
	Params [][][]float64
}

// NewTrainer checks g and returns its trainer.
func NewTrainer(g *graph.Graph) (*Trainer, error) {
	if len(g.Outputs) != 1 || !g.Outputs[0].Shape.Equal(graph.Shape{1}) {
		return nil, fmt.Errorf("ref: a training graph has one output, the loss of shape [1]; this one has %d", len(g.Outputs))
	}
	t := &Trainer{g: g}
	for _, n := range g.Nodes {
		d, ok := n.Op.(graph.Differentiable)
		if !ok {
			return nil, fmt.Errorf("ref: %s: %s has no gradient", n.Name, n.Op.Kind())
		}
		if _, err := n.Op.OutShape(n.InShapes()); err != nil {
			return nil, fmt.Errorf("ref: %s: %w", n.Name, err)
		}
		_, vals := d.Trainable()
		p := make([][]float64, len(vals))
		for i, v := range vals {
			p[i] = graph.To64(v)
		}
		t.ops = append(t.ops, d)
		t.Params = append(t.Params, p)
	}
	return t, nil
}

// Graph returns the trainer's graph.
func (t *Trainer) Graph() *graph.Graph { return t.g }

// Grads is what one backward pass computes.
type Grads struct {
	Loss float64
	// Values holds every value's forward result and DValues the loss's
	// gradient with respect to it, by value ID (graph inputs included).
	Values, DValues map[int][]float64
	// DParams holds the gradients of Params, by node index.
	DParams [][][]float64
}

// Loss runs the graph forward on inputs and returns the loss.
func (t *Trainer) Loss(inputs ...[]float64) (float64, error) {
	vals, err := t.Forward(inputs...)
	if err != nil {
		return 0, err
	}
	return vals[t.g.Outputs[0].ID][0], nil
}

// Forward runs the graph forward on inputs and returns every value's
// result by value ID (the inputs included).
func (t *Trainer) Forward(inputs ...[]float64) (map[int][]float64, error) {
	g := t.g
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("ref: %d inputs, want %d", len(inputs), len(g.Inputs))
	}
	vals := map[int][]float64{}
	for i, v := range g.Inputs {
		if len(inputs[i]) != v.Shape.Numel() {
			return nil, fmt.Errorf("ref: input %s has %d elements, want %d (%v)", v.Name, len(inputs[i]), v.Shape.Numel(), v.Shape)
		}
		vals[v.ID] = inputs[i]
	}
	for k, n := range g.Nodes {
		if err := t.checkParams(k); err != nil {
			return nil, err
		}
		x := make([][]float64, len(n.Inputs))
		for i, v := range n.Inputs {
			x[i] = vals[v.ID]
		}
		out := make([]float64, n.Out.Shape.Numel())
		t.ops[k].Forward64(n.InShapes(), x, t.Params[k], out)
		vals[n.Out.ID] = out
	}
	return vals, nil
}

// checkParams reports Params of node k whose lengths differ from the
// op's.
func (t *Trainer) checkParams(k int) error {
	names, vals := t.ops[k].Trainable()
	if len(t.Params[k]) != len(vals) {
		return fmt.Errorf("ref: %s: %d parameter arrays, want %d", t.g.Nodes[k].Name, len(t.Params[k]), len(vals))
	}
	for i, v := range vals {
		if len(t.Params[k][i]) != len(v) {
			return fmt.Errorf("ref: %s.%s: %d values, want %d", t.g.Nodes[k].Name, names[i], len(t.Params[k][i]), len(v))
		}
	}
	return nil
}

// Backward runs the graph forward on inputs, then backward from the loss
// (its gradient 1), in reverse graph order, summing the gradients of
// values read by several nodes.
func (t *Trainer) Backward(inputs ...[]float64) (*Grads, error) {
	vals, err := t.Forward(inputs...)
	if err != nil {
		return nil, err
	}
	g := t.g
	loss := g.Outputs[0]
	gr := &Grads{Loss: vals[loss.ID][0], Values: vals, DValues: map[int][]float64{loss.ID: {1}},
		DParams: make([][][]float64, len(g.Nodes))}
	for k := len(g.Nodes) - 1; k >= 0; k-- {
		n := g.Nodes[k]
		dout, ok := gr.DValues[n.Out.ID]
		if !ok { // nothing the loss depends on reads it
			dout = make([]float64, n.Out.Shape.Numel())
			gr.DValues[n.Out.ID] = dout
		}
		x := make([][]float64, len(n.Inputs))
		for i, v := range n.Inputs {
			x[i] = vals[v.ID]
		}
		dx, dp := t.ops[k].Backward64(n.InShapes(), x, t.Params[k], vals[n.Out.ID], dout)
		gr.DParams[k] = dp
		for i, v := range n.Inputs {
			if acc, ok := gr.DValues[v.ID]; ok {
				for j, d := range dx[i] {
					acc[j] += d
				}
			} else {
				gr.DValues[v.ID] = dx[i]
			}
		}
	}
	return gr, nil
}
