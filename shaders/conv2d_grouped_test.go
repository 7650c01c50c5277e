package shaders_test

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// resnexts are the torchvision ResNeXts.
var resnexts = []string{"resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d"}

// resnextLayers are the grouped convolutions of the ResNeXts at 224²,
// batch 1 and 2, one per geometry (the epilogue flags aside): the 3×3 of
// every Bottleneck, at stride 2 in the first block of stages 2–4.
func resnextLayers(t testing.TB) []opcheck.Case {
	gs, err := resnet.LayerGraphs(resnexts, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	cs, geoms := convCases(opcheck.FromGraphs(gs...))
	var out []opcheck.Case
	seen := map[string]bool{}
	for i, c := range cs {
		g := geoms[i]
		g.ReLU, g.Residual = false, false
		if s := g.String(); geoms[i].Groups > 1 && !seen[s] {
			seen[s] = true
			out = append(out, c)
		}
	}
	opcheck.SortByCost(out)
	return out
}

// TestConvGroupedResNeXt runs the grouped kernel on every grouped layer of
// the ResNeXts, batch 1 and 2, through the op checker (the float64
// reference, poisoned and guarded outputs), and checks that the untuned
// chooser picks it for them on both kinds of device.
func TestConvGroupedResNeXt(t *testing.T) {
	dev := gputest.Device(t)
	cs := resnextLayers(t)
	if len(cs) != 42 {
		t.Errorf("%d distinct grouped ResNeXt layers, want 42 (7 per network and batch)", len(cs))
	}
	if testing.Short() {
		cs = cs[:len(cs)/2]
	}
	ex := gpuexec.New(dev, gpuexec.Options{Guard: 64, ConvKernel: func(shaders.ConvGeom) string { return "grouped" }})
	worst := 0.0
	for _, c := range cs {
		g := c.Op.(*graph.Conv2D).Geom(c.In)
		for _, caps := range []gpu.Caps{shaders.DiscreteGPU, shaders.CPUAdapter} {
			if d := shaders.Defaults(g, caps); len(d) == 0 || d[0] != "grouped" {
				t.Errorf("%s: defaults %q (CPU %t), want grouped first", c, d, caps.CPU)
			}
		}
		r := opcheck.Run(c, ex, 1)
		if !r.Pass() {
			t.Errorf("%v", r)
		}
		worst = math.Max(worst, r.NMSE)
	}
	t.Logf("%d cases, worst NMSE %.3e", len(cs), worst)
}

// TestConvGroupedForms runs the launches built for both kinds of device on
// this one (the one-pixel blocks of a discrete GPU and a CPU adapter's
// rows of 7 or 4), and with workgroup counts folded past a limit of 12, on
// a ResNeXt layer of each group width and the grouped cases of
// opcheck.Awkward (depthwise, groups of 5, partial channel blocks, strides
// 2 and 3, a 1×1 image, dilation, asymmetric padding) and groupedEdges
// (5×5 and 7×7, 1×7, dilation 3). The variant suite runs the latter on
// the executor too.
func TestConvGroupedForms(t *testing.T) {
	dev := gputest.Device(t)
	cases := []shaders.ConvGeom{
		cg(1, 128, 7, 7, 128, 3, 1, 1, 32, false, true),   // ResNeXt-50 32×4d: 4 channels a group
		cg(2, 256, 14, 14, 256, 3, 2, 1, 32, true, true),  // 8 a group, stride 2, residual, batch 2
		cg(1, 512, 7, 7, 512, 3, 1, 1, 32, false, true),   // 16 a group
		cg(1, 2048, 7, 7, 2048, 3, 1, 1, 32, false, true), // 64 a group (ResNeXt-101 32×8d)
	}
	k, _ := shaders.Kernel("grouped")
	_, awkward := convCases(append(opcheck.Awkward(), groupedEdges()...))
	for _, g := range awkward {
		// runPacked binds no input stage: graph/opcheck's TestPreStage
		// checks the Pre cases through the executor.
		if k.Supports(g) && !g.Pre {
			cases = append(cases, g)
		}
	}
	if len(cases) < 4+12+len(groupedEdges()) {
		t.Fatalf("%d grouped cases in opcheck.Awkward and groupedEdges, want at least %d", len(cases)-4, 12+len(groupedEdges()))
	}
	gpuLim := shaders.DiscreteGPU
	gpuLim.Limits = dev.Limits
	cpuLim := gpuLim
	cpuLim.CPU = true
	folded := cpuLim
	folded.MaxWorkgroupsPerDimension = 12
	forms := []struct {
		name string
		caps gpu.Caps
	}{{"gpu", gpuLim}, {"cpu", cpuLim}, {"folded", folded}}
	r := graph.NewRand(11)
	for _, g := range cases {
		op, shape := graph.ConvOf(g)
		rop, shapes := op.Random(r, shape)
		conv := rop.(*graph.Conv2D)
		n := g.N * g.Cout * g.OH() * g.OW()
		data := [][]float32{r.Uniform(shape.Numel(), -1, 1)}
		res := r.Uniform(n, -1, 1)
		if g.Residual {
			data = append(data, res)
		}
		want, _, err := ref.Apply(conv, shapes, data)
		if err != nil {
			t.Fatalf("%s: reference: %v", g, err)
		}
		for _, f := range forms {
			cl, err := shaders.Conv2D(g, "grouped", f.caps)
			if err != nil {
				t.Fatalf("%s (%s): %v", g, f.name, err)
			}
			if f.name == "folded" && cl.Groups[1] == 1 && cl.Groups.Count() > 12 {
				t.Errorf("%s: grid %v not folded", g, cl.Groups)
			}
			got := runPacked(t, dev, cl, data[0], conv, res, n)
			if e, _, err := opcheck.Compare(got, want); err != nil || !(e <= 1e-9) {
				t.Errorf("%s (%s, grid %v): NMSE %.3e > 1e-9 %v", g, f.name, cl.Groups, e, err)
			}
		}
	}
}

// runPacked runs a texture-reading convolution's launches (Pre packs the
// input, Launch convolves) as the executor binds them, on input in with
// conv's parameters and residual res, into a poisoned output of n floats
// and a guard, and returns the n floats; it fails if a guard float was
// written.
func runPacked(t *testing.T, dev *gpu.Device, cl shaders.ConvLaunch, in []float32, conv *graph.Conv2D, res []float32, n int) []float32 {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	texture := func(name string, texels int, vals []float32) *gpu.Texture {
		t.Helper()
		tx, err := dev.NewTexture(name, uint64(texels))
		must(err)
		t.Cleanup(tx.Release)
		if vals != nil {
			must(dev.WriteTexture(tx, vals))
		}
		return tx
	}
	buffer := func(name string, vals []float32) *gpu.Buffer {
		t.Helper()
		b, err := dev.NewBuffer(name, uint64(4*len(vals)))
		must(err)
		t.Cleanup(b.Release)
		must(dev.Write(b, 0, gpu.Bytes(vals)))
		return b
	}
	w := cl.Weights(conv.Weight)
	flat := texture("flat", cl.InTexels, in)
	packed := texture("packed", cl.Texels, nil)
	weight := texture("weight", (len(w)+3)/4, w)
	poison := make([]float32, n+guard)
	for i := range poison {
		poison[i] = math.Float32frombits(poisonBits)
	}
	out := buffer("dst", poison)
	binds := []gpu.Binds{
		{"flat": flat, "dst": packed},
		{"src": packed, "weight": weight, "scale": buffer("scale", conv.Scale), "bias": buffer("bias", conv.Bias),
			"res": buffer("res", res), "dst": out},
	}
	var ds []*gpu.Dispatch
	for i, l := range []*shaders.Launch{cl.Pre, &cl.Launch} {
		pl, err := dev.Pipeline(l.Key, l.Source)
		must(err)
		d, err := dev.Bind(l.Key.Variant, pl, l.Params, l.Groups, binds[i])
		must(err)
		t.Cleanup(d.Release)
		ds = append(ds, d)
	}
	got := make([]byte, 4*(n+guard))
	_, err := dev.Run(ds, []gpu.ReadBack{{Buf: out, Dst: got}}, false)
	must(err)
	for i := n; i < n+guard; i++ {
		if v := binary.LittleEndian.Uint32(got[4*i:]); v != poisonBits {
			t.Errorf("guard float %d written: %#x", i-n, v)
			break
		}
	}
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(got[4*i:]))
	}
	return vals
}

// TestGroupedLaunch checks the grouped kernel's support, key, grid and
// errors without a device.
func TestGroupedLaunch(t *testing.T) {
	l1 := cg(1, 128, 56, 56, 128, 3, 1, 1, 32, false, true) // ResNeXt-50 layer1
	k, ok := shaders.Kernel("grouped")
	if !ok {
		t.Fatal("no grouped kernel in the registry")
	}
	k8 := cg(1, 128, 56, 56, 128, 8, 1, 2, 32, false, true)
	k1x8 := k8
	k1x8.KH = 1
	farPad := l1
	farPad.PL = 1 << 16
	for _, g := range []shaders.ConvGeom{cg(1, 64, 56, 56, 64, 3, 1, 1, 1, false, true), k8, k1x8, farPad} {
		if k.Supports(g) {
			t.Errorf("grouped supports %s", g)
		}
		if _, err := shaders.Conv2D(g, "grouped", shaders.CPUAdapter); err == nil {
			t.Errorf("grouped launched %s", g)
		}
	}
	for _, f := range []struct {
		caps   gpu.Caps
		br, bc uint32
		wgs    uint64 // 64 invocations each: 4 channels (one group) × a block
	}{
		{shaders.DiscreteGPU, 1, 1, 32 * 56 * 56 / 64},
		{shaders.CPUAdapter, 2, 7, 32 * 28 * 8 / 64},
	} {
		cl, err := shaders.Conv2D(l1, "grouped", f.caps)
		if err != nil {
			t.Fatal(err)
		}
		want := gpu.Key{Kernel: "conv2d", Variant: "grouped", Consts: [8]uint32{0, 1, 3<<16 | 3, 1<<16 | 1, 1<<16 | 1, 1<<16 | 1, 1, f.br<<16 | f.bc}}
		if cl.Key != want {
			t.Errorf("CPU %t: key %+v, want %+v", f.caps.CPU, cl.Key, want)
		}
		if cl.Groups.Count() != f.wgs {
			t.Errorf("CPU %t: %d workgroups, want %d", f.caps.CPU, cl.Groups.Count(), f.wgs)
		}
		if cl.Pre == nil || cl.Texels != 32*56*56 || cl.InTexels != 128*56*56/4 || cl.Weights == nil {
			t.Errorf("CPU %t: packing %+v", f.caps.CPU, cl)
		}
		// 4 input channels a group: one texel a tap; here 1.
		if w := cl.Weights(make([]float32, 128*4*9)); len(w) != 128*9*4 {
			t.Errorf("packed weights: %d floats, want %d", len(w), 128*9*4)
		}
	}
	// Stride 2: one row of 7 on a CPU adapter; with channels per group
	// not a multiple of 4 (one channel a step), of 4.
	s2 := cg(1, 256, 56, 56, 256, 3, 2, 1, 32, false, true)
	if cl, err := shaders.Conv2D(s2, "grouped", shaders.CPUAdapter); err != nil || cl.Key.Consts != [8]uint32{0, 1, 3<<16 | 3, 2<<16 | 2, 1<<16 | 1, 1<<16 | 1, 1, 1<<16 | 7} {
		t.Errorf("stride 2: key %+v, %v", cl.Key, err)
	}
	dw := cg(1, 32, 56, 56, 32, 3, 2, 1, 32, false, false)
	if cl, err := shaders.Conv2D(dw, "grouped", shaders.CPUAdapter); err != nil || cl.Key.Consts != [8]uint32{0, 0, 3<<16 | 3, 2<<16 | 2, 1<<16 | 1, 1<<16 | 1, 0, 1<<16 | 4} {
		t.Errorf("depthwise, stride 2: key %+v, %v", cl.Key, err)
	}
	// The larger kernels on a CPU adapter: the largest block whose patch
	// is at most 45 texels and whose products at most 126. A dilated
	// patch holds only the rows and columns its taps read: every DH-th
	// row over one row of pixels, every gcd(SW, DW)-th column.
	d2 := cg(1, 1024, 14, 14, 1024, 3, 1, 2, 32, false, true)
	d2.DH, d2.DW = 2, 2
	d3s2 := cg(1, 64, 28, 28, 64, 3, 2, 3, 4, false, true)
	d3s2.DH, d3s2.DW = 3, 3
	for _, f := range []struct {
		g      shaders.ConvGeom
		caps   gpu.Caps
		br, bc uint32
		patch  string
	}{
		{cg(1, 240, 28, 28, 240, 5, 1, 2, 240, false, true), shaders.CPUAdapter, 1, 4, "PH: u32 = 5u;\nconst PW: u32 = 8u;"}, // 1 × 7: 55 texels
		{cg(1, 96, 56, 56, 96, 7, 1, 3, 96, false, true), shaders.CPUAdapter, 1, 1, "PH: u32 = 7u;\nconst PW: u32 = 7u;"},
		{d2, shaders.CPUAdapter, 1, 7, "UY: u32 = 2u;\nconst UX: u32 = 1u;\nconst PH: u32 = 3u;\nconst PW: u32 = 11u;"},
		{d2, shaders.DiscreteGPU, 1, 1, "UY: u32 = 2u;\nconst UX: u32 = 2u;\nconst PH: u32 = 3u;\nconst PW: u32 = 3u;"},
		{d3s2, shaders.CPUAdapter, 1, 4, "UY: u32 = 3u;\nconst UX: u32 = 1u;\nconst PH: u32 = 3u;\nconst PW: u32 = 13u;"}, // 1 × 7: 19 columns
	} {
		cl, err := shaders.Conv2D(f.g, "grouped", f.caps)
		if err != nil {
			t.Errorf("%s: %v", f.g, err)
			continue
		}
		if got := cl.Key.Consts[7]; got != f.br<<16|f.bc {
			t.Errorf("%s (CPU %t): block %d × %d, want %d × %d", f.g, f.caps.CPU, got>>16, got&0xffff, f.br, f.bc)
		}
		if src := cl.Source(); !strings.Contains(src, f.patch) {
			t.Errorf("%s (CPU %t): no %q in the source", f.g, f.caps.CPU, f.patch)
		}
	}
	// The untuned chooser takes grouped over general for them too.
	_, edges := convCases(groupedEdges())
	for _, g := range append(edges, d2, d3s2) {
		for _, caps := range []gpu.Caps{shaders.DiscreteGPU, shaders.CPUAdapter} {
			if d := shaders.Defaults(g, caps); len(d) == 0 || d[0] != "grouped" {
				t.Errorf("%s: defaults %q (CPU %t), want grouped first", g, d, caps.CPU)
			}
		}
	}
	small := shaders.CPUAdapter
	small.MaxInvocationsPerWorkgroup = 32
	if _, err := shaders.Conv2D(l1, "grouped", small); err == nil {
		t.Error("workgroups of 64 launched on an adapter that allows 32")
	}
	small = shaders.CPUAdapter
	small.MaxTextureDimension2D = 8 // 32768 texels; the input needs 100352
	if _, err := shaders.Conv2D(l1, "grouped", small); err == nil {
		t.Error("an input texture larger than the adapter's limit launched")
	}
	small = shaders.CPUAdapter
	small.MaxWorkgroupsPerDimension = 1
	if _, err := shaders.Conv2D(l1, "grouped", small); err == nil {
		t.Error("112 workgroups fit a limit of 1")
	}
}

// The grouped 3×3 convolutions of ResNeXt-50 32×4d at 224², batch 1 (32
// groups; per stage L1 56² … L4 7², s2 the strided one of the first
// block), ResNeXt-101 64×4d's first (64 groups of 4), and depthwise ones.
var (
	x50L1   = benchShape{1, 128, 56, 128, 3, 1, 1, false}
	x50L2s2 = benchShape{1, 256, 56, 256, 3, 2, 1, false}
	x50L2   = benchShape{1, 256, 28, 256, 3, 1, 1, false}
	x50L3s2 = benchShape{1, 512, 28, 512, 3, 2, 1, false}
	x50L3   = benchShape{1, 512, 14, 512, 3, 1, 1, false}
	x50L4s2 = benchShape{1, 1024, 14, 1024, 3, 2, 1, false}
	x50L4   = benchShape{1, 1024, 7, 1024, 3, 1, 1, false}
	x101L1  = benchShape{1, 256, 56, 256, 3, 1, 1, false}
	dw56    = benchShape{1, 32, 56, 32, 3, 1, 1, false}
	dw56s2  = benchShape{1, 32, 56, 32, 3, 2, 1, false}
)

func BenchmarkConv_X50L1_g32(b *testing.B)     { benchGroupedConv(b, x50L1, 32) }
func BenchmarkConv_X50L2s2_g32(b *testing.B)   { benchGroupedConv(b, x50L2s2, 32) }
func BenchmarkConv_X50L2_g32(b *testing.B)     { benchGroupedConv(b, x50L2, 32) }
func BenchmarkConv_X50L3s2_g32(b *testing.B)   { benchGroupedConv(b, x50L3s2, 32) }
func BenchmarkConv_X50L3_g32(b *testing.B)     { benchGroupedConv(b, x50L3, 32) }
func BenchmarkConv_X50L4s2_g32(b *testing.B)   { benchGroupedConv(b, x50L4s2, 32) }
func BenchmarkConv_X50L4_g32(b *testing.B)     { benchGroupedConv(b, x50L4, 32) }
func BenchmarkConv_X101L1_g64(b *testing.B)    { benchGroupedConv(b, x101L1, 64) }
func BenchmarkConv_Depthwise56(b *testing.B)   { benchGroupedConv(b, dw56, 32) }
func BenchmarkConv_Depthwise56s2(b *testing.B) { benchGroupedConv(b, dw56s2, 32) }

// BenchmarkForward times whole forward passes at batch 1 (synthetic
// weights): ResNeXt-50 32×4d with its grouped convolutions on the default
// kernel (grouped) and on general, and ResNet-50, of about the same
// multiply-adds, for comparison.
func BenchmarkForward(b *testing.B) {
	dev := gputest.Device(b)
	for _, r := range []struct{ arch, grouped string }{
		{"resnext50_32x4d", "grouped"},
		{"resnext50_32x4d", "general"},
		{"resnet50", ""},
	} {
		name := r.arch
		if r.grouped != "" {
			name += "/" + r.grouped
		}
		b.Run(name, func(b *testing.B) {
			a := resnet.Archs[r.arch]
			g, err := resnet.Build(a, weights.Synthetic(a.Specs(), 0), resnet.BuildOptions{Batch: 1})
			if err != nil {
				b.Fatal(err)
			}
			graph.Optimize(g)
			pick := func(g shaders.ConvGeom) string {
				if g.Groups > 1 {
					return r.grouped
				}
				return ""
			}
			p, err := gpuexec.New(dev, gpuexec.Options{ConvKernel: pick}).CompileGPU(g)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			warmUp(b, p)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := p.Time(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// groupedOp is a k × k convolution of c channels in groups at stride s,
// dilation d, padded to keep the size at stride 1, with ReLU.
func groupedOp(c, k, s, d, groups int) *graph.Conv2D {
	op := graph.Conv(c, c, k, s, d*(k-1)/2)
	op.Groups, op.Dilation, op.ReLU = groups, [2]int{d, d}, true
	return op
}

// Grouped convolutions beyond ResNeXt's 3×3, batch 1: EfficientNet-B0's
// 5×5 depthwise layers (240 channels at 28², the strided one of 144 at
// 56²), ConvNeXt-T's 7×7 depthwise of its first stage (96 at 56²), and
// ResNeXt-50's last-stage 3×3 dilated 2 as DeepLab runs it (at 14²), and
// dilated 3.
func BenchmarkConv_Depthwise28_5x5(b *testing.B) {
	benchConvOp(b, groupedOp(240, 5, 1, 1, 240), graph.Shape{1, 240, 28, 28})
}
func BenchmarkConv_Depthwise56s2_5x5(b *testing.B) {
	benchConvOp(b, groupedOp(144, 5, 2, 1, 144), graph.Shape{1, 144, 56, 56})
}
func BenchmarkConv_Depthwise56_7x7(b *testing.B) {
	benchConvOp(b, groupedOp(96, 7, 1, 1, 96), graph.Shape{1, 96, 56, 56})
}
func BenchmarkConv_X50L4_d2_g32(b *testing.B) {
	benchConvOp(b, groupedOp(1024, 3, 1, 2, 32), graph.Shape{1, 1024, 14, 14})
}
func BenchmarkConv_X50L4_d3_g32(b *testing.B) {
	benchConvOp(b, groupedOp(1024, 3, 1, 3, 32), graph.Shape{1, 1024, 14, 14})
}
