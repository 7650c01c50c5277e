package shaders

import (
	"fmt"
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
)

// ConvParams mirrors `struct Params` in conv2d.wgsl.
type ConvParams struct {
	N, Cin, H, W       uint32
	Cout, OH, OW, KH   uint32
	KW, Stride, Pad, K uint32
	NPix               uint32
	_                  [3]uint32
}

var (
	_ [unsafe.Sizeof(ConvParams{}) - 64]byte
	_ [64 - unsafe.Sizeof(ConvParams{})]byte
)

// Conv variants.
const (
	ConvTiled = "tiled" // general implicit GEMM, 64×64 tiles (conv2d.wgsl)
)

// ConvVariants lists the convolution kernels an executor may choose from.
func ConvVariants() []string { return []string{ConvTiled} }

// Conv2D returns the launch of a convolution of an input of shape in.
// Bindings: src, weight, scale, bias, res (any buffer when not Residual),
// dst.
func Conv2D(op *graph.Conv2D, in graph.Shape, variant string, maxGroups uint32) (Launch, error) {
	out := op.Out(in)
	if _, err := op.OutShape([]graph.Shape{in, out}); err != nil {
		return Launch{}, err
	}
	p := ConvParams{
		N: u32(in[0]), Cin: u32(in[1]), H: u32(in[2]), W: u32(in[3]),
		Cout: u32(op.Cout), OH: u32(out[2]), OW: u32(out[3]), KH: u32(op.KH),
		KW: u32(op.KW), Stride: u32(op.Stride), Pad: u32(op.Pad), K: u32(op.Cin * op.KH * op.KW),
		NPix: u32(out[0] * out[2] * out[3]),
	}
	switch variant {
	case ConvTiled, "":
		g := gpu.Groups{(p.NPix + 63) / 64, (p.Cout + 63) / 64, 1}
		if err := g.Check(maxGroups); err != nil {
			return Launch{}, err
		}
		consts := []Const{{"RESIDUAL", op.Residual}, {"RELU", op.ReLU}}
		return Launch{
			Key:    gpu.Key{Kernel: "conv2d", Variant: ConvTiled, Consts: [8]uint32{b2u(op.Residual), b2u(op.ReLU)}},
			Source: func() string { return Source("conv2d.wgsl", consts...) },
			Params: &p,
			Groups: g,
		}, nil
	}
	return Launch{}, fmt.Errorf("shaders: unknown conv2d variant %q", variant)
}
