package shaders_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// testCaps describes a discrete GPU for the tests that build launches
// without a device.
var testCaps = shaders.DiscreteGPU

func conv(cin, cout, k, s, p int, res, relu bool) *graph.Conv2D {
	c := graph.Conv(cin, cout, k, s, p)
	c.Residual, c.ReLU = res, relu
	return c
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

// groupedEdges aim at the grouped kernel's forms beyond ResNeXt's 3×3,
// with those of opcheck.Awkward (5×5 depthwise at stride 2, 7×7 in 4
// groups, dilation 2, 1×7): 5×5 and 7×7 depthwise, 7×1, dilation 3,
// asymmetric padding and per-axis strides, channels per group that fill
// no channel block of 4, at batch 1 and 2.
func groupedEdges() []opcheck.Case {
	grouped := func(cin, cout, kh, kw, groups int, stride [2]int, pad [4]int, dil [2]int, res, relu bool) *graph.Conv2D {
		return &graph.Conv2D{Cin: cin, Cout: cout, KH: kh, KW: kw, Stride: stride, Pad: pad, Dilation: dil, Groups: groups, Residual: res, ReLU: relu}
	}
	s1, s2 := [2]int{1, 1}, [2]int{2, 2}
	p := func(v int) [4]int { return [4]int{v, v, v, v} }
	return []opcheck.Case{
		{Op: grouped(8, 8, 5, 5, 8, s1, p(2), s1, false, true), In: graph.Shape{1, 8, 11, 11}},                                    // 5×5 depthwise
		{Op: grouped(16, 16, 7, 7, 16, s2, p(3), s1, false, false), In: graph.Shape{2, 16, 15, 15}},                               // 7×7 depthwise, stride 2
		{Op: grouped(8, 8, 7, 1, 2, s1, [4]int{3, 0, 3, 0}, s1, false, true), In: graph.Shape{1, 8, 11, 5}},                       // 7×1
		{Op: grouped(16, 24, 3, 3, 8, s1, p(3), [2]int{3, 3}, true, false), In: graph.Shape{1, 16, 13, 11}},                       // dilation 3, 2 in and 3 out a group
		{Op: grouped(8, 8, 3, 3, 2, s2, p(3), [2]int{3, 3}, false, true), In: graph.Shape{2, 8, 14, 13}},                          // dilation 3, stride 2
		{Op: grouped(6, 9, 3, 3, 3, [2]int{2, 1}, [4]int{0, 1, 2, 0}, s1, false, false), In: graph.Shape{2, 6, 9, 8}},             // asymmetric padding, stride 2×1
		{Op: grouped(15, 18, 5, 3, 3, [2]int{1, 2}, [4]int{2, 0, 1, 2}, [2]int{2, 1}, true, true), In: graph.Shape{2, 15, 10, 9}}, // 5×3, 6 out a group (a partial block), dilation 2×1
	}
}

// convCases are the convolutions of cs with their geometries.
func convCases(cs []opcheck.Case) ([]opcheck.Case, []shaders.ConvGeom) {
	var out []opcheck.Case
	var gs []shaders.ConvGeom
	for _, c := range cs {
		if op, ok := c.Op.(*graph.Conv2D); ok {
			out = append(out, c)
			gs = append(gs, op.Geom(c.In))
		}
	}
	return out, gs
}

// kernelCases is the table kernel k runs: every awkward and edge case it
// supports, those of batch 2 and more again writing a slice of a
// concatenation (opcheck.Case.Sliced: an output offset and batch stride in
// every kernel's final store), those with an input stage again reading
// one (opcheck.Case.SlicedIn, at every batch: the input's offset and
// batch stride, which every PreStage kernel honours), and the ResNet
// layers (batch 1) it supports, one per geometry. The large layers
// (inputs of 28² and more) run only on the kernels marked Large; on
// lavapipe they are slow and the CPU reference slower.
func kernelCases(t *testing.T, k shaders.ConvKernel) []opcheck.Case {
	gs, err := resnet.LayerGraphs(resnetDepths, 1)
	if err != nil {
		t.Fatal(err)
	}
	var cs []opcheck.Case
	small, geoms := convCases(append(append(opcheck.Awkward(), edgeConvs()...), groupedEdges()...))
	for i, c := range small {
		if k.Computes(geoms[i]) {
			cs = append(cs, c)
			if c.In[0] >= 2 {
				c := c
				c.Sliced = true
				cs = append(cs, c)
			}
			if geoms[i].Pre {
				c.SlicedIn = true
				cs = append(cs, c)
			}
		}
	}
	seen := map[string]bool{} // geometries: the epilogue flags are covered above
	layers, geoms := convCases(opcheck.FromGraphs(gs...))
	for i, c := range layers {
		g := geoms[i]
		if !k.Computes(g) || (g.H >= 28 && !k.Large) {
			continue
		}
		g.ReLU, g.Residual = false, false
		if s := g.String(); !seen[s] {
			seen[s] = true
			cs = append(cs, c)
		}
	}
	opcheck.SortByCost(cs)
	return cs
}

// TestConvVariants runs every kernel of the registry on every case of its
// table through the op checker: the float64 reference, NMSE ≤ 1e-9, and
// poisoned, guarded outputs.
func TestConvVariants(t *testing.T) {
	dev := gputest.Device(t)
	t.Logf("on %s", dev.Info)
	for _, k := range shaders.ConvKernels {
		t.Run(k.Name, func(t *testing.T) {
			cs := kernelCases(t, k)
			if len(cs) == 0 {
				t.Fatal("no cases")
			}
			if testing.Short() {
				cs = cs[:(len(cs)+1)/2]
			}
			ex := gpuexec.New(dev, gpuexec.Options{Guard: 64, ConvKernel: func(shaders.ConvGeom) string { return k.Name }})
			worst := 0.0
			sliced, slicedIn := 0, 0
			for _, c := range cs {
				if got := kernelOf(t, ex, c); got != k.Name {
					t.Errorf("%s runs as %q", c, got)
				}
				if c.Sliced {
					sliced++
					checkSliced(t, c)
				}
				if c.SlicedIn {
					slicedIn++
					checkSlicedIn(t, c)
				}
				r := opcheck.Run(c, ex, 1)
				if !r.Pass() {
					t.Errorf("%v", r)
				}
				worst = math.Max(worst, r.NMSE)
			}
			if sliced == 0 {
				t.Error("no sliced cases")
			}
			if k.PreStage && slicedIn == 0 {
				t.Error("no cases reading a slice")
			}
			t.Logf("%d cases (%d sliced, %d reading a slice), worst NMSE %.3e", len(cs), sliced, slicedIn, worst)
		})
	}
}

// checkSliced checks that the planner puts the convolution of sliced case
// c in its concatenation at a batch stride, so that the kernel writes it
// there.
func checkSliced(t *testing.T, c opcheck.Case) {
	g, _, err := c.Graph(1)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	p := graph.NewPlan(g)
	for _, n := range g.Nodes {
		if n.Op.Kind() != "conv2d" {
			continue
		}
		l, img := p.Layout[n.Out.ID], n.Out.Shape.Numel()/n.Out.Shape[0]
		if _, ok := p.Placed[n.Out.ID]; !ok || l.Off == 0 || l.BStride <= img {
			t.Errorf("%s: the convolution writes at %+v (images of %d), placed: %v", c, l, img, ok)
		}
	}
}

// checkSlicedIn checks that the planner leaves the input of the
// convolution of case c (opcheck.Case.SlicedIn) in its concatenation at
// an offset, and at batch 2 and more a batch stride, so that the kernel
// reads it there.
func checkSlicedIn(t *testing.T, c opcheck.Case) {
	g, _, err := c.Graph(1)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	p := graph.NewPlan(g)
	x := g.Outputs[0].Producer.Inputs[0]
	l, img := p.Layout[x.ID], x.Shape.Numel()/x.Shape[0]
	if _, ok := p.Placed[x.ID]; !ok || l.Off == 0 || x.Shape[0] > 1 && l.BStride <= img {
		t.Errorf("%s: the convolution reads at %+v (images of %d), placed: %v", c, l, img, ok)
	}
}

// kernelOf is the kernel ex runs case c with.
func kernelOf(t *testing.T, ex *gpuexec.Executor, c opcheck.Case) string {
	op, shapes := c.Op.Random(graph.NewRand(1), c.In)
	var gb graph.Builder
	var ins []*graph.Value
	for i, s := range shapes {
		ins = append(ins, gb.Input(fmt.Sprint("x", i), s))
	}
	gb.Output(gb.Apply("conv", op, ins...))
	g, err := gb.Graph()
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	return ex.Kernel(g.Nodes[0])
}

// The 1×1 kernels cover the whole 1×1 family of ResNet, the Winograd ones
// the 3×3 stride-1 layers, "grouped" none (it takes only grouped ones),
// the others every layer; "general" takes every grouped, dilated or
// unevenly padded convolution, "grouped" the grouped ones up to 7×7
// (dilated and unevenly padded too), the others none.
func TestConvSupports(t *testing.T) {
	gs, err := resnet.LayerGraphs(resnetDepths, 1)
	if err != nil {
		t.Fatal(err)
	}
	layers, geoms := convCases(opcheck.FromGraphs(gs...))
	n1x1 := 0
	for i, c := range layers {
		g := geoms[i]
		is1x1 := g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PT == 0
		if is1x1 {
			n1x1++
		}
		is3x3s1 := g.KH == 3 && g.KW == 3 && g.SH == 1 && g.SW == 1
		for _, k := range shaders.ConvKernels {
			want := true
			switch {
			case strings.HasPrefix(k.Name, "gemm1x1"):
				want = is1x1
			case strings.HasPrefix(k.Name, "wino"):
				want = is3x3s1
			case k.Name == "grouped":
				want = false
			}
			if got := k.Supports(g); got != want {
				t.Errorf("%s.Supports(%s) = %v, want %v", k.Name, c, got, want)
			}
		}
	}
	if n1x1 == 0 {
		t.Error("no 1×1 layers in ResNet")
	}
	odd, geoms := convCases(opcheck.Awkward())
	nOdd := 0
	for i, c := range odd {
		g := geoms[i]
		if g.Plain() {
			continue
		}
		nOdd++
		grouped := g.Groups > 1 && g.KH <= 7 && g.KW <= 7
		for _, k := range shaders.ConvKernels {
			if got, want := k.Supports(g), k.Name == "general" || k.Name == "grouped" && grouped; got != want {
				t.Errorf("%s.Supports(%s) = %v, want %v", k.Name, c, got, want)
			}
		}
	}
	if nOdd == 0 {
		t.Error("no grouped, dilated or unevenly padded cases in opcheck.Awkward")
	}
	g := conv(64, 64, 3, 1, 1, false, false).Geom(graph.Shape{1, 64, 8, 8})
	if _, err := shaders.Conv2D(g, "nonesuch", testCaps); err == nil {
		t.Error("an unknown kernel launched")
	}
	if _, err := shaders.Conv2D(g, "gemm1x1", testCaps); err == nil {
		t.Error("gemm1x1 launched a 3×3 convolution")
	}
	if _, err := shaders.Conv2D(g, "general", testCaps); err != nil {
		t.Errorf("general refused a 3×3 convolution: %v", err)
	}
}

// convLaunches returns the launches of cl: Pre, the main one, Post.
func convLaunches(cl shaders.ConvLaunch) []*shaders.Launch {
	ls := []*shaders.Launch{&cl.Launch}
	if cl.Pre != nil {
		ls = append([]*shaders.Launch{cl.Pre}, ls...)
	}
	if cl.Post != nil {
		ls = append(ls, cl.Post)
	}
	return ls
}

// Equal keys denote equal sources and distinct sources distinct keys, over
// every kernel and case and all their launches; the main launch's key
// names the kernel, and every launch has workgroups.
func TestConvLaunches(t *testing.T) {
	gs, err := resnet.LayerGraphs(resnetDepths, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	srcOf := map[gpu.Key]string{}
	keyOf := map[string]gpu.Key{}
	cs, geoms := convCases(append(append(opcheck.Awkward(), edgeConvs()...), opcheck.FromGraphs(gs...)...))
	for i, c := range cs {
		for _, k := range shaders.ConvKernels {
			if !k.Computes(geoms[i]) {
				continue
			}
			cl, err := shaders.Conv2D(geoms[i], k.Name, testCaps)
			if err != nil {
				t.Fatalf("%s on %s: %v", k.Name, c, err)
			}
			if cl.Key.Variant != k.Name {
				t.Errorf("%s on %s: key names variant %q", k.Name, c, cl.Key.Variant)
			}
			for _, l := range convLaunches(cl) {
				src := l.Source()
				if s, ok := srcOf[l.Key]; ok && s != src {
					t.Errorf("%s on %s: key %+v denotes two sources", k.Name, c, l.Key)
				}
				if key, ok := keyOf[src]; ok && key != l.Key {
					t.Errorf("%s on %s: one source under keys %+v and %+v", k.Name, c, key, l.Key)
				}
				srcOf[l.Key], keyOf[src] = src, l.Key
				if l.Groups.Count() == 0 {
					t.Errorf("%s on %s: %v has no workgroups", k.Name, c, l.Key)
				}
			}
		}
	}
	t.Logf("%d distinct conv2d pipelines", len(srcOf))
}

// resnetDepths are the architectures whose layers the variant suite runs:
// the plain ResNets (grouped convolutions have their own cases).
var resnetDepths = []string{"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"}
