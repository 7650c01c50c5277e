package shaders

import (
	"fmt"
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// The backward kernels (*_grad.wgsl): the gradients of a training step's
// ops, each a plain one-invocation-per-element kernel on contiguous
// tensors. A training executor records them after the forward launches,
// in reverse graph order, into one submission.

// ConvGradParams mirrors `struct Params` in conv2d_input_grad.wgsl and
// conv2d_weight_grad.wgsl (N is the weight kernel's; the input kernel's
// struct has padding there).
type ConvGradParams struct {
	Total, Cin, Cout, H uint32
	W, OH, OW, KH       uint32
	KW, SH, SW, PT      uint32
	PL, DH, DW, CG      uint32
	OG, N               uint32
	_                   [2]uint32
}

var (
	_ [unsafe.Sizeof(ConvGradParams{}) - 80]byte
	_ [80 - unsafe.Sizeof(ConvGradParams{})]byte
)

// convGradParams fills the parameters of g's gradient kernels with total
// invocations, or says why g is out of range. The gradients are those of
// the convolution's sum: its fused epilogue (scale, ReLU, residual) and
// input stage are not the kernels' to undo, so g must have none.
func convGradParams(g ConvGeom, total int) (ConvGradParams, error) {
	if err := g.Check(); err != nil {
		return ConvGradParams{}, err
	}
	if off, bs, _ := g.Out.at(g.N, g.Cout*g.OH()*g.OW()); g.Pre || g.ReLU || g.Residual || off != 0 || int(bs) != g.Cout*g.OH()*g.OW() {
		return ConvGradParams{}, fmt.Errorf("shaders: %v: the gradient kernels take a contiguous convolution without fused stages", g)
	}
	return ConvGradParams{
		Total: u32(total), Cin: u32(g.Cin), Cout: u32(g.Cout), H: u32(g.H),
		W: u32(g.W), OH: u32(g.OH()), OW: u32(g.OW()), KH: u32(g.KH),
		KW: u32(g.KW), SH: u32(g.SH), SW: u32(g.SW), PT: u32(g.PT),
		PL: u32(g.PL), DH: u32(g.DH), DW: u32(g.DW), CG: u32(g.Cin / g.Groups),
		OG: u32(g.Cout / g.Groups), N: u32(g.N),
	}, nil
}

// ConvInputGrad returns the launch computing the gradient dx [N][Cin][H][W]
// of convolution g's input from dy, the gradient at its sum
// [N][Cout][OH][OW], and its weights. Bindings: dy, weight, dx.
func ConvInputGrad(g ConvGeom, maxGroups uint32) (Launch, error) {
	return convGrad("conv2d_input_grad", g, g.N*g.Cin*g.H*g.W, []string{"dy", "weight", "dx"}, maxGroups)
}

// ConvWeightGrad returns the launch computing the gradient dweight
// [Cout][Cin/Groups][KH][KW] of convolution g's weights from dy, the
// gradient at its sum, and its input src. Bindings: dy, src, dweight.
func ConvWeightGrad(g ConvGeom, maxGroups uint32) (Launch, error) {
	return convGrad("conv2d_weight_grad", g, g.Cout*g.K(), []string{"dy", "src", "dweight"}, maxGroups)
}

func convGrad(kernel string, g ConvGeom, total int, binds []string, maxGroups uint32) (Launch, error) {
	p, err := convGradParams(g, total)
	if err != nil {
		return Launch{}, err
	}
	grid, err := fold1D(total, 64, maxGroups)
	if err != nil {
		return Launch{}, err
	}
	return Launch{
		Key:    gpu.Key{Kernel: kernel},
		Source: func() string { return Source(kernel + ".wgsl") },
		Params: &p,
		Groups: grid,
		Binds:  binds,
	}, nil
}

// ReLUGradParams mirrors `struct Params` in relu_grad.wgsl.
type ReLUGradParams struct {
	Total uint32
	_     [3]uint32
}

var (
	_ [unsafe.Sizeof(ReLUGradParams{}) - 16]byte
	_ [16 - unsafe.Sizeof(ReLUGradParams{})]byte
)

// ReLUGrad returns the launch computing dx = dy where src > 0, else 0,
// over n elements: the gradient of a ReLU whose input (or output) is src.
// Bindings: dy, src, dx.
func ReLUGrad(n int, maxGroups uint32) (Launch, error) {
	if n < 1 || !fits(n) {
		return Launch{}, fmt.Errorf("shaders: relu gradient of %d elements", n)
	}
	grid, err := fold1D(n, 64, maxGroups)
	if err != nil {
		return Launch{}, err
	}
	return Launch{
		Key:    gpu.Key{Kernel: "relu_grad"},
		Source: func() string { return Source("relu_grad.wgsl") },
		Params: &ReLUGradParams{Total: u32(n)},
		Groups: grid,
		Binds:  []string{"dy", "src", "dx"},
	}, nil
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
	grid, err := fold1D(c, 64, maxGroups)
	if err != nil {
		return Launch{}, err
	}
	return Launch{
		Key:    gpu.Key{Kernel: "channel_sum_grad"},
		Source: func() string { return Source("channel_sum_grad.wgsl") },
		Params: &ChannelSumParams{N: u32(n), C: u32(c), HW: u32(hw)},
		Groups: grid,
		Binds:  []string{"dy", "dbias"},
	}, nil
}
