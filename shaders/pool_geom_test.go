package shaders_test

import (
	"testing"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// poolOf is the graph's pool with geometry g.
func poolOf(g shaders.PoolGeom) (graph.Pool, graph.Shape) {
	return graph.Pool{Max: g.Max, KH: g.KH, KW: g.KW, Stride: [2]int{g.SH, g.SW}, Pad: [4]int{g.PT, g.PL, g.PB, g.PR},
		CeilMode: g.CeilMode, CountIncludePad: g.CountIncludePad}, graph.Shape{g.N, g.C, g.H, g.W}
}

// pg is a square, symmetric pool; the cases adjust the rest.
func pg(n, c, h, w, k, s, pad int, isMax, ceil, includePad bool) shaders.PoolGeom {
	return shaders.PoolGeom{N: n, C: c, H: h, W: w, KH: k, KW: k, SH: s, SW: s, PT: pad, PL: pad, PB: pad, PR: pad,
		Max: isMax, CeilMode: ceil, CountIncludePad: includePad}
}

func poolCases() []shaders.PoolGeom {
	rect := pg(2, 3, 7, 9, 1, 1, 0, true, false, false)
	rect.KH, rect.KW, rect.SH, rect.SW, rect.PL, rect.PR = 2, 3, 1, 2, 1, 1
	rectAvg := rect
	rectAvg.Max, rectAvg.CountIncludePad, rectAvg.CeilMode = false, true, true
	asym := pg(1, 4, 8, 7, 3, 2, 0, true, false, false)
	asym.PT, asym.PL, asym.PB, asym.PR = 0, 1, 1, 0
	asymAvg, asymAvgEx := asym, asym
	asymAvg.Max, asymAvg.CountIncludePad = false, true
	asymAvgEx.Max, asymAvgEx.CeilMode = false, true
	cs := []shaders.PoolGeom{
		pg(2, 5, 13, 13, 3, 2, 1, true, false, false), // ResNet's max pool
		pg(1, 3, 7, 7, 2, 2, 1, true, true, false),    // ceil: the rule drops a fifth window
		pg(1, 3, 10, 11, 3, 2, 0, true, true, false),  // ceil: a partial last window
		pg(2, 3, 8, 8, 3, 2, 1, false, true, true),    // average, ceil, the last window past the padding
		pg(2, 3, 8, 8, 3, 2, 1, false, true, false),   // … not counting the padding
		pg(1, 2, 9, 9, 3, 2, 1, false, false, true),   // average with padding, counted
		pg(1, 2, 9, 9, 3, 2, 1, false, false, false),  // … and not
		pg(1, 3, 5, 5, 3, 3, 1, false, true, true),    // ceil rule on an average
		rect, rectAvg, // 2×3, stride (1, 2)
		asym, asymAvg, asymAvgEx, // padding (0, 1, 1, 0)
		pg(1, 3, 1, 1, 1, 1, 0, true, false, false),     // 1×1 input
		pg(2, 3, 1, 1, 3, 1, 1, true, false, false),     // 1×1 input, padding 1
		pg(2, 3, 1, 1, 3, 1, 1, false, false, true),     // … average over 9
		pg(2, 3, 1, 1, 3, 1, 1, false, false, false),    // … average over 1
		pg(1, 2, 1, 1, 1, 2, 0, false, true, false),     // 1×1, ceil
		pg(3, 7, 13, 13, 13, 1, 0, false, false, false), // global
		pg(1, 70, 40, 40, 2, 2, 0, true, false, false),  // 28000 outputs: folded below
	}
	return cs
}

// TestPool runs pool.wgsl on every case against the CPU reference
// (graph.Pool.Eval), the last with a
// workgroup limit of 20 so that its 438 workgroups fold.
func TestPool(t *testing.T) {
	dev := gputest.Device(t)
	r := graph.NewRand(3)
	cases := poolCases()
	for i, g := range cases {
		maxGroups := dev.Limits.MaxWorkgroupsPerDimension
		if i == len(cases)-1 {
			maxGroups = 20
		}
		t.Run(g.String(), func(t *testing.T) {
			start := time.Now()
			l, err := shaders.Pool(g, maxGroups)
			if err != nil {
				t.Fatal(err)
			}
			op, shape := poolOf(g)
			in := r.Uniform(shape.Numel(), -1, 1)
			got := runLaunch(t, dev, l, map[string][]float32{"src": in}, g.N*g.C*g.OH()*g.OW())
			check(t, got, op, []graph.Shape{shape}, [][]float32{in}, l.Groups)
			t.Logf("%v in %v workgroups, %v", l.Key, l.Groups, time.Since(start).Round(time.Millisecond))
		})
	}
}

// The graph's pools describe their geometry as Pool expects it, and
// GlobalAvgPool is the pool of the whole image.
func TestPoolWrappers(t *testing.T) {
	in := graph.Shape{2, 64, 112, 112}
	g := graph.MaxPool(3, 2, 1).Geom(in)
	if want := pg(2, 64, 112, 112, 3, 2, 1, true, false, false); g != want {
		t.Errorf("graph.MaxPool(3, 2, 1).Geom(%v) = %v, want %v", in, g, want)
	}
	l, err := shaders.Pool(g, 65535)
	if err != nil {
		t.Fatal(err)
	}
	if p := l.Params.(*shaders.PoolParams); p.OH != 56 || p.OW != 56 || p.Total != 2*64*56*56 {
		t.Errorf("max pool params %+v", *p)
	}
	l, err = shaders.GlobalAvgPool(3, 2048, 7, 7, shaders.Layout{}, 65535)
	if err != nil {
		t.Fatal(err)
	}
	want, err := shaders.Pool(shaders.PoolGeom{N: 3, C: 2048, H: 7, W: 7, KH: 7, KW: 7, SH: 1, SW: 1}, 65535)
	if err != nil {
		t.Fatal(err)
	}
	if l.Key != want.Key || *l.Params.(*shaders.PoolParams) != *want.Params.(*shaders.PoolParams) {
		t.Errorf("GlobalAvgPool launches %+v, Pool %+v", l, want)
	}
	if l.Key != (gpu.Key{Kernel: "pool"}) || l.Groups != (gpu.Groups{96, 1, 1}) {
		t.Errorf("GlobalAvgPool key %+v over %v", l.Key, l.Groups)
	}
	bad := pg(1, 1, 5, 5, 2, 6, 0, true, false, false)
	bad.PB = 3 // the second window starts at 6, past the image
	if _, err := shaders.Pool(bad, 65535); err == nil {
		t.Errorf("%v accepted", bad)
	}
	bad = pg(1, 1, 8, 8, 3, 2, 3, true, false, false) // the first window lies in the padding
	if _, err := shaders.Pool(bad, 65535); err == nil {
		t.Errorf("%v accepted", bad)
	}
}
