package shaders

import (
	"fmt"
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// ConvParams mirrors `struct Params` in conv2d_params.wgsl.
type ConvParams struct {
	N, Cin, H, W       uint32
	Cout, OH, OW, KH   uint32
	KW, Stride, Pad, K uint32
	NPix, KChunk       uint32 // KChunk: rows of K per grid slice (K split across workgroups)
	OutOff, OutBStride uint32 // the output's layout (conv2d_epilogue.wgsl)
	InOff, InBStride   uint32 // the input's layout: read by the 1×1 GEMM loaders only
	_                  [2]uint32
}

var (
	_ [unsafe.Sizeof(ConvParams{}) - 80]byte
	_ [80 - unsafe.Sizeof(ConvParams{})]byte
)

// convParams fills ConvParams for a plain convolution (ConvGeom.Plain):
// one stride, one padding.
func convParams(g ConvGeom) ConvParams {
	oh, ow := g.OH(), g.OW()
	off, bs := g.outLayout()
	ioff, ibs := g.inLayout()
	return ConvParams{
		N: u32(g.N), Cin: u32(g.Cin), H: u32(g.H), W: u32(g.W),
		Cout: u32(g.Cout), OH: u32(oh), OW: u32(ow), KH: u32(g.KH),
		KW: u32(g.KW), Stride: u32(g.SH), Pad: u32(g.PT), K: u32(g.K()),
		NPix: u32(g.N * oh * ow), OutOff: off, OutBStride: bs, InOff: ioff, InBStride: ibs,
	}
}

// outLayout is the offset and batch stride of g's output (checked by
// ConvGeom.Check) for the kernels' parameters.
func (g ConvGeom) outLayout() (off, bstride uint32) {
	off, bstride, _ = g.Out.at(g.N, g.Cout*g.OH()*g.OW())
	return off, bstride
}

// inLayout is the offset and batch stride of g's input (checked by
// ConvGeom.Check) for the kernels' parameters: a contiguous input's are 0
// and Cin·H·W.
func (g ConvGeom) inLayout() (off, bstride uint32) {
	off, bstride, _ = g.In.at(g.N, g.Cin*g.H*g.W)
	return off, bstride
}

// ConvLaunch is a convolution's launches: one, or the main launch with a
// launch before it (Winograd's input transform, direct4's packing) and
// after it (the reduction of a K split, Winograd's output transform),
// which pass data through two scratch buffers. Each launch names its
// bindings (Launch.Binds); the executor binds by these roles:
//
//	src     the convolution's input; for Launch, Pre's result when Pre is set
//	weight  the weights, after Weights when it is set
//	scale, bias, res   the epilogue's per-channel scale and bias, the residual (any buffer without one)
//	dst     the output; for Pre scratch 0, for Launch scratch 1 when Post is set
//	part, prod   Post's input: scratch 1
//	flat    direct4's Pre: the input copied into a texture (Texels)
//	pre     the input stage (ConvGeom.Pre): Cin scales, then Cin shifts
type ConvLaunch struct {
	Pre *Launch
	Launch
	Post *Launch
	// Scratch is the float32 elements of the two scratch buffers.
	Scratch [2]int
	// Weights, when set, transforms the weights before upload; WeightsTag
	// names the transform, so that transformed weights are shared too.
	Weights    func([]float32) []float32
	WeightsTag string
	// Texels, when non-zero, marks a kernel that reads textures (direct4)
	// through two texture scratches of Texels texels: the host copies the
	// input's buffer from its start into the first, 4 floats a texel
	// (InTexels of them: through the last image at the input's layout),
	// before Pre, which packs it into the second; Launch reads that as src
	// and the weights, after Weights, as a texture.
	Texels, InTexels int
}

// PackParams mirrors `struct Params` in conv2d_pack.wgsl: C channels of
// HW pixels an image into Texels texels, the input at its layout
// (ConvGeom.In).
type PackParams struct {
	C, HW, Texels    uint32
	InOff, InBStride uint32
	_                [3]uint32
}

// ReduceParams mirrors `struct Params` in conv2d_reduce.wgsl.
type ReduceParams struct {
	Total, OH, OW, Cout uint32
	Splits              uint32
	OutOff, OutBStride  uint32 // the output's layout (conv2d_epilogue.wgsl)
	_                   uint32
}

// WinoParams mirrors `struct Params` in conv2d_wino_params.wgsl.
type WinoParams struct {
	N, C, H, W         uint32
	Cout, OH, OW, Pad  uint32
	TH, TW, P, P4      uint32
	OutOff, OutBStride uint32 // the output's layout (conv2d_epilogue.wgsl)
	_                  [2]uint32
}

var (
	_ [unsafe.Sizeof(ReduceParams{}) - 32]byte
	_ [32 - unsafe.Sizeof(ReduceParams{})]byte
	_ [unsafe.Sizeof(PackParams{}) - 32]byte
	_ [32 - unsafe.Sizeof(PackParams{})]byte
	_ [unsafe.Sizeof(WinoParams{}) - 64]byte
	_ [64 - unsafe.Sizeof(WinoParams{})]byte
)

// Conv2D returns the launches of convolution kernel name (an entry of
// ConvKernels) for g.
func Conv2D(g ConvGeom, name string, c gpu.Caps) (ConvLaunch, error) {
	if err := g.Check(); err != nil {
		return ConvLaunch{}, err
	}
	k, ok := Kernel(name)
	if !ok {
		return ConvLaunch{}, fmt.Errorf("shaders: unknown conv2d kernel %q", name)
	}
	if !k.Computes(g) {
		return ConvLaunch{}, fmt.Errorf("shaders: conv2d kernel %q does not apply to %s", name, g)
	}
	cl, err := k.Launch(g, c)
	if err != nil {
		return ConvLaunch{}, err
	}
	for _, l := range []*Launch{cl.Pre, &cl.Launch, cl.Post} {
		if l != nil {
			if err := l.Groups.Check(c.MaxWorkgroupsPerDimension); err != nil {
				return ConvLaunch{}, err
			}
		}
	}
	return cl, nil
}

// epilogueFile is the epilogue every convolution kernel ends with.
const epilogueFile = "conv2d_epilogue.wgsl"

// epilogue returns the compile-time flags of a convolution's epilogue.
func epilogue(residual, relu bool) []Const {
	return []Const{{"RESIDUAL", residual}, {"RELU", relu}}
}
