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
	NPix, KChunk       uint32 // KChunk: rows of K per grid slice (K split across workgroups)
	_                  [2]uint32
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
	ConvDirect4      = "direct4"       // direct (up to 7×7) reading input and weights from textures of four channels a texel (conv2d_pack.wgsl packs the input), for llvmpipe
	ConvKSplit4      = "ksplit4"       // small's tiles with K also split across 4 workgroups, then conv2d_reduce.wgsl
	ConvKSplit8      = "ksplit8"       // the same across 8 workgroups
	ConvKSplit16     = "ksplit16"      // the same across 16 workgroups
	ConvWino         = "wino"          // 3×3 stride 1 as Winograd F(2×2, 3×3): input transform, 16 GEMMs (64×64 tiles), output transform
	ConvWinoSmall    = "wino_small"    // wino with small's 32×32 tiles, K split 4 ways inside the workgroup
)

// ConvVariants lists the convolution kernels an executor may choose from.
func ConvVariants() []string {
	return []string{ConvTiled, ConvTiled64, ConvTiled128, ConvTiled64x128, ConvSmall, ConvSplitK, ConvGemm1x1, ConvGemm1x1Big, ConvGemm1x1Small, ConvDirect, ConvDirect4, ConvKSplit4, ConvKSplit8, ConvKSplit16, ConvWino, ConvWinoSmall}
}

// gemmTile is a tile shape of conv2d_gemm.wgsl: a BM (output channels) ×
// BN (columns) tile per workgroup of 256 invocations, TM × TN per
// invocation, K split KS ways inside the workgroup, BK rows per slice and
// step.
type gemmTile struct{ BM, BN, BK, TM, TN, KS int }

// gemmVariant is a conv2d_gemm.wgsl variant: a tile shape, whether it
// reads the input as 1×1 (one image per grid z) or through im2col, across
// how many workgroups it splits K (im2col only; 0 or 1: none), and whether
// it is the GEMM of the Winograd variants.
type gemmVariant struct {
	tile  gemmTile
	is1   bool
	split int
	wino  bool
}

var gemmVariants = map[string]gemmVariant{
	ConvTiled64:      {gemmTile{64, 64, 16, 4, 4, 1}, false, 0, false},
	ConvTiled128:     {gemmTile{128, 64, 16, 8, 4, 1}, false, 0, false},
	ConvTiled64x128:  {gemmTile{64, 128, 16, 4, 8, 1}, false, 0, false},
	ConvSmall:        {gemmTile{32, 32, 8, 4, 4, 4}, false, 0, false},
	ConvSplitK:       {gemmTile{16, 16, 4, 4, 4, 16}, false, 0, false},
	ConvGemm1x1:      {gemmTile{64, 64, 16, 4, 4, 1}, true, 0, false},
	ConvGemm1x1Big:   {gemmTile{128, 64, 16, 8, 4, 1}, true, 0, false},
	ConvGemm1x1Small: {gemmTile{32, 32, 8, 4, 4, 4}, true, 0, false},
	ConvKSplit4:      {gemmTile{32, 32, 8, 4, 4, 4}, false, 4, false},
	ConvKSplit8:      {gemmTile{32, 32, 8, 4, 4, 4}, false, 8, false},
	ConvKSplit16:     {gemmTile{32, 32, 8, 4, 4, 4}, false, 16, false},
	ConvWino:         {gemmTile{64, 64, 16, 4, 4, 1}, false, 0, true},
	ConvWinoSmall:    {gemmTile{32, 32, 8, 4, 4, 4}, false, 0, true},
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
// in: the 1×1 variants need a 1×1 kernel, stride 1 and no padding, direct4
// a kernel up to 7×7, Winograd 3×3 at stride 1; the others take any
// convolution.
func ConvSupports(variant string, op *graph.Conv2D, in graph.Shape) bool {
	if variant == ConvTiled || variant == ConvDirect || variant == "" {
		return true
	}
	if variant == ConvDirect4 {
		_, _, _, ok := direct4Block(u32(op.KH), u32(op.KW), u32(op.Stride))
		return ok
	}
	v, ok := gemmVariants[variant]
	switch {
	case !ok:
		return false
	case v.wino:
		return op.KH == 3 && op.KW == 3 && op.Stride == 1
	}
	return !v.is1 || is1x1(op)
}

func is1x1(op *graph.Conv2D) bool {
	return op.KH == 1 && op.KW == 1 && op.Stride == 1 && op.Pad == 0
}

// ConvLaunch is a convolution's launches: one, or the GEMM with a launch
// before it (Winograd's input transform) and after it (the reduction of a K
// split, Winograd's output transform), which pass data through two scratch
// buffers.
type ConvLaunch struct {
	// Pre, when set, transforms the input into scratch 0. Bindings: src,
	// scratch 0.
	Pre *Launch
	// Launch is the convolution or its GEMM. Bindings: src (scratch 0 after
	// Pre), weight (Weights(op.Weight) when Weights is set), scale, bias,
	// res (any buffer when not Residual), dst (scratch 1 before Post).
	Launch
	// Post, when set, turns scratch 1 into the output and applies the
	// epilogue. Bindings: scratch 1, scale, bias, res, dst.
	Post *Launch
	// Scratch is the float32 elements of the two scratch buffers.
	Scratch [2]int
	// Weights, when set, transforms the weights before upload.
	Weights func([]float32) []float32
	// Texels, when non-zero, marks a kernel that reads textures (direct4)
	// through two texture scratches of Texels texels: the host copies the
	// input into the first, 4 floats a texel (InTexels of them), before
	// Pre, which packs it into the second (bindings: the two textures);
	// Launch reads that at binding 1 and the weights, after Weights, as a
	// texture at binding 2.
	Texels, InTexels int
}

// PackParams mirrors `struct Params` in conv2d_pack.wgsl.
type PackParams struct{ C, HW, Texels, _ uint32 }

// ReduceParams mirrors `struct Params` in conv2d_reduce.wgsl.
type ReduceParams struct{ Total, OHW, Cout, Splits uint32 }

// WinoParams mirrors `struct Params` in conv2d_wino_params.wgsl.
type WinoParams struct {
	N, C, H, W        uint32
	Cout, OH, OW, Pad uint32
	TH, TW, P, P4     uint32
	_                 [4]uint32
}

var (
	_ [unsafe.Sizeof(ReduceParams{}) - 16]byte
	_ [unsafe.Sizeof(PackParams{}) - 16]byte
	_ [unsafe.Sizeof(WinoParams{}) - 64]byte
	_ [64 - unsafe.Sizeof(WinoParams{})]byte
)

// Conv2D returns the launches of a convolution of an input of shape in.
func Conv2D(op *graph.Conv2D, in graph.Shape, variant string, maxGroups uint32) (ConvLaunch, error) {
	out := op.Out(in)
	if _, err := op.OutShape([]graph.Shape{in, out}); err != nil {
		return ConvLaunch{}, err
	}
	p := ConvParams{
		N: u32(in[0]), Cin: u32(in[1]), H: u32(in[2]), W: u32(in[3]),
		Cout: u32(op.Cout), OH: u32(out[2]), OW: u32(out[3]), KH: u32(op.KH),
		KW: u32(op.KW), Stride: u32(op.Stride), Pad: u32(op.Pad), K: u32(op.Cin * op.KH * op.KW),
		NPix: u32(out[0] * out[2] * out[3]),
	}
	flags := epilogue(op.Residual, op.ReLU)
	switch variant {
	case ConvTiled, "":
		g := gpu.Groups{(p.NPix + 63) / 64, (p.Cout + 63) / 64, 1}
		if err := g.Check(maxGroups); err != nil {
			return ConvLaunch{}, err
		}
		return ConvLaunch{Launch: Launch{
			Key: gpu.Key{Kernel: "conv2d", Variant: ConvTiled, Consts: [8]uint32{b2u(op.Residual), b2u(op.ReLU)}},
			Source: func() string {
				return Source("conv2d_params.wgsl", flags...) + Source("conv2d.wgsl") + Source(epilogueFile)
			},
			Params: &p,
			Groups: g,
		}}, nil
	case ConvDirect:
		if dm, dr, dc, ok := directBlock(p.KH, p.KW, p.Stride); ok {
			nblk := p.N * ((p.OH + dr - 1) / dr) * ((p.OW + dc - 1) / dc)
			g, err := gpu.Split1D(nblk*((p.Cout+dm-1)/dm), 8, maxGroups)
			if err != nil {
				return ConvLaunch{}, err
			}
			return ConvLaunch{Launch: Launch{
				Key: gpu.Key{Kernel: "conv2d", Variant: variant, Consts: [8]uint32{b2u(op.Residual), b2u(op.ReLU), p.KH, p.KW, p.Stride, dm, dr, dc}},
				Source: func() string {
					return Source("conv2d_params.wgsl", flags...) + directSource(p.KH, p.KW, p.Stride, dm, dr, dc, false) + Source(epilogueFile)
				},
				Params: &p,
				Groups: g,
			}}, nil
		}
		g := gpu.Groups{(p.NPix + 31) / 32, (p.Cout + 63) / 64, 1} // 8×8 invocations of 4 pixels × 8 channels
		if err := g.Check(maxGroups); err != nil {
			return ConvLaunch{}, err
		}
		consts := append(flags, Const{"KH", p.KH}, Const{"KW", p.KW}, Const{"STRIDE", p.Stride})
		return ConvLaunch{Launch: Launch{
			Key: gpu.Key{Kernel: "conv2d", Variant: variant, Consts: [8]uint32{b2u(op.Residual), b2u(op.ReLU), p.KH, p.KW, p.Stride}},
			Source: func() string {
				return Source("conv2d_params.wgsl", consts...) + Source("conv2d_direct.wgsl") + Source(epilogueFile)
			},
			Params: &p,
			Groups: g,
		}}, nil
	case ConvDirect4:
		return direct4(op, in, p, maxGroups)
	}
	v, ok := gemmVariants[variant]
	if !ok {
		return ConvLaunch{}, fmt.Errorf("shaders: unknown conv2d variant %q", variant)
	}
	if !ConvSupports(variant, op, in) {
		return ConvLaunch{}, fmt.Errorf("shaders: conv2d variant %q does not apply to %s", variant, graph.Name(op, in))
	}
	var cl ConvLaunch
	var err error
	switch {
	case v.wino:
		cl, err = winograd(op, p, v, variant, maxGroups)
	case v.split > 1:
		cl, err = kSplit(op, p, v, variant, maxGroups)
	default:
		loader, file := gemmIm2col, "conv2d_im2col.wgsl"
		g := v.tile.grid(p.NPix, p.Cout, 1)
		if v.is1 {
			hw := p.OH * p.OW
			loader, file = gemm1x1Scalar, "conv2d_1x1s.wgsl"
			if hw%4 == 0 {
				loader, file = gemm1x1Vec4, "conv2d_1x1.wgsl"
			}
			g = v.tile.grid(hw, p.Cout, p.N)
		}
		cl.Launch, err = gemm(variant, v, &p, op.Residual, op.ReLU, loader, file, g)
	}
	if err != nil {
		return ConvLaunch{}, err
	}
	for _, l := range []*Launch{cl.Pre, &cl.Launch, cl.Post} {
		if l != nil {
			if err := l.Groups.Check(maxGroups); err != nil {
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

// grid is the workgroup count of conv2d_gemm.wgsl with tile t over cols
// columns, rows output channels and z grid slices.
func (t gemmTile) grid(cols, rows, z uint32) gpu.Groups {
	return gpu.Groups{(cols + uint32(t.BN) - 1) / uint32(t.BN), (rows + uint32(t.BM) - 1) / uint32(t.BM), z}
}

// The B loaders of conv2d_gemm.wgsl, as named in pipeline keys.
const (
	gemmIm2col uint32 = iota
	gemm1x1Vec4
	gemm1x1Scalar
	gemmWino
)

// gemm returns the launch of conv2d_gemm.wgsl with variant v's tiles, the
// epilogue flags, and the B loader in file.
func gemm(variant string, v gemmVariant, p *ConvParams, residual, relu bool, loader uint32, file string, g gpu.Groups) (Launch, error) {
	tc, err := v.tile.consts()
	if err != nil {
		return Launch{}, err
	}
	split := uint32(max(v.split, 1))
	consts := append(append(epilogue(residual, relu),
		Const{"KH", p.KH}, Const{"KW", p.KW}, Const{"STRIDE", p.Stride}, Const{"SPLIT", split}, Const{"ZMAT", v.wino}), tc...)
	return Launch{
		Key: gpu.Key{Kernel: "conv2d", Variant: variant,
			Consts: [8]uint32{b2u(residual), b2u(relu), p.KH, p.KW, p.Stride, loader, split, b2u(v.wino)}},
		Source: func() string {
			return Source("conv2d_params.wgsl", consts...) + Source(file) + Source("conv2d_gemm.wgsl") + Source(epilogueFile)
		},
		Params: p,
		Groups: g,
	}, nil
}

// kSplit returns the launches of a convolution whose K is split across
// workgroups: the GEMM writes each slice's sums to scratch 1 and
// conv2d_reduce.wgsl adds them.
func kSplit(op *graph.Conv2D, p ConvParams, v gemmVariant, variant string, maxGroups uint32) (ConvLaunch, error) {
	bkt := uint32(v.tile.BK * v.tile.KS)
	chunk := (p.K + uint32(v.split) - 1) / uint32(v.split)
	p.KChunk = (chunk + bkt - 1) / bkt * bkt
	splits := (p.K + p.KChunk - 1) / p.KChunk
	l, err := gemm(variant, v, &p, op.Residual, op.ReLU, gemmIm2col, "conv2d_im2col.wgsl", v.tile.grid(p.NPix, p.Cout, splits))
	if err != nil {
		return ConvLaunch{}, err
	}
	total := p.N * p.Cout * p.OH * p.OW
	rp := ReduceParams{Total: total, OHW: p.OH * p.OW, Cout: p.Cout, Splits: splits}
	rg, err := fold1D(int(total), 256, maxGroups)
	if err != nil {
		return ConvLaunch{}, err
	}
	return ConvLaunch{
		Launch: l,
		Post: &Launch{
			Key: gpu.Key{Kernel: "conv2d_reduce", Consts: [8]uint32{b2u(op.Residual), b2u(op.ReLU)}},
			Source: func() string {
				return Source("conv2d_reduce.wgsl", epilogue(op.Residual, op.ReLU)...) + Source("conv2d_post.wgsl") + Source(epilogueFile)
			},
			Params: &rp,
			Groups: rg,
		},
		Scratch: [2]int{0, int(splits) * int(total)},
	}, nil
}

// winograd returns the launches of a 3×3 stride-1 convolution as Winograd
// F(2×2, 3×3): the input transform into scratch 0, 16 GEMMs of the
// transformed weights (WinoWeights) by it into scratch 1, and the output
// transform with the epilogue.
func winograd(op *graph.Conv2D, cp ConvParams, v gemmVariant, variant string, maxGroups uint32) (ConvLaunch, error) {
	wp := WinoParams{N: cp.N, C: cp.Cin, H: cp.H, W: cp.W, Cout: cp.Cout, OH: cp.OH, OW: cp.OW, Pad: cp.Pad,
		TH: (cp.OH + 1) / 2, TW: (cp.OW + 1) / 2}
	wp.P = wp.N * wp.TH * wp.TW
	wp.P4 = (wp.P + 3) &^ 3
	in, err := fold1D(int(wp.C*wp.P4), 256, maxGroups)
	if err != nil {
		return ConvLaunch{}, err
	}
	out, err := fold1D(int(wp.Cout*wp.P), 256, maxGroups)
	if err != nil {
		return ConvLaunch{}, err
	}
	gp := ConvParams{N: 1, Cin: wp.C, H: 1, W: wp.P4, Cout: wp.Cout, OH: 1, OW: wp.P4, KH: 1, KW: 1, Stride: 1, K: wp.C, NPix: wp.P4}
	g := v.tile.grid(wp.P4, wp.Cout, 16)
	l, err := gemm(variant, v, &gp, false, false, gemmWino, "conv2d_wino.wgsl", g) // the epilogue comes after the output transform
	if err != nil {
		return ConvLaunch{}, err
	}
	return ConvLaunch{
		Pre: &Launch{
			Key:    gpu.Key{Kernel: "conv2d_wino_in"},
			Source: func() string { return Source("conv2d_wino_params.wgsl") + Source("conv2d_wino_in.wgsl") },
			Params: &wp,
			Groups: in,
		},
		Launch: l,
		Post: &Launch{
			Key: gpu.Key{Kernel: "conv2d_wino_out", Consts: [8]uint32{b2u(op.Residual), b2u(op.ReLU)}},
			Source: func() string {
				return Source("conv2d_wino_params.wgsl", epilogue(op.Residual, op.ReLU)...) + Source("conv2d_wino_out.wgsl") + Source("conv2d_post.wgsl") + Source(epilogueFile)
			},
			Params: &wp,
			Groups: out,
		},
		Scratch: [2]int{16 * int(wp.C*wp.P4), 16 * int(wp.Cout*wp.P4)},
		Weights: func(w []float32) []float32 { return WinoWeights(w, op.Cout, op.Cin) },
	}, nil
}

// WinoWeights transforms 3×3 weights g[m][c] into Winograd F(2×2, 3×3)'s
// U = G g Gᵀ, G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1], laid out as 16 matrices
// U[4i + j][m][c], in float64 rounded once.
func WinoWeights(w []float32, cout, cin int) []float32 {
	G := [4][3]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
	u := make([]float32, 16*cout*cin)
	for m := 0; m < cout; m++ {
		for c := 0; c < cin; c++ {
			g := w[(m*cin+c)*9:]
			var t [4][3]float64 // G g
			for i := range 4 {
				for j := range 3 {
					for k := range 3 {
						t[i][j] += G[i][k] * float64(g[3*k+j])
					}
				}
			}
			for i := range 4 {
				for j := range 4 {
					var s float64 // (G g Gᵀ)[i][j]
					for k := range 3 {
						s += t[i][k] * G[j][k]
					}
					u[((4*i+j)*cout+m)*cin+c] = float32(s)
				}
			}
		}
	}
	return u
}
