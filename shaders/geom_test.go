package shaders_test

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Output sizes by PyTorch's formulas: Conv2d
// ⌊(H + 2P − D·(K−1) − 1)/S⌋ + 1, and pooling
// ⌊(H + 2P − K (+ S − 1 in ceil mode))/S⌋ + 1, less one in ceil mode when
// the last window would start at or past H + P.
func TestGeomOutputSizes(t *testing.T) {
	for _, c := range []struct {
		h, pt, pb, k, s, d int
		want               int
	}{
		{224, 3, 3, 7, 2, 1, 112}, // ResNet's stem
		{56, 1, 1, 3, 1, 1, 56},
		{56, 0, 0, 1, 2, 1, 28},
		{10, 2, 2, 3, 1, 2, 10}, // dilation 2, padding 2
		{5, 0, 0, 3, 1, 2, 1},   // the dilated kernel spans the input
		{7, 0, 1, 3, 2, 1, 3},   // asymmetric padding
		{7, 1, 0, 3, 2, 1, 3},
		{1, 0, 0, 1, 1, 1, 1},
		{1, 1, 1, 3, 2, 1, 1},
		{8, 1, 2, 2, 3, 1, 4},
	} {
		g := shaders.ConvGeom{H: c.h, W: c.h, PT: c.pt, PB: c.pb, PL: c.pt, PR: c.pb, KH: c.k, KW: c.k, SH: c.s, SW: c.s, DH: c.d, DW: c.d}
		if g.OH() != c.want || g.OW() != c.want {
			t.Errorf("conv %+v: OH, OW = %d, %d, want %d", c, g.OH(), g.OW(), c.want)
		}
	}
	for _, c := range []struct {
		h, pt, pb, k, s int
		ceil            bool
		want            int
	}{
		{112, 1, 1, 3, 2, false, 56}, // ResNet's max pool
		{112, 1, 1, 3, 2, true, 57},
		{5, 0, 0, 2, 2, false, 2},
		{5, 0, 0, 2, 2, true, 3},
		{4, 0, 0, 2, 2, true, 2},
		{5, 1, 1, 3, 3, false, 2},
		{5, 1, 1, 3, 3, true, 2}, // ceil gives 3; the third window would start at 5 = H
		{7, 1, 1, 2, 2, true, 4}, // ceil gives 5; the fifth would start at 7 = H
		{6, 1, 1, 2, 2, true, 4},
		{8, 0, 1, 3, 2, true, 4}, // asymmetric padding
		{8, 0, 1, 3, 2, false, 4},
		{9, 0, 0, 3, 2, true, 4},
		{10, 0, 0, 3, 2, true, 5},
		{10, 0, 0, 3, 2, false, 4},
		{1, 0, 0, 1, 2, true, 1},
		{1, 1, 1, 3, 1, false, 1},
		{13, 0, 0, 13, 1, true, 1}, // global
	} {
		g := shaders.PoolGeom{H: c.h, W: c.h, PT: c.pt, PB: c.pb, PL: c.pt, PR: c.pb, KH: c.k, KW: c.k, SH: c.s, SW: c.s, CeilMode: c.ceil}
		if g.OH() != c.want || g.OW() != c.want {
			t.Errorf("pool %+v: OH, OW = %d, %d, want %d", c, g.OH(), g.OW(), c.want)
		}
	}
}

func TestGeomCheck(t *testing.T) {
	conv := shaders.ConvGeom{N: 1, Cin: 6, H: 5, W: 5, Cout: 9, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, PB: 1, PR: 1, DH: 1, DW: 1, Groups: 3}
	if err := conv.Check(); err != nil {
		t.Errorf("%v: %v", conv, err)
	}
	for _, f := range []func(*shaders.ConvGeom){
		func(g *shaders.ConvGeom) { g.Groups = 2 }, // does not divide cout
		func(g *shaders.ConvGeom) { g.Groups = 0 },
		func(g *shaders.ConvGeom) { g.DH = 0 },
		func(g *shaders.ConvGeom) { g.SW = 0 },
		func(g *shaders.ConvGeom) { g.PB = -1 },
		func(g *shaders.ConvGeom) { g.N = 0 },
		func(g *shaders.ConvGeom) { g.DW, g.PL, g.PR = 3, 0, 0 }, // 7 wide over 5
		func(g *shaders.ConvGeom) { g.N, g.Cin, g.Groups, g.H, g.W = 1<<10, 1<<10, 1, 1<<6, 1<<6 },
	} {
		g := conv
		f(&g)
		if g.Check() == nil {
			t.Errorf("%v accepted", g)
		}
	}
	pool := shaders.PoolGeom{N: 1, C: 2, H: 5, W: 5, KH: 3, KW: 3, SH: 2, SW: 2, PT: 1, PL: 1, PB: 1, PR: 1, Max: true}
	if err := pool.Check(); err != nil {
		t.Errorf("%v: %v", pool, err)
	}
	for _, f := range []func(*shaders.PoolGeom){
		func(g *shaders.PoolGeom) { g.KH = 0 },
		func(g *shaders.PoolGeom) { g.SH = 0 },
		func(g *shaders.PoolGeom) { g.PL = -1 },
		func(g *shaders.PoolGeom) { g.KW = 8 },
		func(g *shaders.PoolGeom) { g.PT = 3 },                            // the first window is padding
		func(g *shaders.PoolGeom) { g.PT, g.PB, g.KH, g.SH = 0, 3, 2, 6 }, // the second window starts at 6 > H
	} {
		g := pool
		f(&g)
		if g.Check() == nil {
			t.Errorf("%v accepted", g)
		}
	}
}
