package shaders_test

import (
	"math"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

func conv(cin, cout, k, s, p int, res, relu bool) *graph.Conv2D {
	return &graph.Conv2D{Cin: cin, Cout: cout, KH: k, KW: k, Stride: s, Pad: p, Residual: res, ReLU: relu}
}

// edgeConvs aim at the tiling of the GEMM variants: pixel counts that are
// not a multiple of 4 or of a tile, output channels that are not a multiple
// of any tile, K not a multiple of any step, batches whose images straddle
// column tiles, and long K over tiny outputs (the split-K reduction).
func edgeConvs() []opcheck.Case {
	return []opcheck.Case{
		{Op: conv(20, 70, 1, 1, 0, false, true), In: graph.Shape{3, 20, 5, 7}},      // 1×1, 35 pixels: scalar loads
		{Op: conv(36, 100, 1, 1, 0, true, true), In: graph.Shape{3, 36, 6, 6}},      // 1×1, 36 pixels: vec4, batch 3
		{Op: conv(64, 48, 1, 1, 0, false, false), In: graph.Shape{3, 64, 2, 2}},     // 1×1, 4 pixels per image
		{Op: conv(32, 40, 1, 1, 0, true, false), In: graph.Shape{2, 32, 14, 14}},    // 1×1, 196 pixels: a partial column tile per image
		{Op: conv(9, 130, 1, 1, 0, false, true), In: graph.Shape{1, 9, 16, 17}},     // 1×1, K = 9, 130 channels
		{Op: conv(13, 17, 3, 1, 1, false, true), In: graph.Shape{3, 13, 7, 7}},      // K = 117, 49 pixels per image
		{Op: conv(40, 72, 3, 1, 1, true, true), In: graph.Shape{3, 40, 7, 7}},       // columns straddle images
		{Op: conv(300, 20, 3, 1, 1, true, false), In: graph.Shape{1, 300, 3, 3}},    // K = 2700 over 9 pixels
		{Op: conv(16, 24, 3, 2, 1, false, true), In: graph.Shape{2, 16, 14, 14}},    // stride 2 on an even size
		{Op: conv(5, 129, 7, 2, 3, false, true), In: graph.Shape{2, 5, 19, 17}},     // 7×7 stride 2, odd sizes
		{Op: conv(24, 33, 1, 2, 0, true, true), In: graph.Shape{3, 24, 9, 9}},       // 1×1 stride 2
		{Op: conv(8, 136, 3, 1, 0, false, false), In: graph.Shape{1, 8, 130, 3}},    // no padding, tall image
		{Op: conv(264, 200, 1, 1, 0, false, true), In: graph.Shape{2, 264, 12, 12}}, // 1×1 larger than every tile
		{Op: conv(5, 7, 3, 1, 1, true, true), In: graph.Shape{2, 5, 5, 9}},          // odd output: partial 2×2 tiles, 30 tiles (not a multiple of 4)
		{Op: conv(70, 66, 3, 1, 2, false, false), In: graph.Shape{1, 70, 3, 4}},     // padding 2: a 5×6 output from a 3×4 input
		{Op: conv(3, 8, 3, 1, 1, false, true), In: graph.Shape{1, 3, 1, 1}},         // a 1×1 image: one tile, mostly padding
		{Op: conv(6, 20, 5, 1, 2, true, true), In: graph.Shape{2, 6, 9, 11}},        // 5×5: direct loops over kernel rows
		{Op: conv(7, 9, 1, 3, 1, false, true), In: graph.Shape{1, 7, 10, 8}},        // 1×1 with padding, stride 3
	}
}

// variantCases is the table variant runs: every awkward and edge case it
// supports, and the ResNet layers (batch 1) it supports and targets, one
// per geometry. The large layers run only on the variants meant for them;
// on lavapipe they are slow and the CPU reference slower.
func variantCases(t *testing.T, variant string) []opcheck.Case {
	gs, err := resnet.LayerGraphs(1)
	if err != nil {
		t.Fatal(err)
	}
	var cs []opcheck.Case
	for _, c := range append(opcheck.Awkward(), edgeConvs()...) {
		if op, ok := c.Op.(*graph.Conv2D); ok && shaders.ConvSupports(variant, op, c.In) {
			cs = append(cs, c)
		}
	}
	seen := map[string]bool{} // geometries: the epilogue flags are covered above
	for _, c := range opcheck.FromGraphs(gs...) {
		op, ok := c.Op.(*graph.Conv2D)
		if !ok || !shaders.ConvSupports(variant, op, c.In) || (c.In[2] >= 28 && !largeTarget(variant)) {
			continue
		}
		g := *op
		g.ReLU, g.Residual = false, false
		if k := graph.Name(&g, c.In); !seen[k] {
			seen[k] = true
			cs = append(cs, c)
		}
	}
	opcheck.SortByCost(cs)
	return cs
}

// largeTarget reports whether a variant runs the large early layers
// (inputs of 28² and more): one implicit GEMM and the 1×1 GEMMs stand for
// the rest, which share their code and differ only in tile constants.
func largeTarget(variant string) bool {
	switch variant {
	case shaders.ConvTiled128, shaders.ConvGemm1x1, shaders.ConvGemm1x1Big, shaders.ConvWino, shaders.ConvDirect4:
		return true
	}
	return false
}

// TestConvVariants runs every variant on every case of its table through
// the op checker: the float64 reference, NMSE ≤ 1e-9, and poisoned,
// guarded outputs.
func TestConvVariants(t *testing.T) {
	dev := gputest.Device(t)
	t.Logf("on %s", dev.Info)
	for _, v := range shaders.ConvVariants() {
		t.Run(v, func(t *testing.T) {
			cs := variantCases(t, v)
			if testing.Short() {
				cs = cs[:(len(cs)+1)/2]
			}
			ex := gpuexec.New(dev, gpuexec.Options{Guard: 64, ConvVariant: func(*graph.Node) string { return v }})
			worst := 0.0
			for _, c := range cs {
				r := opcheck.Run(c, ex, 1)
				if !r.Pass() {
					t.Errorf("%v", r)
				}
				worst = math.Max(worst, r.NMSE)
			}
			t.Logf("%d cases, worst NMSE %.3e", len(cs), worst)
		})
	}
}

// The 1×1 variants cover the whole 1×1 family of ResNet, and the general
// ones every layer.
func TestConvSupports(t *testing.T) {
	gs, err := resnet.LayerGraphs(1)
	if err != nil {
		t.Fatal(err)
	}
	n1x1 := 0
	for _, c := range opcheck.FromGraphs(gs...) {
		op, ok := c.Op.(*graph.Conv2D)
		if !ok {
			continue
		}
		is1x1 := op.KH == 1 && op.KW == 1 && op.Stride == 1 && op.Pad == 0
		if is1x1 {
			n1x1++
		}
		is3x3s1 := op.KH == 3 && op.KW == 3 && op.Stride == 1
		for _, v := range shaders.ConvVariants() {
			want := is1x1 || !isGemm1x1(v)
			if isWino(v) {
				want = is3x3s1
			}
			if got := shaders.ConvSupports(v, op, c.In); got != want {
				t.Errorf("ConvSupports(%s, %s) = %v, want %v", v, c, got, want)
			}
		}
	}
	if n1x1 == 0 {
		t.Error("no 1×1 layers in ResNet")
	}
	op := conv(64, 64, 3, 1, 1, false, false)
	op.Weight = make([]float32, 64*64*9)
	if shaders.ConvSupports("nonesuch", op, graph.Shape{1, 64, 8, 8}) {
		t.Error("an unknown variant is supported")
	}
	if _, err := shaders.Conv2D(op, graph.Shape{1, 64, 8, 8}, shaders.ConvGemm1x1, 65535); err == nil {
		t.Error("gemm1x1 launched a 3×3 convolution")
	}
}

func isWino(v string) bool { return v == shaders.ConvWino || v == shaders.ConvWinoSmall }

func isGemm1x1(v string) bool {
	return v == shaders.ConvGemm1x1 || v == shaders.ConvGemm1x1Big || v == shaders.ConvGemm1x1Small
}

// Equal keys denote equal sources and distinct sources distinct keys, over
// every variant and case, and every launch has workgroups.
func TestConvLaunches(t *testing.T) {
	gs, err := resnet.LayerGraphs(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	srcOf := map[gpu.Key]string{}
	keyOf := map[string]gpu.Key{}
	for _, c := range append(append(opcheck.Awkward(), edgeConvs()...), opcheck.FromGraphs(gs...)...) {
		op, ok := c.Op.(*graph.Conv2D)
		if !ok {
			continue
		}
		o := *op
		o.Weight = make([]float32, o.Cout*o.Cin*o.KH*o.KW)
		for _, v := range shaders.ConvVariants() {
			if !shaders.ConvSupports(v, &o, c.In) {
				continue
			}
			l, err := shaders.Conv2D(&o, c.In, v, 65535)
			if err != nil {
				t.Fatalf("%s on %s: %v", v, c, err)
			}
			if l.Key.Variant != v && !(v == "" && l.Key.Variant == shaders.ConvTiled) {
				t.Errorf("%s on %s: key names variant %q", v, c, l.Key.Variant)
			}
			src := l.Source()
			if s, ok := srcOf[l.Key]; ok && s != src {
				t.Errorf("%s on %s: key %+v denotes two sources", v, c, l.Key)
			}
			if k, ok := keyOf[src]; ok && k != l.Key {
				t.Errorf("%s on %s: one source under keys %+v and %+v", v, c, k, l.Key)
			}
			srcOf[l.Key], keyOf[src] = src, l.Key
			if l.Groups.Count() == 0 {
				t.Errorf("%s on %s: no workgroups", v, c)
			}
		}
	}
	t.Logf("%d distinct conv2d kernels", len(srcOf))
}
