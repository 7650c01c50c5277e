package graph

import (
	"math"

	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Softmax is out[…,k] = exp(in[…,k] − m) / Σ_j exp(in[…,j] − m) over the
// last axis, m the maximum along it.
type Softmax struct{}

// Kind implements Op.
func (Softmax) Kind() string { return "softmax" }

// Arity implements Op.
func (Softmax) Arity() int { return 1 }

// OutShape implements Op.
func (Softmax) OutShape(in []Shape) (Shape, error) { return in[0].Clone(), nil }

// Describe implements Op.
func (Softmax) Describe() string { return "" }

// rows returns the number of rows and their length.
func softmaxRows(s Shape) (rows, n int) {
	n = 1
	if len(s) > 0 {
		n = s[len(s)-1]
	}
	return s.Numel() / max(n, 1), n
}

// Eval implements Op.
func (Softmax) Eval(in []Shape, data [][]float32, out []float32) {
	rows, n := softmaxRows(in[0])
	for r := 0; r < rows; r++ {
		x, y := data[0][r*n:(r+1)*n], out[r*n:(r+1)*n]
		m := math.Inf(-1)
		for _, v := range x {
			m = math.Max(m, float64(v))
		}
		var sum float64
		for _, v := range x {
			sum += math.Exp(float64(v) - m)
		}
		for i, v := range x {
			y[i] = float32(math.Exp(float64(v)-m) / sum)
		}
	}
}

// Lower implements Op.
func (Softmax) Lower(l Lowerer, in []Shape, _ Shape) error {
	rows, n := softmaxRows(in[0])
	k, err := shaders.Softmax(rows, n, l.Caps().MaxWorkgroupsPerDimension)
	return srcDst(l, k, err)
}

// Random implements Op.
func (s Softmax) Random(_ *Rand, in Shape) (Op, []Shape) { return s, []Shape{in} }

// Params implements Op.
func (Softmax) Params() [][]float32 { return nil }

// FLOPs implements Op.
func (Softmax) FLOPs(_ []Shape, out Shape) int64 { return 3 * int64(out.Numel()) }
