package graph

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Clip is out = min(max(in, Min), Max): a clamp to [Min, Max], such as
// MobileNet's ReLU6 (Clip to [0, 6]). It runs on the element-wise kernel
// with the two bounds as its parameter array; a clamp to [0, ∞) is a
// ReLU, which the fusion pass can fold into a convolution, so importers
// make that a ReLU instead.
type Clip struct {
	eltwiseStrided
	Min, Max float32
}

// Kind implements Op.
func (Clip) Kind() string { return "clip" }

// Arity implements Op.
func (Clip) Arity() int { return 1 }

// OutShape implements Op: the bounds must be ordered (and not NaN).
func (c Clip) OutShape(in []Shape) (Shape, error) {
	if !(c.Min <= c.Max) {
		return nil, fmt.Errorf("clip: bounds [%g, %g] are not ordered", c.Min, c.Max)
	}
	return in[0].Clone(), nil
}

// Describe implements Op.
func (c Clip) Describe() string { return fmt.Sprintf("min=%g,max=%g", c.Min, c.Max) }

// Eval implements Op.
func (c Clip) Eval(_ []Shape, data [][]float32, out []float32) {
	for i, v := range data[0] {
		out[i] = min(max(v, c.Min), c.Max)
	}
}

// Lower implements Op: the element-wise kernel's clip mode, the bounds in
// one parameter array.
func (c Clip) Lower(l Lowerer, in []Shape, _ Shape) error {
	return eltwise(l, shaders.ModeClip, false, in[0], map[string]Res{"a": In(0), "b": Param("clip", []float32{c.Min, c.Max}), "dst": Out()})
}

// Random implements Op: the bounds are attributes, kept as they are.
func (c Clip) Random(_ *Rand, in Shape) (Op, []Shape) { return c, []Shape{in} }

// Params implements Op: the bounds are attributes, not parameters.
func (Clip) Params() [][]float32 { return nil }

// FLOPs implements Op: a comparison with each bound.
func (Clip) FLOPs(_ []Shape, out Shape) int64 { return 2 * int64(out.Numel()) }
