package graph

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Affine is a per-channel scale and shift over axis 1:
//
//	out[n,c,…] = in[n,c,…] · Scale[c] + Shift[c],
//
// as imported models multiply, divide, add or subtract constants (an
// input normalisation, a learned gain) where no convolution can absorb
// them. A rank-1 input has one channel.
type Affine struct {
	Scale, Shift []float32
}

// Kind implements Op.
func (a *Affine) Kind() string { return "affine" }

// Arity implements Op.
func (a *Affine) Arity() int { return 1 }

// channels is the length of axis 1 of s (1 for rank 1).
func channels(s Shape) int {
	if len(s) > 1 {
		return s[1]
	}
	return 1
}

// OutShape implements Op.
func (a *Affine) OutShape(in []Shape) (Shape, error) {
	c := channels(in[0])
	if len(a.Scale) != c || len(a.Shift) != c {
		return nil, fmt.Errorf("affine: %d scales and %d shifts for %d channels", len(a.Scale), len(a.Shift), c)
	}
	return in[0].Clone(), nil
}

// Describe implements Op.
func (a *Affine) Describe() string { return fmt.Sprintf("channels=%d", len(a.Scale)) }

// Eval implements Op.
func (a *Affine) Eval(in []Shape, data [][]float32, out []float32) {
	s := in[0]
	c := channels(s)
	inner := s.Numel() / max(s[0]*c, 1)
	for i, v := range data[0] {
		k := i / inner % c
		out[i] = float32(float64(v)*float64(a.Scale[k]) + float64(a.Shift[k]))
	}
}

// Lower implements Op: the element-wise kernel's affine mode, scales then
// shifts in one parameter array.
func (a *Affine) Lower(l Lowerer, in []Shape, _ Shape) error {
	p := append(append([]float32(nil), a.Scale...), a.Shift...)
	return eltwise(l, shaders.ModeAffine, false, in[0], map[string]Res{"a": In(0), "b": Param("affine", p), "dst": Out()})
}

// Random implements Op: scales in [0.5, 1.5), shifts in [-0.5, 0.5).
func (a *Affine) Random(r *Rand, in Shape) (Op, []Shape) {
	c := channels(in)
	return &Affine{Scale: r.Uniform(c, 0.5, 1.5), Shift: r.Uniform(c, -0.5, 0.5)}, []Shape{in}
}

// Params implements Op.
func (a *Affine) Params() [][]float32 { return [][]float32{a.Scale, a.Shift} }

// FLOPs implements Op.
func (a *Affine) FLOPs(_ []Shape, out Shape) int64 { return 2 * int64(out.Numel()) }
