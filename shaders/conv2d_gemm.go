package shaders

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// The GEMM family of convolution kernels: conv2d_gemm.wgsl with a tile
// shape and a loader of its B matrix (im2col, 1×1, Winograd), optionally
// with K split across workgroups (conv2d_reduce.wgsl adds the slices) or
// between Winograd's input and output transforms.

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

// The tile shapes of the registry's GEMM kernels.
var (
	tile64     = gemmTile{64, 64, 16, 4, 4, 1}  // 64×64, 4×4 per invocation
	tile128    = gemmTile{128, 64, 16, 8, 4, 1} // 128×64, 8×4 per invocation
	tile64x128 = gemmTile{64, 128, 16, 4, 8, 1} // 64×128, 4×8 per invocation
	tile32k4   = gemmTile{32, 32, 8, 4, 4, 4}   // 32×32, K split 4 ways inside the workgroup
	tile16k16  = gemmTile{16, 16, 4, 4, 4, 16}  // 16×16, K split 16 ways inside the workgroup
)

// gemmThreads is the workgroup size of conv2d_gemm.wgsl.
const gemmThreads = 256

// minSharedBytes is the workgroup memory every WebGPU device offers, for
// capabilities that do not say.
const minSharedBytes = 16 << 10

// consts returns the tile's constants for conv2d_gemm.wgsl, or an error if
// the shape breaks one of the kernel's assumptions or its workgroup memory
// passes the device's limit (wgpu 0.17 does not check it: a kernel past
// the limit corrupts memory or loses the device).
func (t gemmTile) consts(c gpu.Caps) ([]Const, error) {
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
	limit := int(c.MaxWorkgroupStorageSize)
	if limit == 0 {
		limit = minSharedBytes
	}
	if 16*sh > limit {
		return nil, fmt.Errorf("shaders: conv2d_gemm tile %+v needs %d bytes of workgroup memory", t, 16*sh)
	}
	k := func(name string, v int) Const { return Const{name, uint32(v)} }
	return []Const{
		k("BM", t.BM), k("BN", t.BN), k("BK", t.BK), k("TM", t.TM), k("TN", t.TN), k("KS", t.KS),
		k("BKT", bkt), k("RM", t.TM/4), k("RN", t.TN/4), k("NTS", gemmThreads/t.KS),
		k("ASTR", astr), k("BSTR", bstr), k("ASZ", asz), k("BSZ", bsz), k("SHSZ", sh),
		k("ALD", ald), k("BLD", bld),
	}, nil
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

// gemmB is the B loader of a conv2d_gemm.wgsl launch: its name in the
// pipeline key, its file, and the input stage it applies, the Pre and
// PreReLU of stage (the 1×1 loaders only; the others take none).
type gemmB struct {
	loader uint32
	file   string
	stage  ConvGeom
}

// gemm returns the launch of conv2d_gemm.wgsl with variant v's tiles, the
// epilogue flags, and B loader b. Bindings: src, weight, scale, bias, res,
// dst, and pre with b's input stage. The key's sixth constant is the
// loader plus 256 for an input stage, 512 more for its ReLU.
func gemm(variant string, v gemmVariant, p *ConvParams, residual, relu bool, b gemmB, g gpu.Groups, c gpu.Caps) (Launch, error) {
	tc, err := v.tile.consts(c)
	if err != nil {
		return Launch{}, err
	}
	split := uint32(max(v.split, 1))
	consts := append(append(epilogue(residual, relu),
		Const{"KH", p.KH}, Const{"KW", p.KW}, Const{"STRIDE", p.Stride}, Const{"SPLIT", split}, Const{"ZMAT", v.wino}), tc...)
	loader := b.loader | b2u(b.stage.Pre)<<8 | b2u(b.stage.PreReLU)<<9
	return Launch{
		Key: gpu.Key{Kernel: "conv2d", Variant: variant,
			Consts: [8]uint32{b2u(residual), b2u(relu), p.KH, p.KW, p.Stride, loader, split, b2u(v.wino)}},
		Source: func() string {
			return Source("conv2d_params.wgsl", consts...) + Source(b.file) + Source("conv2d_gemm.wgsl") + stageSource(b.stage) + Source(epilogueFile)
		},
		Params: p,
		Groups: g,
		Binds:  stageBinds(b.stage, convBinds),
	}, nil
}

// convBinds are the bindings of a one-launch convolution kernel.
var convBinds = []string{"src", "weight", "scale", "bias", "res", "dst"}

// gemmLaunch returns the launches of GEMM variant v (not split, not
// Winograd) for g.
func gemmLaunch(name string, v gemmVariant, g ConvGeom, c gpu.Caps) (ConvLaunch, error) {
	p := convParams(g)
	b := gemmB{loader: gemmIm2col, file: "conv2d_im2col.wgsl"}
	grid := v.tile.grid(p.NPix, p.Cout, 1)
	if v.is1 {
		// the 1×1 loaders read the input at its layout through the stage
		hw := p.OH * p.OW
		b = gemmB{loader: gemm1x1Scalar, file: "conv2d_1x1s.wgsl", stage: g}
		if hw%4 == 0 && p.InOff%4 == 0 && p.InBStride%4 == 0 {
			b.loader, b.file = gemm1x1Vec4, "conv2d_1x1.wgsl"
		}
		grid = v.tile.grid(hw, p.Cout, p.N)
	}
	l, err := gemm(name, v, &p, g.Residual, g.ReLU, b, grid, c)
	return ConvLaunch{Launch: l}, err
}

// kSplit returns the launches of a convolution whose K is split across
// workgroups: the GEMM writes each slice's sums to scratch 1 and
// conv2d_reduce.wgsl adds them.
func kSplit(name string, v gemmVariant, g ConvGeom, c gpu.Caps) (ConvLaunch, error) {
	p := convParams(g)
	bkt := uint32(v.tile.BK * v.tile.KS)
	chunk := (p.K + uint32(v.split) - 1) / uint32(v.split)
	p.KChunk = (chunk + bkt - 1) / bkt * bkt
	splits := (p.K + p.KChunk - 1) / p.KChunk
	l, err := gemm(name, v, &p, g.Residual, g.ReLU, gemmB{loader: gemmIm2col, file: "conv2d_im2col.wgsl"}, v.tile.grid(p.NPix, p.Cout, splits), c)
	if err != nil {
		return ConvLaunch{}, err
	}
	total := p.N * p.Cout * p.OH * p.OW
	rp := ReduceParams{Total: total, OH: p.OH, OW: p.OW, Cout: p.Cout, Splits: splits, OutOff: p.OutOff, OutBStride: p.OutBStride}
	rg, err := fold1D(int(total), 256, c.MaxWorkgroupsPerDimension)
	if err != nil {
		return ConvLaunch{}, err
	}
	res, relu := g.Residual, g.ReLU
	return ConvLaunch{
		Launch: l,
		Post: &Launch{
			Key: gpu.Key{Kernel: "conv2d_reduce", Consts: [8]uint32{b2u(res), b2u(relu)}},
			Source: func() string {
				return Source("conv2d_reduce.wgsl", epilogue(res, relu)...) + Source("conv2d_post.wgsl") + Source(epilogueFile)
			},
			Params: &rp,
			Groups: rg,
			Binds:  []string{"part", "scale", "bias", "res", "dst"},
		},
		Scratch: [2]int{0, int(splits) * int(total)},
	}, nil
}

// winograd returns the launches of a 3×3 stride-1 convolution as Winograd
// F(2×2, 3×3): the input transform into scratch 0, 16 GEMMs of the
// transformed weights (WinoWeights) by it into scratch 1, and the output
// transform with the epilogue.
func winograd(name string, v gemmVariant, g ConvGeom, c gpu.Caps) (ConvLaunch, error) {
	cp := convParams(g)
	wp := WinoParams{N: cp.N, C: cp.Cin, H: cp.H, W: cp.W, Cout: cp.Cout, OH: cp.OH, OW: cp.OW, Pad: cp.Pad,
		TH: (cp.OH + 1) / 2, TW: (cp.OW + 1) / 2, OutOff: cp.OutOff, OutBStride: cp.OutBStride}
	wp.P = wp.N * wp.TH * wp.TW
	wp.P4 = (wp.P + 3) &^ 3
	in, err := fold1D(int(wp.C*wp.P4), 256, c.MaxWorkgroupsPerDimension)
	if err != nil {
		return ConvLaunch{}, err
	}
	out, err := fold1D(int(wp.Cout*wp.P), 256, c.MaxWorkgroupsPerDimension)
	if err != nil {
		return ConvLaunch{}, err
	}
	gp := ConvParams{N: 1, Cin: wp.C, H: 1, W: wp.P4, Cout: wp.Cout, OH: 1, OW: wp.P4, KH: 1, KW: 1, Stride: 1, K: wp.C, NPix: wp.P4}
	l, err := gemm(name, v, &gp, false, false, gemmB{loader: gemmWino, file: "conv2d_wino.wgsl"}, v.tile.grid(wp.P4, wp.Cout, 16), c) // the epilogue comes after the output transform
	if err != nil {
		return ConvLaunch{}, err
	}
	res, relu, cout, cin := g.Residual, g.ReLU, g.Cout, g.Cin
	return ConvLaunch{
		Pre: &Launch{
			Key:    gpu.Key{Kernel: "conv2d_wino_in"},
			Source: func() string { return Source("conv2d_wino_params.wgsl") + Source("conv2d_wino_in.wgsl") },
			Params: &wp,
			Groups: in,
			Binds:  []string{"src", "dst"},
		},
		Launch: l,
		Post: &Launch{
			Key: gpu.Key{Kernel: "conv2d_wino_out", Consts: [8]uint32{b2u(res), b2u(relu)}},
			Source: func() string {
				return Source("conv2d_wino_params.wgsl", epilogue(res, relu)...) + Source("conv2d_wino_out.wgsl") + Source("conv2d_post.wgsl") + Source(epilogueFile)
			},
			Params: &wp,
			Groups: out,
			Binds:  []string{"prod", "scale", "bias", "res", "dst"},
		},
		Scratch:    [2]int{16 * int(wp.C*wp.P4), 16 * int(wp.Cout*wp.P4)},
		Weights:    func(w []float32) []float32 { return WinoWeights(w, cout, cin) },
		WeightsTag: "wino",
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
