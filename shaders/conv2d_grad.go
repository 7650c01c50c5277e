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
	if off, bs, _ := g.Out.at(g.N, g.Cout*g.OH()*g.OW()); g.Pre || g.ReLU || g.Residual || !g.PlainIn() || off != 0 || int(bs) != g.Cout*g.OH()*g.OW() {
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
