package opcheck

import (
	"errors"
	"fmt"
	"math"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpugrad"
)

// A GradCase is one differentiable op on one input shape whose backward
// pass (graph.Differentiable.Backward64) the gradient checks compare with
// central finite differences of its Forward64, and with PyTorch autograd
// goldens (testdata/grad). The loss the case differentiates is
// Σ out·R, R a seeded random tensor of the output's shape, so that every
// output element's gradient counts with its own weight. A case is a plain
// value, safe to share.
type GradCase struct {
	Op graph.Differentiable // attributes; parameters are replaced by seeded random values
	In graph.Shape          // the first input's shape
}

// String names the case like an op checker case.
func (c GradCase) String() string { return graph.Name(c.Op, c.In) }

// GradSetup is a case's op with its random parameters and inputs, and the
// output gradient R. FiniteDiff changes its arrays while it runs: a setup
// is for one goroutine at a time.
type GradSetup struct {
	Op     graph.Differentiable
	Shapes []graph.Shape
	X, P   [][]float64 // inputs; trainable parameters
	DOut   []float64
}

// Setup draws the case's parameters (Op.Random), inputs (uniform in
// [-1, 1)) and output gradient (likewise) from seed. A convolution's or
// linear layer's Scale or Bias that the case leaves nil stays absent, as
// in a training graph (Random would draw them).
func (c GradCase) Setup(seed uint64) (GradSetup, error) {
	r := graph.NewRand(seed)
	op, shapes := c.Op.Random(r, c.In)
	switch o := op.(type) {
	case *graph.Conv2D:
		want := c.Op.(*graph.Conv2D)
		if want.Scale == nil {
			o.Scale = nil
		}
		if want.Bias == nil {
			o.Bias = nil
		}
	case *graph.Linear:
		if c.Op.(*graph.Linear).Bias == nil {
			o.Bias = nil
		}
	}
	d, ok := op.(graph.Differentiable)
	if !ok {
		return GradSetup{}, fmt.Errorf("opcheck: %s: Random returned an op without a gradient", c)
	}
	out, err := op.OutShape(shapes)
	if err != nil {
		return GradSetup{}, fmt.Errorf("opcheck: %s: %w", c, err)
	}
	s := GradSetup{Op: d, Shapes: shapes}
	for _, sh := range shapes {
		s.X = append(s.X, graph.To64(r.Uniform(sh.Numel(), -1, 1)))
	}
	_, vals := d.Trainable()
	for _, v := range vals {
		s.P = append(s.P, graph.To64(v))
	}
	s.DOut = graph.To64(r.Uniform(out.Numel(), -1, 1))
	return s, nil
}

// Backward returns the op's gradients, inputs first, then parameters.
func (s GradSetup) Backward() [][]float64 {
	out := s.forward()
	dx, dp := s.Op.Backward64(s.Shapes, s.X, s.P, out, s.DOut)
	return append(dx, dp...)
}

func (s GradSetup) forward() []float64 {
	o, _ := s.Op.OutShape(s.Shapes)
	out := make([]float64, o.Numel())
	s.Op.Forward64(s.Shapes, s.X, s.P, out)
	return out
}

// loss is Σ out·DOut.
func (s GradSetup) loss() float64 {
	var l float64
	for i, v := range s.forward() {
		l += v * s.DOut[i]
	}
	return l
}

// FiniteDiff returns the central differences (L(v+h) − L(v−h))/2h of the
// loss for every input and parameter element v, in Backward's order. The
// setup's arrays are restored afterwards.
func (s GradSetup) FiniteDiff(h float64) [][]float64 {
	var out [][]float64
	for _, arr := range append(append([][]float64(nil), s.X...), s.P...) {
		d := make([]float64, len(arr))
		for i, v := range arr {
			arr[i] = v + h
			up := s.loss()
			arr[i] = v - h
			down := s.loss()
			arr[i] = v
			d[i] = (up - down) / (2 * h)
		}
		out = append(out, d)
	}
	return out
}

// Names names the arrays of Backward's result: x0, x1, … for the inputs,
// then the parameters' names.
func (s GradSetup) Names() []string {
	var n []string
	for i := range s.X {
		n = append(n, fmt.Sprint("x", i))
	}
	names, _ := s.Op.Trainable()
	return append(n, names...)
}

// GradErr returns, over the arrays, the largest max|got − want| /
// max|want| (each array against its own largest element), and an error
// for a shape mismatch or a NaN/Inf in got.
func GradErr(got, want [][]float64) (float64, error) {
	if len(got) != len(want) {
		return math.Inf(1), fmt.Errorf("%d gradient arrays, want %d", len(got), len(want))
	}
	worst := 0.0
	for k := range got {
		if len(got[k]) != len(want[k]) {
			return math.Inf(1), fmt.Errorf("gradient %d has %d elements, want %d", k, len(got[k]), len(want[k]))
		}
		var diff, scale float64
		for i, g := range got[k] {
			if math.IsNaN(g) || math.IsInf(g, 0) {
				return math.Inf(1), fmt.Errorf("gradient %d element %d is %v", k, i, g)
			}
			diff = math.Max(diff, math.Abs(g-want[k][i]))
			scale = math.Max(scale, math.Abs(want[k][i]))
		}
		if scale == 0 {
			scale = 1
		}
		worst = math.Max(worst, diff/scale)
	}
	return worst, nil
}

// GradFDThreshold is the largest GradErr allowed between the backward
// pass and central differences with step GradFDStep in float64: the
// differences' truncation and rounding errors are near 1e-9.
const (
	GradFDThreshold = 1e-6
	GradFDStep      = 1e-5
)

// CheckFD runs case c with seed: the backward pass against central
// finite differences.
func CheckFD(c GradCase, seed uint64) (float64, error) {
	s, err := c.Setup(seed)
	if err != nil {
		return math.Inf(1), err
	}
	return GradErr(s.Backward(), s.FiniteDiff(GradFDStep))
}

// GradCases are the gradient checks' cases: every op a ResNet's training
// graph uses, with the convolution strided, padded, grouped, dilated,
// with and without a bias, fused ReLU and residual; batch-norm in training
// and eval mode; the pools with padding and ceil mode; batch 2 or 3 so
// the batch statistics and the reductions over the batch count.
func GradCases() []GradCase {
	conv := func(cin, cout, k, s, p, groups int, bias, relu, res bool) *graph.Conv2D {
		c := graph.Conv(cin, cout, k, s, p)
		c.Groups, c.ReLU, c.Residual = groups, relu, res
		if bias {
			c.Bias = []float32{} // Random fills it
		}
		return c
	}
	scaled := conv(4, 4, 3, 1, 1, 1, true, true, false)
	scaled.Scale = []float32{}
	dil := conv(4, 4, 3, 1, 2, 1, true, false, false)
	dil.Dilation = [2]int{2, 2}
	asym := conv(3, 2, 3, 2, 0, 1, false, false, false)
	asym.KW, asym.Stride, asym.Pad = 2, [2]int{2, 1}, [4]int{1, 0, 0, 1}
	img := graph.Shape{2, 4, 6, 6}
	return []GradCase{
		{conv(3, 4, 3, 1, 1, 1, false, false, false), graph.Shape{2, 3, 5, 5}},
		{conv(3, 4, 3, 2, 1, 1, true, false, false), graph.Shape{2, 3, 7, 7}},
		{conv(4, 6, 3, 1, 1, 2, true, false, false), img},
		{conv(4, 4, 1, 2, 0, 1, false, false, false), img},
		{conv(4, 4, 3, 1, 1, 1, true, true, true), img},
		{conv(3, 4, 7, 2, 3, 1, false, false, false), graph.Shape{2, 3, 9, 9}},
		{scaled, img},
		{dil, img},
		{asym, graph.Shape{2, 3, 6, 5}},
		{conv(2, 3, 3, 2, 2, 1, true, false, false), graph.Shape{2, 2, 1, 1}}, // taps that read only padding
		{&graph.BatchNormTrain{Eps: 1e-5}, graph.Shape{3, 4, 3, 3}},
		{&graph.BatchNormTrain{Eps: 1e-5, ReLU: true}, graph.Shape{2, 3, 2, 2}},
		{&graph.BatchNorm{Eps: 1e-5}, graph.Shape{2, 4, 3, 3}},
		{&graph.BatchNorm{Eps: 1e-5, ReLU: true}, graph.Shape{2, 4, 3, 3}},
		{graph.ReLU{}, img},
		{graph.Clip{Min: -0.25, Max: 0.5}, img},
		{graph.Add{}, img},
		{graph.Add{ReLU: true}, img},
		{graph.MaxPool(3, 2, 1), graph.Shape{2, 3, 7, 7}},
		{graph.MaxPool(2, 2, 0), graph.Shape{2, 3, 6, 6}},
		{graph.Pool{KH: 3, KW: 3, Stride: [2]int{2, 2}, Pad: [4]int{1, 1, 1, 1}, CountIncludePad: true}, graph.Shape{2, 3, 7, 7}},
		{graph.Pool{KH: 3, KW: 3, Stride: [2]int{2, 2}, Pad: [4]int{1, 1, 1, 1}, CeilMode: true}, graph.Shape{2, 3, 6, 6}},
		{graph.GlobalAvgPool{}, img},
		{graph.Flatten{Axis: 1}, img},
		{&graph.Linear{In: 6, Out: 5, Bias: []float32{}}, graph.Shape{3, 6}},
		{graph.Softmax{}, graph.Shape{3, 5}},
		{graph.Softmax{}, graph.Shape{2, 3, 70}}, // rows longer than a workgroup
		{graph.SoftmaxCrossEntropy{}, graph.Shape{3, 5}},
	}
}

// GradGPUThreshold is the largest GradErr between the float32 backward
// kernels and the float64 reference: float32 sums of at most a few
// hundred products.
const GradGPUThreshold = 1e-5

// ErrNoGPUGrad reports a case whose op has no GPU backward (CheckGPU).
var ErrNoGPUGrad = errors.New("opcheck: no GPU gradient")

// CheckGPU runs case c with seed: the GPU backward pass (graph/gpugrad,
// one submission) from the CPU reference's forward values against the
// CPU reference's gradients. An op without GPU kernels for its
// configuration (a convolution with a Scale) gives ErrNoGPUGrad.
func CheckGPU(c GradCase, ex *gpugrad.Executor, seed uint64) (float64, error) {
	if _, ok := c.Op.(graph.GPUDifferentiable); !ok {
		return 0, ErrNoGPUGrad
	}
	if conv, ok := c.Op.(*graph.Conv2D); ok && (conv.Scale != nil || conv.PreScale != nil) {
		return 0, ErrNoGPUGrad
	}
	s, err := c.Setup(seed)
	if err != nil {
		return math.Inf(1), err
	}
	var b graph.Builder
	var ins []*graph.Value
	values := map[int][]float32{}
	for i, sh := range s.Shapes {
		v := b.Input(fmt.Sprint("in", i), sh)
		values[v.ID] = graph.To32(s.X[i])
		ins = append(ins, v)
	}
	y := b.Apply(c.Op.Kind(), s.Op, ins...)
	b.Output(y)
	g, err := b.Graph()
	if err != nil {
		return math.Inf(1), err
	}
	values[y.ID] = graph.To32(s.forward())
	params := make([][]float32, len(s.P))
	for i, p := range s.P {
		params[i] = graph.To32(p)
	}
	var want gpugrad.Options
	for _, v := range ins {
		want.DValues = append(want.DValues, v.ID)
	}
	r, err := ex.Backward(g, values, [][][]float32{params}, graph.To32(s.DOut), want)
	if err != nil {
		return math.Inf(1), err
	}
	var got [][]float64
	for _, v := range ins {
		got = append(got, graph.To64(r.DValues[v.ID]))
	}
	for _, d := range r.DParams[0] {
		got = append(got, graph.To64(d))
	}
	return GradErr(got, s.Backward())
}
