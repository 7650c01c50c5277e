package shaders

import (
	"fmt"
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
)

// ConvParams mirrors `struct Params` in conv2d.wgsl and conv2d_gemm.wgsl.
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

// Conv variants. All but ConvTiled are conv2d_gemm.wgsl with a tile shape
// (output channels × pixels) and a loader of the input matrix.
const (
	ConvTiled        = "tiled"         // general implicit GEMM, 64×64 tiles (conv2d.wgsl)
	ConvTiled64      = "tiled64"       // implicit GEMM, 64×64 tiles, 4×4 per invocation, kernel size compiled in
	ConvTiled128     = "tiled128"      // implicit GEMM, 128×64 tiles, 8×4 per invocation: many channels, large batches
	ConvTiled64x128  = "tiled64x128"   // implicit GEMM, 64×128 tiles, 4×8 per invocation: many pixels, large batches
	ConvSmall        = "small"         // implicit GEMM, 32×32 tiles, K split 4 ways inside the workgroup
	ConvSplitK       = "splitk"        // implicit GEMM, 16×16 tiles, K split 16 ways inside the workgroup
	ConvGemm1x1      = "gemm1x1"       // 1×1 stride 1 as a GEMM per image, 64×64 tiles, vec4 loads
	ConvGemm1x1Big   = "gemm1x1_128"   // gemm1x1 with 128×64 tiles
	ConvGemm1x1Small = "gemm1x1_small" // gemm1x1 with 32×32 tiles, K split 4 ways
	ConvDirect       = "direct"        // no workgroup memory or barriers, for CPU adapters: up to 7×7 generated (conv2d_direct.go), larger kernels conv2d_direct.wgsl
)

// ConvVariants lists the convolution kernels an executor may choose from.
func ConvVariants() []string {
	return []string{ConvTiled, ConvTiled64, ConvTiled128, ConvTiled64x128, ConvSmall, ConvSplitK, ConvGemm1x1, ConvGemm1x1Big, ConvGemm1x1Small, ConvDirect}
}

// gemmTile is a tile shape of conv2d_gemm.wgsl: a BM (output channels) ×
// BN (columns) tile per workgroup of 256 invocations, TM × TN per
// invocation, K split KS ways inside the workgroup, BK rows per slice and
// step.
type gemmTile struct{ BM, BN, BK, TM, TN, KS int }

// gemmVariant is a conv2d_gemm.wgsl variant: a tile shape and whether it
// reads the input as 1×1 (one image per grid z) or through im2col.
type gemmVariant struct {
	tile gemmTile
	is1  bool
}

var gemmVariants = map[string]gemmVariant{
	ConvTiled64:      {gemmTile{64, 64, 16, 4, 4, 1}, false},
	ConvTiled128:     {gemmTile{128, 64, 16, 8, 4, 1}, false},
	ConvTiled64x128:  {gemmTile{64, 128, 16, 4, 8, 1}, false},
	ConvSmall:        {gemmTile{32, 32, 8, 4, 4, 4}, false},
	ConvSplitK:       {gemmTile{16, 16, 4, 4, 4, 16}, false},
	ConvGemm1x1:      {gemmTile{64, 64, 16, 4, 4, 1}, true},
	ConvGemm1x1Big:   {gemmTile{128, 64, 16, 8, 4, 1}, true},
	ConvGemm1x1Small: {gemmTile{32, 32, 8, 4, 4, 4}, true},
}

// gemmThreads is the workgroup size of conv2d_gemm.wgsl.
const gemmThreads = 256

// maxSharedBytes bounds a tile's workgroup memory: lavapipe offers 32 KiB,
// NVIDIA 48 KiB. (wgpu 0.17 does not check it: a kernel past the limit
// corrupts memory or loses the device.)
const maxSharedBytes = 32 << 10

// consts returns the tile's constants for conv2d_gemm.wgsl, or an error if
// the shape breaks one of the kernel's assumptions.
func (t gemmTile) consts() ([]Const, error) {
	bkt := t.BK * t.KS
	pow2 := func(v int) bool { return v > 0 && v&(v-1) == 0 }
	ald, bld := t.BM*bkt/(4*gemmThreads), t.BN*bkt/(4*gemmThreads)
	ok := (t.TM == 4 || t.TM == 8) && (t.TN == 4 || t.TN == 8) && t.BM%t.TM == 0 && t.BN%t.TN == 0 &&
		(t.BM/t.TM)*(t.BN/t.TN)*t.KS == gemmThreads && (t.KS == 1 || t.TM == 4 && t.TN == 4) &&
		pow2(bkt) && bkt <= gemmThreads && pow2(t.BN) && (t.BM/4)%2 == 0 &&
		(t.BM*bkt)%(4*gemmThreads) == 0 && (ald == 1 || ald == 2) &&
		(t.BN*bkt)%(4*gemmThreads) == 0 && (bld == 1 || bld == 2)
	if !ok {
		return nil, fmt.Errorf("shaders: bad conv2d_gemm tile %+v", t)
	}
	astr, bstr := t.BM/4+1, t.BN/4
	asz, bsz := bkt*astr, bkt*bstr
	sh := 2 * (asz + bsz)
	if t.KS > 1 {
		sh = max(sh, t.KS*t.BM*t.BN/4) // the slices' partial sums
	}
	if 16*sh > maxSharedBytes {
		return nil, fmt.Errorf("shaders: conv2d_gemm tile %+v needs %d bytes of workgroup memory", t, 16*sh)
	}
	c := func(name string, v int) Const { return Const{name, uint32(v)} }
	return []Const{
		c("BM", t.BM), c("BN", t.BN), c("BK", t.BK), c("TM", t.TM), c("TN", t.TN), c("KS", t.KS),
		c("BKT", bkt), c("RM", t.TM/4), c("RN", t.TN/4), c("NTS", gemmThreads/t.KS),
		c("ASTR", astr), c("BSTR", bstr), c("ASZ", asz), c("BSZ", bsz), c("SHSZ", sh),
		c("ALD", ald), c("BLD", bld),
	}, nil
}

// ConvSupports reports whether variant applies to op on an input of shape
// in: the 1×1 variants need a 1×1 kernel, stride 1 and no padding; the
// others take any convolution.
func ConvSupports(variant string, op *graph.Conv2D, in graph.Shape) bool {
	if variant == ConvTiled || variant == ConvDirect || variant == "" {
		return true
	}
	v, ok := gemmVariants[variant]
	if !ok {
		return false
	}
	return !v.is1 || is1x1(op)
}

func is1x1(op *graph.Conv2D) bool {
	return op.KH == 1 && op.KW == 1 && op.Stride == 1 && op.Pad == 0
}

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
	if variant == ConvTiled || variant == "" {
		g := gpu.Groups{(p.NPix + 63) / 64, (p.Cout + 63) / 64, 1}
		if err := g.Check(maxGroups); err != nil {
			return Launch{}, err
		}
		consts := []Const{{"RESIDUAL", op.Residual}, {"RELU", op.ReLU}}
		return Launch{
			Key:    gpu.Key{Kernel: "conv2d", Variant: ConvTiled, Consts: [8]uint32{b2u(op.Residual), b2u(op.ReLU)}},
			Source: func() string { return Source("conv2d_params.wgsl", consts...) + Source("conv2d.wgsl") },
			Params: &p,
			Groups: g,
		}, nil
	}
	if variant == ConvDirect {
		if dm, dr, dc, ok := directBlock(p.KH, p.KW, p.Stride); ok {
			nblk := p.N * ((p.OH + dr - 1) / dr) * ((p.OW + dc - 1) / dc)
			g, err := gpu.Split1D(nblk*((p.Cout+dm-1)/dm), 8, maxGroups)
			if err != nil {
				return Launch{}, err
			}
			consts := []Const{{"RESIDUAL", op.Residual}, {"RELU", op.ReLU}}
			return Launch{
				Key: gpu.Key{Kernel: "conv2d", Variant: variant, Consts: [8]uint32{b2u(op.Residual), b2u(op.ReLU), p.KH, p.KW, p.Stride, dm, dr, dc}},
				Source: func() string {
					return Source("conv2d_params.wgsl", consts...) + directSource(p.KH, p.KW, p.Stride, dm, dr, dc)
				},
				Params: &p,
				Groups: g,
			}, nil
		}
		g := gpu.Groups{(p.NPix + 31) / 32, (p.Cout + 63) / 64, 1} // 8×8 invocations of 4 pixels × 8 channels
		if err := g.Check(maxGroups); err != nil {
			return Launch{}, err
		}
		consts := []Const{{"RESIDUAL", op.Residual}, {"RELU", op.ReLU}, {"KH", p.KH}, {"KW", p.KW}, {"STRIDE", p.Stride}}
		return Launch{
			Key:    gpu.Key{Kernel: "conv2d", Variant: variant, Consts: [8]uint32{b2u(op.Residual), b2u(op.ReLU), p.KH, p.KW, p.Stride}},
			Source: func() string { return Source("conv2d_params.wgsl", consts...) + Source("conv2d_direct.wgsl") },
			Params: &p,
			Groups: g,
		}, nil
	}
	v, ok := gemmVariants[variant]
	if !ok {
		return Launch{}, fmt.Errorf("shaders: unknown conv2d variant %q", variant)
	}
	if !ConvSupports(variant, op, in) {
		return Launch{}, fmt.Errorf("shaders: conv2d variant %q does not apply to %s", variant, graph.Name(op, in))
	}
	tc, err := v.tile.consts()
	if err != nil {
		return Launch{}, err
	}
	bm, bn := uint32(v.tile.BM), uint32(v.tile.BN)
	// The loader: 1 = 1×1 with vec4 loads, 2 = 1×1 element by element,
	// 0 = im2col.
	loader, file := uint32(0), "conv2d_im2col.wgsl"
	g := gpu.Groups{(p.NPix + bn - 1) / bn, (p.Cout + bm - 1) / bm, 1}
	if v.is1 {
		hw := p.OH * p.OW
		loader, file = 2, "conv2d_1x1s.wgsl"
		if hw%4 == 0 {
			loader, file = 1, "conv2d_1x1.wgsl"
		}
		g = gpu.Groups{(hw + bn - 1) / bn, (p.Cout + bm - 1) / bm, p.N}
	}
	if err := g.Check(maxGroups); err != nil {
		return Launch{}, err
	}
	consts := append([]Const{
		{"RESIDUAL", op.Residual}, {"RELU", op.ReLU},
		{"KH", p.KH}, {"KW", p.KW}, {"STRIDE", p.Stride},
	}, tc...)
	return Launch{
		Key: gpu.Key{Kernel: "conv2d", Variant: variant,
			Consts: [8]uint32{b2u(op.Residual), b2u(op.ReLU), p.KH, p.KW, p.Stride, loader}},
		Source: func() string {
			return Source("conv2d_params.wgsl", consts...) + Source(file) + Source("conv2d_gemm.wgsl")
		},
		Params: &p,
		Groups: g,
	}, nil
}
