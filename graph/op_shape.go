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

// Lower implements Op: one copy per input into its slice of the output.
func (c Concat) Lower(l Lowerer, in []Shape, out Shape) error {
	outer, inner := c.split(in[0])
	off := 0
	for i, s := range in {
		block := s[c.Axis] * inner
		k, err := shaders.Concat(outer, block, shaders.Layout{}, shaders.Layout{Off: off * inner, BStride: out[c.Axis] * inner}, l.Caps().MaxWorkgroupsPerDimension)
		if err != nil {
			return err
		}
		l.Launch(k, map[string]Res{"src": In(i), "dst": Out()})
		off += s[c.Axis]
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
