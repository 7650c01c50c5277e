package gpugrad

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// freeVals gives back the forward values of node n (its inputs and
// output) whose last reader ran at step.
func (b *backward) freeVals(step int, n *graph.Node) {
	for _, v := range append([]*graph.Value{n.Out}, n.Inputs...) {
		if s, ok := b.life.val[v.ID]; (!ok || s == step) && b.val[v.ID] != nil {
			b.mem.give(b.val[v.ID])
			delete(b.val, v.ID)
		}
	}
}

// freeGrads gives back the gradients of node n's inputs and output whose
// last reader or writer ran at step.
func (b *backward) freeGrads(step int, n *graph.Node) {
	for _, v := range append([]*graph.Value{n.Out}, n.Inputs...) {
		if b.life.grad[v.ID] == step && b.grad[v.ID] != nil {
			b.mem.give(b.grad[v.ID])
			delete(b.grad, v.ID)
		}
	}
}

// node records node k's backward launches and then adds the gradients it
// wrote to scratch buffers into those of values an earlier-recorded node
// (a later reader) already wrote; then it gives back the buffers no later
// step reads.
func (b *backward) node(k int) error {
	n := b.g.Nodes[k]
	l := &lowerer{b: b, k: k, din: map[int]*gpu.Buffer{}, acc: map[int]*gpu.Buffer{}, scratch: map[int]*gpu.Buffer{}}
	if err := n.Op.(graph.GPUDifferentiable).LowerGrad(l, n.InShapes(), n.Out.Shape); err != nil {
		return fmt.Errorf("gpugrad: %s: %w", n.Name, err)
	}
	if l.err != nil {
		return fmt.Errorf("gpugrad: %s: %w", n.Name, l.err)
	}
	for i, d := range b.dparam[k] {
		if d == nil {
			return fmt.Errorf("gpugrad: %s: the backward launches leave parameter %d's gradient unwritten", n.Name, i)
		}
	}
	for i, v := range n.Inputs {
		if _, ok := l.din[i]; !ok {
			if !l.WantsDIn(i) {
				continue
			}
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
	for _, m := range []map[int]*gpu.Buffer{l.acc, l.scratch} {
		for _, i := range slices.Sorted(maps.Keys(m)) { // in order, so that each pass takes the same buffers
			b.mem.give(m[i])
		}
	}
	step := bwdStep(len(b.g.Nodes), k)
	b.freeVals(step, n)
	b.freeGrads(step, n)
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

// WantsDIn implements graph.GradLowerer: every value's gradient but
// those of graph inputs that the caller does not read.
func (l *lowerer) WantsDIn(i int) bool {
	if i < 0 || i >= len(l.b.g.Nodes[l.k].Inputs) {
		return false
	}
	v := l.b.g.Nodes[l.k].Inputs[i]
	return v.Producer != nil || l.b.keep[v.ID]
}

// Launch implements graph.GradLowerer. It resolves the bindings in the
// launch's order, so that buffers are taken in the same order each pass.
func (l *lowerer) Launch(k shaders.Launch, binds map[string]graph.GradRes) {
	if l.err != nil {
		return
	}
	n := l.b.g.Nodes[l.k]
	if len(binds) != len(k.Binds) {
		l.err = fmt.Errorf("%s: %d bindings given for the launch's %d", k.Key.Kernel, len(binds), len(k.Binds))
		return
	}
	gb, err := bindAll(k, binds, func(r graph.GradRes) (*gpu.Buffer, error) { return l.resolve(n, r) })
	if err != nil {
		l.err = err
		return
	}
	l.err = l.b.launch(n.Name+"."+k.Key.Kernel, k, gb)
}

// bindAll resolves the bindings a launch declares, in its order, from
// binds, which must name each of them (others are left unused).
func bindAll[R any](k shaders.Launch, binds map[string]R, resolve func(R) (*gpu.Buffer, error)) (gpu.Binds, error) {
	gb := gpu.Binds{}
	for _, name := range k.Binds {
		r, ok := binds[name]
		if !ok {
			return nil, fmt.Errorf("%s: binding %q not given", k.Key.Kernel, name)
		}
		buf, err := resolve(r)
		if err != nil {
			return nil, fmt.Errorf("%s binding %q: %w", k.Key.Kernel, name, err)
		}
		gb[name] = buf
	}
	return gb, nil
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
		if !slices.Contains(b.needs[l.k].In, r.Index) {
			return nil, fmt.Errorf("input %d, which the op's GradNeeds does not name", r.Index)
		}
		return b.val[n.Inputs[r.Index].ID], nil
	case graph.GradOut:
		if !b.needs[l.k].Out {
			return nil, errors.New("the output, which the op's GradNeeds does not name")
		}
		return b.val[n.Out.ID], nil
	case graph.GradDOut:
		if d := b.grad[n.Out.ID]; d != nil {
			return d, nil
		}
		d, err := b.mem.fresh(n.Out.Name+".grad", n.Out.Shape.Numel()) // nothing reads the output: its gradient is zeros
		b.grad[n.Out.ID] = d
		return d, err
	case graph.GradDIn:
		if err := inRange(r.Index, len(n.Inputs)); err != nil {
			return nil, err
		}
		if d, ok := l.din[r.Index]; ok {
			return d, nil
		}
		v := n.Inputs[r.Index]
		d := b.grad[v.ID]
		if d == nil { // the first writer
			var err error
			if d, err = b.mem.take(v.Name+".grad", v.Shape.Numel()); err != nil {
				return nil, err
			}
			b.grad[v.ID] = d
		} else if b.written[v.ID] || l.claimed(d) { // another reader's gradient is there: add to it
			t, err := b.mem.take(fmt.Sprintf("%s.dx%d", n.Name, r.Index), v.Shape.Numel())
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
		if d := b.dparam[l.k][r.Index]; d != nil {
			return d, nil
		}
		d, err := b.mem.take(fmt.Sprintf("%s.dparam%d", n.Name, r.Index), b.plen[l.k][r.Index])
		b.dparam[l.k][r.Index] = d
		return d, err
	case graph.GradConst:
		return b.mem.constant(n.Name+".const", r.Vals)
	case graph.GradScratch:
		if s, ok := l.scratch[r.Index]; ok {
			return s, nil
		}
		if r.N < 1 {
			return nil, errors.New("scratch buffer of no elements")
		}
		s, err := b.mem.take(fmt.Sprintf("%s.scratch%d", n.Name, r.Index), r.N)
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
