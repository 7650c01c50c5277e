package graph

import (
	"fmt"
	"slices"

	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// view holds what every View op has in common: one input, no
// parameters, no launch, and on the CPU a copy.
type view struct{}

// Arity implements Op.
func (view) Arity() int { return 1 }

// IsView implements View.
func (view) IsView() bool { return true }

// Eval implements Op.
func (view) Eval(_ []Shape, data [][]float32, out []float32) { copy(out, data[0]) }

// Lower implements Op: a view launches nothing.
func (view) Lower(Lowerer, []Shape, Shape) error { return nil }

// Params implements Op.
func (view) Params() [][]float32 { return nil }

// FLOPs implements Op.
func (view) FLOPs([]Shape, Shape) int64 { return 0 }

// Flatten is torch.flatten(x, Axis): the dimensions from Axis on become
// one, [N, C, H, W] → [N, C·H·W] for Axis 1. It moves no data: executors
// give its output the input's memory (View).
type Flatten struct {
	view
	Axis int
}

// Kind implements Op.
func (Flatten) Kind() string { return "flatten" }

// OutShape implements Op.
func (f Flatten) OutShape(in []Shape) (Shape, error) {
	if f.Axis < 0 || f.Axis >= max(len(in[0]), 1) {
		return nil, fmt.Errorf("flatten: axis %d out of range for shape %v", f.Axis, in[0])
	}
	return append(in[0][:f.Axis:f.Axis], Shape(in[0][f.Axis:]).Numel()), nil
}

// Describe implements Op.
func (f Flatten) Describe() string { return fmt.Sprintf("axis=%d", f.Axis) }

// Random implements Op.
func (f Flatten) Random(_ *Rand, in Shape) (Op, []Shape) { return f, []Shape{in} }

// Concat joins N inputs along Axis; their other dimensions must agree.
// Along axis 0 or 1 it is a Join: the planner lets the producers of its
// inputs write them straight into their slices of the output, and the op
// copies only the inputs it could not place (concat.wgsl); both sides of
// a copy may lie at any layout (Strided).
type Concat struct{ Axis, N int }

// Kind implements Op.
func (Concat) Kind() string { return "concat" }

// Arity implements Op.
func (c Concat) Arity() int { return c.N }

// OutShape implements Op.
func (c Concat) OutShape(in []Shape) (Shape, error) {
	if c.N < 1 || c.Axis < 0 || c.Axis >= len(in[0]) {
		return nil, fmt.Errorf("concat: axis %d of %d inputs out of range for shape %v", c.Axis, c.N, in[0])
	}
	out := in[0].Clone()
	for _, s := range in[1:] {
		a, b := slices.Clone(s), slices.Clone(in[0])
		if len(a) == len(b) {
			a[c.Axis], b[c.Axis] = 0, 0
		}
		if !slices.Equal(a, b) {
			return nil, fmt.Errorf("concat: shapes %v and %v differ off axis %d", in[0], s, c.Axis)
		}
		out[c.Axis] += s[c.Axis]
	}
	return out, nil
}

// Describe implements Op.
func (c Concat) Describe() string { return fmt.Sprintf("axis=%d,inputs=%d", c.Axis, c.N) }

// split returns the number of blocks before the axis and the elements of
// one block after it.
func (c Concat) split(s Shape) (outer, inner int) {
	return Shape(s[:c.Axis]).Numel(), Shape(s[c.Axis+1:]).Numel()
}

// Eval implements Op.
func (c Concat) Eval(in []Shape, data [][]float32, out []float32) {
	outer, inner := c.split(in[0])
	total := 0
	for _, s := range in {
		total += s[c.Axis]
	}
	off := 0
	for i, s := range in {
		n := s[c.Axis] * inner
		for o := 0; o < outer; o++ {
			copy(out[(o*total+off)*inner:], data[i][o*n:(o+1)*n])
		}
		off += s[c.Axis]
	}
}

// StridedIn implements Strided: along axis 0 or 1 the copies read any
// layout.
func (c Concat) StridedIn(int) bool { return c.Axis <= 1 }

// StridedOut implements Strided: along axis 0 or 1 the copies write any
// layout.
func (c Concat) StridedOut() bool { return c.Axis <= 1 }

// Part implements Join: along axis 1, input i's images are its channels'
// share of the output's, at the channel offset of the inputs before it;
// along axis 0 it is the output's images from the count before it.
func (c Concat) Part(in []Shape, i int, out Layout) (Layout, bool) {
	if c.Axis > 1 {
		return Layout{}, false
	}
	_, _, _, dst := c.slice(in, i, Layout{}, out)
	return dst, true
}

// slice returns input i's copy into the output: blocks blocks of block
// contiguous elements, where they lie in the input at layout src and
// where they go in the output at layout out (the copy's layouts,
// shaders.Concat). Along axis 0 and 1 the blocks are the images; along a
// later axis, where src and out are contiguous, the (image, channel, …)
// blocks before the axis.
func (c Concat) slice(in []Shape, i int, src, out Layout) (blocks, block int, s, d Layout) {
	_, inner := c.split(in[0])
	off, total := 0, 0
	for k, sh := range in {
		if k < i {
			off += sh[c.Axis]
		}
		total += sh[c.Axis]
	}
	if out.BStride == 0 { // contiguous: the output's image
		out.BStride = inner
		if c.Axis == 1 {
			out.BStride = total * inner
		}
	}
	x := in[i]
	switch c.Axis {
	case 0:
		return x[0], inner, src, Layout{Off: out.Off + off*out.BStride, BStride: out.BStride}
	case 1:
		return x[0], x[1] * inner, src, Layout{Off: out.Off + off*inner, BStride: out.BStride}
	}
	outer, _ := c.split(x)
	block = x[c.Axis] * inner
	return outer, block, Layout{BStride: block}, Layout{Off: off * inner, BStride: total * inner}
}

// Lower implements Op: one copy per input the planner did not place in
// its slice of the output.
func (c Concat) Lower(l Lowerer, in []Shape, _ Shape) error {
	for i := range in {
		if l.InPlace(i) {
			continue
		}
		blocks, block, src, dst := c.slice(in, i, l.Layout(In(i)), l.Layout(Out()))
		k, err := shaders.Concat(blocks, block, src, dst, l.Caps().MaxWorkgroupsPerDimension)
		if err != nil {
			return err
		}
		l.Launch(k, map[string]Res{"src": In(i), "dst": Out()})
	}
	return nil
}

// Random implements Op: N inputs of the shape in.
func (c Concat) Random(_ *Rand, in Shape) (Op, []Shape) {
	shapes := make([]Shape, c.N)
	for i := range shapes {
		shapes[i] = in
	}
	return c, shapes
}

// Params implements Op.
func (Concat) Params() [][]float32 { return nil }

// FLOPs implements Op.
func (Concat) FLOPs([]Shape, Shape) int64 { return 0 }

// Reshape gives its input the shape To (one dimension may be -1: what the
// element count leaves), moving no data (View).
type Reshape struct {
	view
	To Shape
}

// Kind implements Op.
func (Reshape) Kind() string { return "reshape" }

// OutShape implements Op.
func (r Reshape) OutShape(in []Shape) (Shape, error) {
	out, free, known := r.To.Clone(), -1, 1
	for i, d := range out {
		switch {
		case d == -1 && free < 0:
			free = i
		case d <= 0:
			return nil, fmt.Errorf("reshape: bad target %v", r.To)
		default:
			known *= d
		}
	}
	n := in[0].Numel()
	if free >= 0 && known > 0 && n%known == 0 {
		out[free] = n / known
	}
	if out.Numel() != n || len(out) == 0 {
		return nil, fmt.Errorf("reshape: %v has %d elements, target %v", in[0], n, r.To)
	}
	return out, nil
}

// Describe implements Op.
func (r Reshape) Describe() string { return fmt.Sprintf("to=%v", r.To) }

// Random implements Op.
func (r Reshape) Random(_ *Rand, in Shape) (Op, []Shape) { return r, []Shape{in} }
