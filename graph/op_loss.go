package graph

import (
	"fmt"
	"math"

	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// SoftmaxCrossEntropy is the mean softmax cross-entropy of logits [N, K]
// against one class index per row (PyTorch's F.cross_entropy with its
// default mean reduction):
//
//	out[0] = −(1/N) Σ_n log softmax(in[n])[Labels[n]].
//
// Its output has shape [1]: the loss a training graph ends in.
type SoftmaxCrossEntropy struct {
	Labels []int // [N], each in [0, K)
}

// Kind implements Op.
func (SoftmaxCrossEntropy) Kind() string { return "cross_entropy" }

// Arity implements Op.
func (SoftmaxCrossEntropy) Arity() int { return 1 }

// OutShape implements Op.
func (l SoftmaxCrossEntropy) OutShape(in []Shape) (Shape, error) {
	if len(in[0]) != 2 {
		return nil, fmt.Errorf("cross_entropy: input has shape %v, want [N K] logits", in[0])
	}
	if len(l.Labels) != in[0][0] {
		return nil, fmt.Errorf("cross_entropy: %d labels for %d rows", len(l.Labels), in[0][0])
	}
	for i, c := range l.Labels {
		if c < 0 || c >= in[0][1] {
			return nil, fmt.Errorf("cross_entropy: label %d of row %d is outside [0, %d)", c, i, in[0][1])
		}
	}
	return Shape{1}, nil
}

// Describe implements Op.
func (l SoftmaxCrossEntropy) Describe() string { return fmt.Sprintf("labels=%v", l.Labels) }

// Eval implements Op through Forward64.
func (l SoftmaxCrossEntropy) Eval(in []Shape, data [][]float32, out []float32) {
	eval64(l, in, data, out)
}

// Lower implements Op: cross_entropy.wgsl, the labels as floats.
func (l SoftmaxCrossEntropy) Lower(lw Lowerer, in []Shape, _ Shape) error {
	k, err := shaders.CrossEntropy(in[0][0], in[0][1])
	if err != nil {
		return err
	}
	lw.Launch(k, map[string]Res{"src": In(0), "labels": Param("labels", l.labels()), "dst": Out()})
	return nil
}

// labels returns Labels as floats, as the kernels read them.
func (l SoftmaxCrossEntropy) labels() []float32 {
	out := make([]float32, len(l.Labels))
	for i, c := range l.Labels {
		out[i] = float32(c)
	}
	return out
}

// Random implements Op: labels k·7 mod K for row k.
func (l SoftmaxCrossEntropy) Random(_ *Rand, in Shape) (Op, []Shape) {
	labels := make([]int, in[0])
	for k := range labels {
		labels[k] = k * 7 % in[1]
	}
	return SoftmaxCrossEntropy{Labels: labels}, []Shape{in}
}

// Params implements Op: the labels are attributes, not parameters.
func (SoftmaxCrossEntropy) Params() [][]float32 { return nil }

// FLOPs implements Op.
func (SoftmaxCrossEntropy) FLOPs(in []Shape, _ Shape) int64 { return 4 * int64(in[0].Numel()) }

// Trainable implements Differentiable: the loss has no parameters.
func (SoftmaxCrossEntropy) Trainable() ([]string, [][]float32) { return nil, nil }

// Forward64 implements Differentiable.
func (l SoftmaxCrossEntropy) Forward64(in []Shape, x, _ [][]float64, out []float64) {
	n, k := in[0][0], in[0][1]
	var sum float64
	for r := 0; r < n; r++ {
		row := x[0][r*k : (r+1)*k]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		var e float64
		for _, v := range row {
			e += math.Exp(v - m)
		}
		sum += m + math.Log(e) - row[l.Labels[r]] // −log softmax, without underflow
	}
	out[0] = sum / float64(n)
}

// Backward64 implements Differentiable: dx[n] = dout·(softmax(x[n]) −
// onehot(Labels[n]))/N.
func (l SoftmaxCrossEntropy) Backward64(in []Shape, x, _ [][]float64, _, dout []float64) ([][]float64, [][]float64) {
	n, k := in[0][0], in[0][1]
	dx := make([]float64, n*k)
	for r := 0; r < n; r++ {
		y := dx[r*k : (r+1)*k]
		softmax64(x[0][r*k:(r+1)*k], y)
		y[l.Labels[r]]--
		for i := range y {
			y[i] *= dout[0] / float64(n)
		}
	}
	return [][]float64{dx}, nil
}
