package shaders

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// elementGrad returns a launch of kernel (file kernel.wgsl) over n
// invocations in workgroups of 64.
func elementGrad(kernel string, n int, params any, binds []string, maxGroups uint32, consts ...Const) (Launch, error) {
	grid, err := fold1D(n, 64, maxGroups)
	if err != nil {
		return Launch{}, err
	}
	var key [8]uint32
	for i, c := range consts {
		if b, ok := c.Value.(bool); ok {
			key[i] = b2u(b)
		}
	}
	return Launch{
		Key:    gpu.Key{Kernel: kernel, Consts: key},
		Source: func() string { return Source(kernel+".wgsl", consts...) },
		Params: params,
		Groups: grid,
		Binds:  binds,
	}, nil
}

// CountParams mirrors `struct Params` in relu_grad.wgsl and
// accumulate_grad.wgsl: an element count.
type CountParams struct {
	Total uint32
	_     [3]uint32
}

var (
	_ [unsafe.Sizeof(CountParams{}) - 16]byte
	_ [16 - unsafe.Sizeof(CountParams{})]byte
)

// ReLUGrad returns the launch computing dx = dy where src > 0, else 0,
// over n elements: the gradient of a ReLU whose input (or output) is src.
// Bindings: dy, src, dx.
func ReLUGrad(n int, maxGroups uint32) (Launch, error) {
	if n < 1 || !fits(n) {
		return Launch{}, fmt.Errorf("shaders: relu gradient of %d elements", n)
	}
	return elementGrad("relu_grad", n, &CountParams{Total: u32(n)}, []string{"dy", "src", "dx"}, maxGroups)
}

// ClipGradParams mirrors `struct Params` in clip_grad.wgsl: an element
// count and the bounds' float32 bit patterns.
type ClipGradParams struct {
	Total, Lo, Hi uint32
	_             uint32
}

var (
	_ [unsafe.Sizeof(ClipGradParams{}) - 16]byte
	_ [16 - unsafe.Sizeof(ClipGradParams{})]byte
)

// ClipGrad returns the launch computing dx = dy where lo <= src <= hi,
// else 0, over n elements: the gradient of a clamp to [lo, hi] whose input
// is src. Bindings: dy, src, dx.
func ClipGrad(n int, lo, hi float32, maxGroups uint32) (Launch, error) {
	if n < 1 || !fits(n) {
		return Launch{}, fmt.Errorf("shaders: clip gradient of %d elements", n)
	}
	p := &ClipGradParams{Total: u32(n), Lo: math.Float32bits(lo), Hi: math.Float32bits(hi)}
	return elementGrad("clip_grad", n, p, []string{"dy", "src", "dx"}, maxGroups)
}

// ChannelSumParams mirrors `struct Params` in channel_sum_grad.wgsl.
type ChannelSumParams struct {
	N, C, HW uint32
	_        uint32
}

var (
	_ [unsafe.Sizeof(ChannelSumParams{}) - 16]byte
	_ [16 - unsafe.Sizeof(ChannelSumParams{})]byte
)

// ChannelSum returns the launch computing dbias[c] = Σ over n and the hw
// positions of dy[n][c][hw]: the gradient of a per-channel bias.
// Bindings: dy, dbias.
func ChannelSum(n, c, hw int, maxGroups uint32) (Launch, error) {
	if n < 1 || c < 1 || hw < 1 || !fits(n, c, hw) {
		return Launch{}, fmt.Errorf("shaders: channel sum of %d×%d×%d elements", n, c, hw)
	}
	return elementGrad("channel_sum_grad", c, &ChannelSumParams{N: u32(n), C: u32(c), HW: u32(hw)}, []string{"dy", "dbias"}, maxGroups)
}

// PoolGradParams mirrors `struct Params` in pool_grad.wgsl.
type PoolGradParams struct {
	NC, H, W, OH   uint32
	OW, KH, KW, SH uint32
	SW, PT, PL, HP uint32 // HP = H + PB
	WP, Total      uint32 // WP = W + PR
	_              [2]uint32
}

var (
	_ [unsafe.Sizeof(PoolGradParams{}) - 64]byte
	_ [64 - unsafe.Sizeof(PoolGradParams{})]byte
)

// PoolGrad returns the launch computing the input gradient dx [N][C][H][W]
// of the max or average pool g (contiguous output) from the output
// gradient dy and, for a max pool, its input src. Bindings: dy, src, dx.
func PoolGrad(g PoolGeom, maxGroups uint32) (Launch, error) {
	if err := g.Check(); err != nil {
		return Launch{}, err
	}
	if g.Out != (Layout{}) {
		return Launch{}, fmt.Errorf("shaders: %v: the pool gradient takes a contiguous output", g)
	}
	p := PoolGradParams{
		NC: u32(g.N * g.C), H: u32(g.H), W: u32(g.W), OH: u32(g.OH()),
		OW: u32(g.OW()), KH: u32(g.KH), KW: u32(g.KW), SH: u32(g.SH),
		SW: u32(g.SW), PT: u32(g.PT), PL: u32(g.PL), HP: u32(g.H + g.PB),
		WP: u32(g.W + g.PR), Total: u32(g.N * g.C * g.H * g.W),
	}
	includePad := g.CountIncludePad && !g.Max
	return elementGrad("pool_grad", g.N*g.C*g.H*g.W, &p, []string{"dy", "src", "dx"}, maxGroups,
		Const{"MAX", g.Max}, Const{"INCLUDE_PAD", includePad})
}

// BatchNormGradParams mirrors `struct Params` in batchnorm_stats_grad.wgsl,
// batchnorm_eval_grad.wgsl and batchnorm_train.wgsl (Last is EpsBits there) and
// batchnorm_input_grad.wgsl (Last is the element count).
type BatchNormGradParams struct {
	N, C, HW, Last uint32
}

var (
	_ [unsafe.Sizeof(BatchNormGradParams{}) - 16]byte
	_ [16 - unsafe.Sizeof(BatchNormGradParams{})]byte
)

// BatchNormGrad returns the two launches of a training-mode batch-norm's
// backward over an input [n][c][hw] with epsilon eps and, if relu, a
// fused ReLU: stats computes the batch statistics into a buffer of 2c
// floats (mean, 1/sqrt(var+eps)) and the gradients of gamma and beta
// (bindings dy, src, fwd, stats, dgamma, dbeta), input the input gradient
// (bindings dy, src, fwd, gamma, stats, dgamma, dbeta, dx). src is the
// batch-norm's input, fwd its output.
func BatchNormGrad(n, c, hw int, eps float64, relu bool, maxGroups uint32) (stats, input Launch, err error) {
	if n < 1 || c < 1 || hw < 1 || !fits(n, c, hw) || !(eps > 0) {
		return Launch{}, Launch{}, fmt.Errorf("shaders: batch-norm gradient of %d×%d×%d elements, eps %g", n, c, hw, eps)
	}
	r := Const{"RELU", relu}
	stats, err = elementGrad("batchnorm_stats_grad", c,
		&BatchNormGradParams{N: u32(n), C: u32(c), HW: u32(hw), Last: math.Float32bits(float32(eps))},
		[]string{"dy", "src", "fwd", "stats", "dgamma", "dbeta"}, maxGroups, r)
	if err != nil {
		return Launch{}, Launch{}, err
	}
	input, err = elementGrad("batchnorm_input_grad", n*c*hw,
		&BatchNormGradParams{N: u32(n), C: u32(c), HW: u32(hw), Last: u32(n * c * hw)},
		[]string{"dy", "src", "fwd", "gamma", "stats", "dgamma", "dbeta", "dx"}, maxGroups, r)
	return stats, input, err
}

// BatchNormEvalGrad returns the launch of an eval-mode batch-norm's
// backward over an input [n][c][hw] with epsilon eps and, if relu, a
// fused ReLU: the gradients of the input, gamma and beta, given the
// running mean and variance in stats (two rows of c). Bindings: dy, src
// (the input), fwd (the output), gamma, stats, dgamma, dbeta, dx.
func BatchNormEvalGrad(n, c, hw int, eps float64, relu bool, maxGroups uint32) (Launch, error) {
	if n < 1 || c < 1 || hw < 1 || !fits(n, c, hw) || !(eps > 0) {
		return Launch{}, fmt.Errorf("shaders: batch-norm gradient of %d×%d×%d elements, eps %g", n, c, hw, eps)
	}
	return elementGrad("batchnorm_eval_grad", c,
		&BatchNormGradParams{N: u32(n), C: u32(c), HW: u32(hw), Last: math.Float32bits(float32(eps))},
		[]string{"dy", "src", "fwd", "gamma", "stats", "dgamma", "dbeta", "dx"}, maxGroups, Const{"RELU", relu})
}

// BatchNormTrain returns the launch of a training-mode batch-norm's
// forward (batch statistics) over an input [n][c][hw] with epsilon eps
// and, if relu, a fused ReLU. Bindings: src, gamma, beta, dst.
func BatchNormTrain(n, c, hw int, eps float64, relu bool, maxGroups uint32) (Launch, error) {
	if n < 1 || c < 1 || hw < 1 || !fits(n, c, hw) || !(eps > 0) {
		return Launch{}, fmt.Errorf("shaders: batch-norm of %d×%d×%d elements, eps %g", n, c, hw, eps)
	}
	return elementGrad("batchnorm_train", c,
		&BatchNormGradParams{N: u32(n), C: u32(c), HW: u32(hw), Last: math.Float32bits(float32(eps))},
		[]string{"src", "gamma", "beta", "dst"}, maxGroups, Const{"RELU", relu})
}

// CrossEntropy returns the launch of the mean softmax cross-entropy of n
// rows of k logits (src) against labels (one class a row, as floats) into
// dst[0]. Bindings: src, labels, dst.
func CrossEntropy(n, k int) (Launch, error) {
	if n < 1 || k < 1 || k >= 1<<24 || !fits(n, k) {
		return Launch{}, fmt.Errorf("shaders: cross-entropy of %d rows of %d", n, k)
	}
	return Launch{
		Key:    gpu.Key{Kernel: "cross_entropy"},
		Source: func() string { return Source("cross_entropy.wgsl") },
		Params: &CrossEntropyGradParams{N: u32(n), K: u32(k)},
		Groups: gpu.Groups{1, 1, 1},
		Binds:  []string{"src", "labels", "dst"},
	}, nil
}

// CrossEntropyGradParams mirrors `struct Params` in cross_entropy_grad.wgsl
// and cross_entropy.wgsl.
type CrossEntropyGradParams struct {
	N, K uint32
	_    [2]uint32
}

var (
	_ [unsafe.Sizeof(CrossEntropyGradParams{}) - 16]byte
	_ [16 - unsafe.Sizeof(CrossEntropyGradParams{})]byte
)

// CrossEntropyGrad returns the launch computing the gradient of the mean
// softmax cross-entropy of n rows of k logits (src) against labels (one
// class a row, as floats), for the loss gradient dy (one element).
// Bindings: dy, src, labels, dx.
func CrossEntropyGrad(n, k int, maxGroups uint32) (Launch, error) {
	if n < 1 || k < 1 || k >= 1<<24 || !fits(n, k) {
		return Launch{}, fmt.Errorf("shaders: cross-entropy gradient of %d rows of %d", n, k)
	}
	return elementGrad("cross_entropy_grad", n, &CrossEntropyGradParams{N: u32(n), K: u32(k)}, []string{"dy", "src", "labels", "dx"}, maxGroups)
}

// SoftmaxGrad returns the launch computing the gradient of a softmax over
// each of rows rows of n values from its output fwd and output gradient
// dy: dx = fwd ⊙ (dy − Σ dy⊙fwd) along each row. Its parameters are
// SoftmaxParams. Bindings: dy, fwd, dx.
func SoftmaxGrad(rows, n int, maxGroups uint32) (Launch, error) {
	if rows < 1 || n < 1 || !fits(rows, n) {
		return Launch{}, fmt.Errorf("shaders: softmax gradient of %d rows of %d", rows, n)
	}
	return elementGrad("softmax_grad", rows, &SoftmaxParams{Rows: u32(rows), Len: u32(n)}, []string{"dy", "fwd", "dx"}, maxGroups)
}

// Accumulate returns the launch adding src into dst over n elements: the
// gradient of a value several ops read. Bindings: src, dst.
func Accumulate(n int, maxGroups uint32) (Launch, error) {
	if n < 1 || !fits(n) {
		return Launch{}, fmt.Errorf("shaders: accumulation of %d elements", n)
	}
	return elementGrad("accumulate_grad", n, &CountParams{Total: u32(n)}, []string{"src", "dst"}, maxGroups)
}
