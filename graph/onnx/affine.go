package onnx

import (
	"github.com/resnet-gpu/resnet-gpu/graph"
)

// The operators that rearrange or rescale graph values without a graph
// op of their own: arithmetic with constants (an affine map, folded into
// the op before it where exact), Pad (joined to the op after it) and
// Reshape (a view).

// arith is Add, Sub, Mul or Div: of two constants (folded), of two graph
// values of one shape (Add only), or of a graph value and a constant of
// one value or one per channel (axis 1), an affine map.
func arith(n *node) error {
	if !n.inputs(2, 2) {
		return n.err
	}
	a, b := n.in(0), n.in(1)
	if a.c != nil && b.c != nil {
		return foldArith(n, a.c, b.c)
	}
	if a.c == nil && b.c == nil {
		x, y := n.graphIn(0), n.graphIn(1)
		switch {
		case n.err != nil:
			return n.err
		case n.OpType != "Add":
			return n.errorf("%s of two graph values is not supported", n.OpType)
		case !x.Shape.Equal(y.Shape):
			return n.errorf("broadcasting %v and %v is not supported", x.Shape, y.Shape)
		}
		n.apply(graph.Add{}, x, y)
		return n.err
	}
	xi := 0
	if a.c != nil {
		xi = 1
	}
	x, c := n.graphIn(xi), n.in(1-xi).c
	if x == nil {
		return n.err
	}
	per := n.perChannel(c, x.Shape)
	if per == nil {
		return n.err
	}
	scale, shift := make([]float64, len(per)), make([]float64, len(per))
	for i, v := range per {
		switch {
		case n.OpType == "Add":
			scale[i], shift[i] = 1, v
		case n.OpType == "Sub" && xi == 0:
			scale[i], shift[i] = 1, -v
		case n.OpType == "Sub":
			scale[i], shift[i] = -1, v
		case n.OpType == "Mul":
			scale[i] = v
		case xi == 0: // Div
			scale[i] = 1 / v
		default:
			return n.errorf("a constant divided by a graph value is not supported")
		}
	}
	n.affine(x, n.Input[xi], scale, shift)
	return n.err
}

// perChannel returns the values of c broadcast over a graph value of
// shape s, which must be one number or one per channel (axis 1): [C],
// [C,1,1], [1,C,1,1] and the like.
func (n *node) perChannel(c *tensor, s graph.Shape) []float64 {
	ch := 1
	if len(s) > 1 {
		ch = s[1]
	}
	ok := len(c.Dims) <= len(s) && !c.symbolic() && (c.numel() == 1 || c.numel() == ch)
	for i, d := range c.Dims {
		axis := len(s) - len(c.Dims) + i // broadcasting aligns the last axes
		if d != 1 && axis != 1 {
			ok = false
		}
	}
	if !ok {
		n.errorf("a constant of shape %v on a value of shape %v: only one value or one per channel (axis 1) is supported", c.Dims, s)
		return nil
	}
	out := make([]float64, ch)
	for i := range out {
		k := i % c.numel()
		if c.Float {
			out[i] = float64(c.F[k])
		} else {
			out[i] = float64(c.I[k])
		}
	}
	return out
}

// affine sets output 0 to x·scale + shift per channel. Where x (called
// name) has no other reader and comes from a convolution without an
// epilogue, a linear layer or another affine map, the map joins that op's
// parameters (computed in float64 and rounded once); else it is a
// graph.Affine.
func (n *node) affine(x *graph.Value, name string, scale, shift []float64) {
	f32 := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	// at returns v[i] as float64, def where v is nil.
	at := func(v []float32, i int, def float64) float64 {
		if v == nil {
			return def
		}
		return float64(v[i])
	}
	var folded graph.Op
	if x.Producer != nil && n.b.sole(name, x) {
		switch op := x.Producer.Op.(type) {
		case *graph.Conv2D:
			if op.Residual || op.ReLU {
				break
			}
			c := *op
			s, b := make([]float64, c.Cout), make([]float64, c.Cout)
			for o := range s {
				s[o] = at(op.Scale, o, 1) * scale[o]
				b[o] = at(op.Bias, o, 0)*scale[o] + shift[o]
			}
			c.Scale, c.Bias = f32(s), f32(b)
			folded = &c
		case *graph.Linear:
			l := *op
			l.Weight = make([]float32, len(op.Weight))
			b := make([]float64, l.Out)
			for o := range b {
				for i := o * l.In; i < (o+1)*l.In; i++ {
					l.Weight[i] = float32(float64(op.Weight[i]) * scale[o])
				}
				b[o] = at(op.Bias, o, 0)*scale[o] + shift[o]
			}
			l.Bias = f32(b)
			folded = &l
		case *graph.Affine:
			s, b := make([]float64, len(scale)), make([]float64, len(scale))
			for c := range s {
				s[c] = float64(op.Scale[c]) * scale[c]
				b[c] = float64(op.Shift[c])*scale[c] + shift[c]
			}
			folded = &graph.Affine{Scale: f32(s), Shift: f32(b)}
		}
	}
	if folded == nil {
		n.apply(&graph.Affine{Scale: f32(scale), Shift: f32(shift)}, x)
		return
	}
	x.Producer.Op = folded
	n.b.names[x]-- // name has no reader left
	n.set(&val{v: x})
}

// pad with zeros on the height and width of a graph value waits for the
// Conv or AveragePool that reads it (Pads of Pads add up).
func pad(n *node) error {
	if !n.inputs(2, 4) {
		return n.err
	}
	if mode := n.str("mode", "constant"); mode != "constant" {
		return n.errorf("mode %q is not supported (only constant zeros)", mode)
	}
	src, pre := n.padded(0)
	t := n.constIn(1, false)
	if cv := n.constIn(2, true); cv != nil {
		if v, err := cv.scalar("constant_value"); err != nil || v != 0 {
			return n.errorf("padding with %v is not supported (only zeros)", cv.F)
		}
	}
	if !n.image(src) || t == nil {
		return n.err
	}
	pads, err := t.ints("pads")
	if err != nil {
		return n.errorf("%v", err)
	}
	axes := []int{0, 1, 2, 3}
	if a := n.constIn(3, true); a != nil {
		v, err := a.ints("axes")
		if err != nil {
			return n.errorf("%v", err)
		}
		axes = axes[:0]
		for _, x := range v {
			axes = append(axes, n.axis("axis", x, 4))
		}
	}
	if len(pads) != 2*len(axes) || n.err != nil {
		return n.errorf("%d pads for %d axes", len(pads), len(axes))
	}
	var full [8]int64
	for i, a := range axes {
		full[a], full[4+a] = pads[i], pads[len(axes)+i]
	}
	for i, p := range full {
		if p < 0 || p > maxDim || p != 0 && i%4 < 2 {
			return n.errorf("pads %v: only non-negative padding of the height and width is supported", pads)
		}
	}
	p := [4]int{pre[0] + int(full[2]), pre[1] + int(full[3]), pre[2] + int(full[6]), pre[3] + int(full[7])}
	if p == [4]int{} {
		n.set(&val{v: src})
	} else {
		n.set(&val{pad: &padded{src: src, pads: p}})
	}
	return n.err
}

// reshape of a graph value must keep the batch as axis 0: the target's
// first entry is the batch (taken from the input's Shape, a 0 that copies
// it, a -1 when the rest holds one item's elements, or the file's fixed
// batch size) and the rest one item's elements. It becomes a Flatten or a
// Reshape view. Constants fold.
func reshape(n *node) error {
	if !n.inputs(2, 2) {
		return n.err
	}
	allowzero := n.int("allowzero", 0) != 0
	t := n.constIn(1, false)
	if t == nil || t.Float || len(t.Dims) != 1 {
		return n.errorf("shape must be a 1-D integer constant")
	}
	if v := n.in(0); v.c != nil {
		target, err := t.ints("shape")
		if err != nil {
			return n.errorf("%v", err)
		}
		n.setConst(n.reshapeConst(v.c, target, allowzero))
		return n.err
	}
	x := n.graphIn(0)
	if x == nil {
		return n.err
	}
	in, item := x.Shape, x.Shape[1:].Numel()
	out := make(graph.Shape, len(t.I))
	free, known := -1, 1
	for k, d := range t.I {
		sym := t.Sym != nil && t.Sym[k]
		switch {
		case sym && (k != 0 || d != 1):
			return n.errorf("target shape %v: %v", t.I, errBatch)
		case k == 0 && (sym || d == 0 && !allowzero || d > 0 && int(d) == n.b.m.Batch):
			out[0] = in[0]
		case d == -1 && free < 0:
			free = k
		case d == 0 && !allowzero && k < len(in):
			out[k] = in[k]
		case k == 0 && d > 0:
			return n.errorf("target shape %v fixes the batch size at %d while the model's batch is dynamic", t.I, d)
		case d < 1 || d > maxElems:
			return n.errorf("target shape %v is not supported", t.I)
		default:
			out[k] = int(d)
		}
		if k > 0 && out[k] > 0 {
			known *= out[k]
			if known > maxElems {
				return n.errorf("target shape %v is too large", t.I)
			}
		}
	}
	if free > 0 && known > 0 && item%known == 0 {
		out[free], known = item/known, item
	}
	if free == 0 {
		out[0] = in[0]
	}
	if known != item || free > 0 && out[free] == 0 {
		return n.errorf("cannot reshape %v to %v keeping the batch as axis 0", in, t.I)
	}
	switch {
	case out.Equal(in):
		n.set(&val{v: x})
	case len(out) == 2 && len(in) > 2:
		n.apply(graph.Flatten{Axis: 1}, x)
	default:
		to := out.Clone()
		to[0] = -1
		n.apply(graph.Reshape{To: to}, x)
	}
	return n.err
}
