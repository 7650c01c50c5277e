package graph

import (
	"fmt"
	"math"

	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// The element-wise ops (ReLU, Add, BatchNorm) share one kernel,
// elementwise.wgsl; the fusion pass folds them into convolutions where it
// can, so they run on their own only in unusual graphs (and on
// concatenations: DenseNet's batch-norms read slices of one). They are
// Strided: they read and write any layout.

// eltwiseStrided is what the element-wise ops share: every input and the
// output at any layout.
type eltwiseStrided struct{}

// StridedIn implements Strided.
func (eltwiseStrided) StridedIn(int) bool { return true }

// StridedOut implements Strided.
func (eltwiseStrided) StridedOut() bool { return true }

// ReLU is out = max(in, 0).
type ReLU struct{ eltwiseStrided }

// Kind implements Op.
func (ReLU) Kind() string { return "relu" }

// Arity implements Op.
func (ReLU) Arity() int { return 1 }

// OutShape implements Op.
func (ReLU) OutShape(in []Shape) (Shape, error) { return in[0].Clone(), nil }

// Describe implements Op.
func (ReLU) Describe() string { return "" }

// Eval implements Op.
func (ReLU) Eval(_ []Shape, data [][]float32, out []float32) {
	for i, v := range data[0] {
		out[i] = float32(math.Max(float64(v), 0))
	}
}

// Lower implements Op.
func (ReLU) Lower(l Lowerer, in []Shape, _ Shape) error {
	return eltwise(l, shaders.ModeReLU, false, in[0], map[string]Res{"a": In(0), "b": In(0), "dst": Out()}) // b unread
}

// Random implements Op.
func (r ReLU) Random(_ *Rand, in Shape) (Op, []Shape) { return r, []Shape{in} }

// Params implements Op.
func (ReLU) Params() [][]float32 { return nil }

// FLOPs implements Op.
func (ReLU) FLOPs(_ []Shape, out Shape) int64 { return int64(out.Numel()) }

// Add is out = a + b, then max(·,0) if ReLU.
type Add struct {
	eltwiseStrided
	ReLU bool
}

// Kind implements Op.
func (Add) Kind() string { return "add" }

// Arity implements Op.
func (Add) Arity() int { return 2 }

// OutShape implements Op.
func (Add) OutShape(in []Shape) (Shape, error) {
	if !in[0].Equal(in[1]) {
		return nil, fmt.Errorf("add: shapes %v and %v differ", in[0], in[1])
	}
	return in[0].Clone(), nil
}

// Describe implements Op.
func (a Add) Describe() string {
	if a.ReLU {
		return "relu"
	}
	return ""
}

// Eval implements Op.
func (a Add) Eval(_ []Shape, data [][]float32, out []float32) {
	for i := range out {
		v := float64(data[0][i]) + float64(data[1][i])
		if a.ReLU {
			v = math.Max(v, 0)
		}
		out[i] = float32(v)
	}
}

// Lower implements Op.
func (a Add) Lower(l Lowerer, in []Shape, _ Shape) error {
	return eltwise(l, shaders.ModeAdd, a.ReLU, in[0], map[string]Res{"a": In(0), "b": In(1), "dst": Out()})
}

// Random implements Op: both inputs have the shape in.
func (a Add) Random(_ *Rand, in Shape) (Op, []Shape) { return a, []Shape{in, in} }

// Params implements Op.
func (Add) Params() [][]float32 { return nil }

// FLOPs implements Op.
func (Add) FLOPs(_ []Shape, out Shape) int64 { return int64(out.Numel()) }

// BatchNorm is inference-mode batch normalisation over axis 1:
//
//	out[n,c,…] = (in[n,c,…] − Mean[c]) / sqrt(Var[c] + Eps) · Gamma[c] + Beta[c],
//
// then max(·,0) if ReLU (a pre-activation, as DenseNet's layers have).
type BatchNorm struct {
	eltwiseStrided
	Gamma, Beta, Mean, Var []float32
	Eps                    float64
	ReLU                   bool
}

// Kind implements Op.
func (b *BatchNorm) Kind() string { return "batchnorm" }

// Arity implements Op.
func (b *BatchNorm) Arity() int { return 1 }

// OutShape implements Op.
func (b *BatchNorm) OutShape(in []Shape) (Shape, error) {
	if len(in[0]) < 2 {
		return nil, fmt.Errorf("batchnorm: input has shape %v, want channels on axis 1", in[0])
	}
	c := in[0][1]
	if len(b.Gamma) != c || len(b.Beta) != c || len(b.Mean) != c || len(b.Var) != c {
		return nil, fmt.Errorf("batchnorm: parameters do not have %d channels", c)
	}
	return in[0].Clone(), nil
}

// Describe implements Op.
func (b *BatchNorm) Describe() string {
	if b.ReLU {
		return fmt.Sprintf("eps=%g,relu", b.Eps)
	}
	return fmt.Sprintf("eps=%g", b.Eps)
}

// Affine returns the per-channel scale gamma/sqrt(var+eps) and shift
// beta − mean·scale, computed in float64 and rounded once.
func (b *BatchNorm) Affine() (scale, shift []float32) {
	scale, shift = make([]float32, len(b.Gamma)), make([]float32, len(b.Gamma))
	for c := range b.Gamma {
		s := float64(b.Gamma[c]) / math.Sqrt(float64(b.Var[c])+b.Eps)
		scale[c] = float32(s)
		shift[c] = float32(float64(b.Beta[c]) - float64(b.Mean[c])*s)
	}
	return scale, shift
}

// Eval implements Op.
func (b *BatchNorm) Eval(in []Shape, data [][]float32, out []float32) {
	s := in[0]
	inner := s.Numel() / (s[0] * s[1])
	for n := 0; n < s[0]; n++ {
		for c := 0; c < s[1]; c++ {
			k := float64(b.Gamma[c]) / math.Sqrt(float64(b.Var[c])+b.Eps)
			base := (n*s[1] + c) * inner
			for i := base; i < base+inner; i++ {
				v := (float64(data[0][i])-float64(b.Mean[c]))*k + float64(b.Beta[c])
				if b.ReLU {
					v = max(v, 0)
				}
				out[i] = float32(v)
			}
		}
	}
}

// Lower implements Op: scales and shifts in one parameter array.
func (b *BatchNorm) Lower(l Lowerer, in []Shape, _ Shape) error {
	scale, shift := b.Affine()
	return eltwise(l, shaders.ModeAffine, b.ReLU, in[0], map[string]Res{"a": In(0), "b": Param("affine", append(scale, shift...)), "dst": Out()})
}

// Random implements Op: gammas and variances in [0.5, 1.5), betas and
// means in [-0.5, 0.5).
func (b *BatchNorm) Random(r *Rand, in Shape) (Op, []Shape) {
	ch := in[1]
	eps := b.Eps
	if eps == 0 {
		eps = 1e-5
	}
	return &BatchNorm{Gamma: r.Uniform(ch, 0.5, 1.5), Beta: r.Uniform(ch, -0.5, 0.5), Mean: r.Uniform(ch, -0.5, 0.5), Var: r.Uniform(ch, 0.5, 1.5), Eps: eps, ReLU: b.ReLU}, []Shape{in}
}

// Params implements Op.
func (b *BatchNorm) Params() [][]float32 { return [][]float32{b.Gamma, b.Beta, b.Mean, b.Var} }

// NumParams implements ParamCounter: Gamma and Beta; PyTorch keeps Mean
// and Var as buffers.
func (b *BatchNorm) NumParams() int { return len(b.Gamma) + len(b.Beta) }

// FLOPs implements Op.
func (b *BatchNorm) FLOPs(_ []Shape, out Shape) int64 { return 2 * int64(out.Numel()) }

// eltwise records elementwise.wgsl over a tensor of shape s (channels on
// axis 1), with binds' a, b (a node input in ModeAdd) and dst at their
// layouts.
func eltwise(l Lowerer, mode uint32, relu bool, s Shape, binds map[string]Res) error {
	c := 1
	if len(s) > 1 {
		c = s[1]
	}
	g := shaders.EltwiseGeom{N: s[0], C: c, Inner: s.Numel() / max(s[0]*c, 1),
		A: l.Layout(binds["a"]), Dst: l.Layout(binds["dst"])}
	if mode == shaders.ModeAdd {
		g.B = l.Layout(binds["b"])
	}
	k, err := shaders.Elementwise(mode, relu, g, l.Caps().MaxWorkgroupsPerDimension)
	if err != nil {
		return err
	}
	l.Launch(k, binds)
	return nil
}
