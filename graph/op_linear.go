package graph

import (
	"fmt"
	"math"

	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Linear is out[n,o] = Σ_i W[o,i] · in[n,i] + Bias[o] over an [N, In]
// input (Flatten makes one from an image).
type Linear struct {
	In, Out int
	Weight  []float32 // [Out][In]
	Bias    []float32 // [Out] or nil
}

// Kind implements Op.
func (l *Linear) Kind() string { return "linear" }

// Arity implements Op.
func (l *Linear) Arity() int { return 1 }

// OutShape implements Op.
func (l *Linear) OutShape(in []Shape) (Shape, error) {
	if len(in[0]) != 2 || in[0][1] != l.In {
		return nil, fmt.Errorf("linear: input has shape %v, want [N %d]", in[0], l.In)
	}
	if l.In <= 0 || l.Out <= 0 || len(l.Weight) != l.In*l.Out || (l.Bias != nil && len(l.Bias) != l.Out) {
		return nil, fmt.Errorf("linear: parameter sizes do not match %dx%d", l.Out, l.In)
	}
	return Shape{in[0][0], l.Out}, nil
}

// Describe implements Op.
func (l *Linear) Describe() string { return fmt.Sprintf("in=%d,out=%d", l.In, l.Out) }

// Eval implements Op.
func (l *Linear) Eval(in []Shape, data [][]float32, out []float32) {
	batch := in[0][0]
	parallel(l.Out, func(o int) {
		w := l.Weight[o*l.In : (o+1)*l.In]
		for n := 0; n < batch; n++ {
			x := data[0][n*l.In : (n+1)*l.In]
			var sum float64
			for i := range w {
				sum += float64(w[i]) * float64(x[i])
			}
			if l.Bias != nil {
				sum += float64(l.Bias[o])
			}
			out[n*l.Out+o] = float32(sum)
		}
	})
}

// Lower implements Op.
func (l *Linear) Lower(lw Lowerer, in []Shape, _ Shape) error {
	k, err := shaders.Linear(in[0][0], l.In, l.Out, lw.Caps().MaxWorkgroupsPerDimension)
	if err != nil {
		return err
	}
	lw.Launch(k, map[string]Res{"src": In(0), "weight": Param("weight", l.Weight),
		"bias": ParamOr("bias", l.Bias, l.Out, 0), "dst": Out()})
	return nil
}

// AsConv returns the layer as a 1×1 convolution of an N×In×1×1 image,
// sharing its parameters (LinearAsConv).
func (l *Linear) AsConv() *Conv2D {
	c := Conv(l.In, l.Out, 1, 1, 0)
	c.Weight, c.Bias = l.Weight, l.Bias
	return c
}

// Random implements Op: weights uniform in ±sqrt(3/In), biases in
// [-0.5, 0.5).
func (l *Linear) Random(r *Rand, in Shape) (Op, []Shape) {
	o := *l
	b := math.Sqrt(3 / float64(l.In))
	o.Weight = r.Uniform(l.In*l.Out, -b, b)
	o.Bias = r.Uniform(l.Out, -0.5, 0.5)
	return &o, []Shape{in}
}

// Params implements Op.
func (l *Linear) Params() [][]float32 { return [][]float32{l.Weight, l.Bias} }

// FLOPs implements Op.
func (l *Linear) FLOPs(_ []Shape, out Shape) int64 { return 2 * int64(out.Numel()) * int64(l.In) }

// MACs implements MulAdder.
func (l *Linear) MACs(in []Shape, out Shape) int64 { return l.FLOPs(in, out) / 2 }
