package shaders

import (
	"fmt"
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// ConvGeneralVariant names conv2d_general.wgsl in pipeline keys.
const ConvGeneralVariant = "general"

// ConvGeneralParams mirrors `struct Params` in conv2d_general_params.wgsl.
type ConvGeneralParams struct {
	N, Cin, H, W          uint32
	Cout, OH, OW, KH      uint32
	KW, SH, SW, PT        uint32
	PL, DH, DW, Groups    uint32
	CinG, CoutG, K, NPix  uint32 // channels per group, K = CinG·KH·KW, NPix = N·OH·OW
	CTiles, RTiles, Tiles uint32 // column tiles, row tiles per group, all tiles
	OutOff, OutBStride    uint32 // the output's layout (conv2d_epilogue.wgsl)
	InOff, InBStride      uint32 // the input's layout (ConvGeom.In)
	_                     uint32
}

var (
	_ [unsafe.Sizeof(ConvGeneralParams{}) - 112]byte
	_ [112 - unsafe.Sizeof(ConvGeneralParams{})]byte
)

// stageNone is the identity input stage, appended where a kernel that
// may apply one (conv2d_prestage.wgsl) has none.
const stageNone = `
fn stage(v: vec4<f32>, c: u32, nc: u32) -> vec4<f32> {
	return v;
}
`

// stageSource returns the input stage of g for the kernel that reads its
// input: conv2d_prestage.wgsl when g.Pre, else the identity.
func stageSource(g ConvGeom) string {
	if !g.Pre {
		return stageNone
	}
	return Source("conv2d_prestage.wgsl", Const{"PRE_RELU", g.PreReLU})
}

// stageBinds is the bindings of g's input stage: "pre" (the scales, then
// the shifts, Cin each) when g.Pre.
func stageBinds(g ConvGeom, binds []string) []string {
	if !g.Pre {
		return binds
	}
	return append(binds[:len(binds):len(binds)], "pre")
}

// convGeneralRows is the rows (output channels of one group) of
// conv2d_general.wgsl's tile for coutg channels a group: 64, or 16 for
// groups of at most 16 channels (depthwise, ResNeXt's 32 groups of 4 or 8),
// which then waste fewer rows. A tile has 4096 outputs, BK = 16.
func convGeneralRows(coutg int) int {
	if coutg <= 16 {
		return 16
	}
	return 64
}

// convGeneralConsts returns the tile constants of conv2d_general.wgsl for
// bm rows.
func convGeneralConsts(bm int) []Const {
	const threads, bk, outs = 256, 16, 4096
	bn := outs / bm
	c := func(name string, v int) Const { return Const{name, uint32(v)} }
	return []Const{c("BM", bm), c("BN", bn), c("ALD", bm*bk/threads), c("BLD", bn*bk/threads),
		c("RT", bm/4), c("CT", bn/4), c("ASZ", bk*bm), c("BSZ", bk*bn)}
}

// ConvGeneral returns the launch of any convolution g describes as
// conv2d_general.wgsl: one implicit GEMM per group, 64×64 tiles (16×256
// for groups of at most 16 channels), the workgroup count folded past
// maxGroups. Only the Launch part of the
// ConvLaunch is set. Bindings: src, weight ([Cout][Cin/Groups][KH][KW]),
// scale, bias, res (any buffer when not Residual), dst, and pre for the
// input stage (conv2d_prestage.wgsl) when g.Pre.
func ConvGeneral(g ConvGeom, maxGroups uint32) (ConvLaunch, error) {
	if err := g.Check(); err != nil {
		return ConvLaunch{}, err
	}
	cing, coutg := g.Cin/g.Groups, g.Cout/g.Groups
	npix := g.N * g.OH() * g.OW()
	bm := convGeneralRows(coutg)
	bn := 4096 / bm
	ctiles := (npix + bn - 1) / bn
	rtiles := (coutg + bm - 1) / bm
	tiles := ctiles * rtiles * g.Groups
	if tiles > maxSize {
		return ConvLaunch{}, fmt.Errorf("shaders: %v needs %d workgroups", g, tiles)
	}
	grid, err := gpu.Split1D(uint32(tiles), 1, maxGroups)
	if err != nil {
		return ConvLaunch{}, fmt.Errorf("shaders: %v: %v", g, err)
	}
	p := ConvGeneralParams{
		N: u32(g.N), Cin: u32(g.Cin), H: u32(g.H), W: u32(g.W),
		Cout: u32(g.Cout), OH: u32(g.OH()), OW: u32(g.OW()), KH: u32(g.KH),
		KW: u32(g.KW), SH: u32(g.SH), SW: u32(g.SW), PT: u32(g.PT),
		PL: u32(g.PL), DH: u32(g.DH), DW: u32(g.DW), Groups: u32(g.Groups),
		CinG: u32(cing), CoutG: u32(coutg), K: u32(g.K()), NPix: u32(npix),
		CTiles: u32(ctiles), RTiles: u32(rtiles), Tiles: u32(tiles),
	}
	p.OutOff, p.OutBStride = g.outLayout()
	p.InOff, p.InBStride = g.inLayout()
	consts := append(epilogue(g.Residual, g.ReLU), convGeneralConsts(bm)...)
	return ConvLaunch{Launch: Launch{
		Binds: stageBinds(g, convBinds),
		Key: gpu.Key{Kernel: "conv2d", Variant: ConvGeneralVariant,
			Consts: [8]uint32{b2u(g.Residual), b2u(g.ReLU), uint32(bm), b2u(g.Pre), b2u(g.PreReLU)}},
		Source: func() string {
			return Source("conv2d_general_params.wgsl", consts...) + Source("conv2d_general.wgsl") + stageSource(g) + Source(epilogueFile)
		},
		Params: &p,
		Groups: grid,
	}}, nil
}
