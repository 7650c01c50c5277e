package graph

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
)

// Random returns a graph of op alone on an input of shape in, its node
// named name, with parameters and inputs drawn from a generator seeded with
// seed, never zeros: weights uniform in ±sqrt(3/fan-in), scales and
// variances in [0.5, 1.5), biases and means in [-0.5, 0.5), inputs in
// [-1, 1). A residual convolution or an addition gets its second input.
// The op checker, the kernel timer and the tuner all run ops this way.
func Random(name string, op Op, in Shape, seed uint64) (*Graph, [][]float32, error) {
	rng := rand.New(rand.NewPCG(seed, 0x72616e646f6d))
	uni := func(n int, lo, hi float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(lo + (hi-lo)*rng.Float64())
		}
		return v
	}
	shapes := []Shape{in}
	switch o := op.(type) {
	case *Conv2D:
		c := *o
		b := math.Sqrt(3 / float64(c.Cin*c.KH*c.KW))
		c.Weight = uni(c.Cout*c.Cin*c.KH*c.KW, -b, b)
		c.Scale = uni(c.Cout, 0.5, 1.5)
		c.Bias = uni(c.Cout, -0.5, 0.5)
		if c.Residual {
			shapes = append(shapes, c.Out(in))
		}
		op = &c
	case *Linear:
		l := *o
		b := math.Sqrt(3 / float64(l.In))
		l.Weight = uni(l.In*l.Out, -b, b)
		l.Bias = uni(l.Out, -0.5, 0.5)
		op = &l
	case *BatchNorm:
		ch := in[1]
		op = &BatchNorm{Gamma: uni(ch, 0.5, 1.5), Beta: uni(ch, -0.5, 0.5), Mean: uni(ch, -0.5, 0.5), Var: uni(ch, 0.5, 1.5), Eps: cmp.Or(o.Eps, 1e-5)}
	case Add:
		shapes = append(shapes, in)
	}
	var b Builder
	var ins []*Value
	var data [][]float32
	for i, s := range shapes {
		ins = append(ins, b.Input(fmt.Sprintf("in%d", i), s))
		data = append(data, uni(s.Numel(), -1, 1))
	}
	b.Output(b.Apply(name, op, ins...))
	g, err := b.Graph()
	return g, data, err
}
