package shaders

import (
	"fmt"
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// PoolParams mirrors `struct Params` in pool.wgsl.
type PoolParams struct {
	NC, H, W, OH   uint32
	OW, KH, KW, SH uint32
	SW, PT, PL, HP uint32 // HP = H + PB
	WP, Total, C   uint32 // WP = W + PR
	OutOff         uint32 // the output's layout
	OutBStride     uint32
	_              [3]uint32
}

var (
	_ [unsafe.Sizeof(PoolParams{}) - 80]byte
	_ [80 - unsafe.Sizeof(PoolParams{})]byte
)

// Pool returns the launch of the max or average pool g describes, the
// workgroup count folded past maxGroups. Bindings: src (contiguous), dst
// (at g.Out).
func Pool(g PoolGeom, maxGroups uint32) (Launch, error) {
	if err := g.Check(); err != nil {
		return Launch{}, err
	}
	oh, ow := g.OH(), g.OW()
	if !fits(g.N, g.C, oh, ow) {
		return Launch{}, fmt.Errorf("shaders: %v: the output has more than 2³¹ − 1 elements", g)
	}
	off, bs, err := g.Out.at(g.N, g.C*oh*ow)
	if err != nil {
		return Launch{}, err
	}
	p := PoolParams{
		NC: u32(g.N * g.C), H: u32(g.H), W: u32(g.W), OH: u32(oh),
		OW: u32(ow), KH: u32(g.KH), KW: u32(g.KW), SH: u32(g.SH),
		SW: u32(g.SW), PT: u32(g.PT), PL: u32(g.PL), HP: u32(g.H + g.PB),
		WP: u32(g.W + g.PR), Total: u32(g.N * g.C * oh * ow), C: u32(g.C),
		OutOff: off, OutBStride: bs,
	}
	grid, err := fold1D(int(p.Total), 64, maxGroups)
	if err != nil {
		return Launch{}, err
	}
	includePad := g.CountIncludePad && !g.Max // one pipeline per distinct source
	return Launch{
		Key: gpu.Key{Kernel: "pool", Consts: [8]uint32{b2u(g.Max), b2u(includePad)}},
		Source: func() string {
			return Source("pool.wgsl", Const{"MAX", g.Max}, Const{"INCLUDE_PAD", includePad})
		},
		Params: &p,
		Groups: grid,
		Binds:  []string{"src", "dst"},
	}, nil
}

// GlobalAvgPool returns the launch of the global average pool of an
// input [n][c][h][w] into [n][c][1][1] at layout out. Bindings: src, dst.
func GlobalAvgPool(n, c, h, w int, out Layout, maxGroups uint32) (Launch, error) {
	return Pool(PoolGeom{N: n, C: c, H: h, W: w, KH: h, KW: w, SH: 1, SW: 1, Out: out}, maxGroups)
}
