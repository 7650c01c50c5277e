package perf

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// tinyNet is a conv 4→8, two convs 8→8 of the same shape (one distinct
// kernel, counted twice), a residual conv, a max pool, a global average
// pool and a linear layer.
func tinyNet(t *testing.T) *graph.Graph {
	conv := func(cin, cout int, res bool) *graph.Conv2D {
		c := graph.Conv(cin, cout, 3, 1, 1)
		c.ReLU, c.Residual, c.Weight = true, res, make([]float32, cout*cin*9)
		return c
	}
	var b graph.Builder
	x := b.Input("x", graph.Shape{1, 4, 8, 8})
	x1 := b.Apply("conv1", conv(4, 8, false), x)
	x = b.Apply("conv2", conv(8, 8, false), x1)
	x = b.Apply("conv3", conv(8, 8, false), x)
	x = b.Apply("conv4", conv(8, 8, true), x, x1)
	x = b.Apply("pool", graph.MaxPool(3, 2, 1), x)
	x = b.Apply("avgpool", graph.GlobalAvgPool{}, x)
	x = b.Apply("flatten", graph.Flatten{Axis: 1}, x)
	b.Output(b.Apply("fc", &graph.Linear{In: 8, Out: 5, Weight: make([]float32, 40)}, x))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestTimeKernels(t *testing.T) {
	dev := gputest.Device(t)
	g := tinyNet(t)
	var progress bytes.Buffer
	ceil := Ceilings{GFLOPS: 10, GBps: 10}
	rs, err := TimeKernels(dev, g, KernelOptions{Runs: 3, Ceil: ceil, Progress: &progress, Verbose: true,
		Exec: gpuexec.Options{ConvKernel: func(g shaders.ConvGeom) string {
			if g.Cin == 4 {
				return "tiled32k4"
			}
			return ""
		}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("progress:\n%s", progress.String())
	want := map[string]struct {
		count   int
		flops   int64
		variant string
	}{
		"conv2d(n=1,c=4,h=8,w=8,o=8,k=3x3,s=1,p=1,relu)":          {1, 2 * 8 * 8 * 8 * 4 * 9, "tiled32k4"},
		"conv2d(n=1,c=8,h=8,w=8,o=8,k=3x3,s=1,p=1,relu)":          {2, 2 * 8 * 8 * 8 * 8 * 9, "default"},
		"conv2d(n=1,c=8,h=8,w=8,o=8,k=3x3,s=1,p=1,relu,residual)": {1, 2 * 8 * 8 * 8 * 8 * 9, "default"},
		"maxpool(n=1,c=8,h=8,w=8,k=3x3,s=2,p=1)":                  {1, 8 * 4 * 4 * 9, ""},
		"avgpool(n=1,c=8,h=4,w=4,global)":                         {1, 8 * 4 * 4, ""},
		"linear(x=1x8,in=8,out=5)":                                {1, 2 * 8 * 5, ""},
	}
	if dev.Caps().CPU { // the fc layer runs as a direct4 convolution there
		w := want["linear(x=1x8,in=8,out=5)"]
		w.variant = "direct4"
		want["linear(x=1x8,in=8,out=5)"] = w
	}
	if len(rs) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(rs), len(want), rs)
	}
	for i, r := range rs {
		w, ok := want[r.Name]
		if !ok {
			t.Errorf("unexpected result %+v", r)
			continue
		}
		if w.variant == "default" && slices.Contains(shaders.KernelNames(), r.Variant) {
			w.variant = r.Variant // gpuexec's choice
		}
		if r.Count != w.count || r.FLOPs != w.flops || r.Variant != w.variant {
			t.Errorf("%s: count %d, %d FLOPs, variant %q; want %d, %d, %q", r.Name, r.Count, r.FLOPs, r.Variant, w.count, w.flops, w.variant)
		}
		if r.Time <= 0 || r.GFLOPS <= 0 || r.GBps <= 0 || r.Bytes <= 0 {
			t.Errorf("%s: non-positive measurements %+v", r.Name, r)
		}
		if r.PctFLOPS != 100*r.GFLOPS/ceil.GFLOPS || r.PctBW != 100*r.GBps/ceil.GBps {
			t.Errorf("%s: %.3g%% of FLOP/s and %.3g%% of bandwidth, want %.3g and %.3g", r.Name, r.PctFLOPS, r.PctBW, 100*r.GFLOPS/ceil.GFLOPS, 100*r.GBps/ceil.GBps)
		}
		if i > 0 && rs[i-1].Total() < r.Total() {
			t.Errorf("results not sorted by total time: %v before %v", rs[i-1].Total(), r.Total())
		}
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) != 1+len(want) || !strings.HasPrefix(lines[0], "timing 6 kernels on ") || !strings.HasPrefix(lines[1], "[1/6] conv2d(n=1,c=4,") || !strings.Contains(lines[6], "GFLOP/s") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

// The compute ceiling is measured with every kernel an executor on the
// adapter would run on its shapes: the default (direct4 on lavapipe,
// with its packing pass) among them.
func TestCeilingKernelsIncludeDefault(t *testing.T) {
	dev := gputest.Device(t)
	ex := gpuexec.New(dev, gpuexec.Options{})
	for _, s := range []computeShape{
		{"gemm", graph.Conv(256, 256, 1, 1, 0), graph.Shape{1, 256, 16, 16}},
		{"3x3", graph.Conv(256, 256, 3, 1, 1), graph.Shape{1, 256, 14, 14}},
	} {
		g, _, err := graph.Random("conv", s.op, s.in, 1)
		if err != nil {
			t.Fatal(err)
		}
		def := ex.Kernel(g.Nodes[0])
		if ks := ceilingKernels(dev, s); !slices.Contains(ks, def) {
			t.Errorf("%s: the ceiling's kernels %v lack the default %s", s.name, ks, def)
		}
	}
}

// Cached measures the ceilings (MeasureCeilings) once, writes them to the
// cache file, which is per adapter and size, and then reads that file;
// a file without positive ceilings is not read.
func TestMeasureCeilings(t *testing.T) {
	dev := gputest.Device(t)
	t.Logf("%s, timestamps %v, size for it: %v", dev.Info, dev.HasTimestamps, SizeFor(dev))
	dir := t.TempDir()
	path := CeilingsPath(dev, Small, dir)
	if path == CeilingsPath(dev, Large, dir) {
		t.Errorf("small and large ceilings share %s", path)
	}
	c, when, err := Cached(dev, Small, dir, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%.2f GFLOP/s (%s), %.2f GB/s (%s)", c.GFLOPS, c.GEMM, c.GBps, c.Copy)
	if !(c.GFLOPS > 0) || !(c.GBps > 0) || !regexp.MustCompile(`^(gemm 256x256x256|conv 3x3 c256→256 14²) via conv2d/\w+ \(`).MatchString(c.GEMM) || !strings.HasPrefix(c.Copy, "copy 4 MiB") {
		t.Errorf("ceilings %+v", c)
	}
	if _, err := os.Stat(path); err != nil || time.Since(when) > 10*time.Minute {
		t.Fatalf("measured at %v; cache file: %v", when, err)
	}
	planted := []byte(`{"GFLOPS": 1.5, "GBps": 2.5, "GEMM": "g", "Copy": "c", "measured": "2026-01-02T03:04:05Z"}`)
	if err := os.WriteFile(path, planted, 0o644); err != nil {
		t.Fatal(err)
	}
	c, when, err = Cached(dev, Small, dir, false, nil)
	if err != nil || c.GFLOPS != 1.5 || c.GBps != 2.5 || c.GEMM != "g" || when.Year() != 2026 {
		t.Errorf("cached: %+v at %v, %v; want the planted file's", c, when, err)
	}
	for _, bad := range []string{`{"GFLOPS": 0, "GBps": 2}`, `{"GFLOPS": 1`, ``} {
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, ok := readCeilings(path); ok {
			t.Errorf("cache %q read as valid", bad)
		}
	}
}
