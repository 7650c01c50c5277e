package shaders_test

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

var update = flag.Bool("update", false, "rewrite the golden WGSL files in testdata/wgsl")

// goldenDir holds the golden kernel sources.
const goldenDir = "../testdata/wgsl"

// updateHint says how to accept a change of the generated WGSL.
const updateHint = "if the change is intended: go test ./shaders -run TestGoldenWGSL -update"

// resnetConv is a square ResNet convolution at batch 1 on a hw × hw input.
func resnetConv(cin, hw, cout, k, s, p int, residual, relu bool) shaders.ConvGeom {
	return shaders.ConvGeom{N: 1, Cin: cin, H: hw, W: hw, Cout: cout, KH: k, KW: k, SH: s, SW: s,
		PT: p, PL: p, PB: p, PR: p, DH: 1, DW: 1, Groups: 1, Residual: residual, ReLU: relu}
}

// goldenConvs are the convolutions of the golden files, layers of
// ResNet-50 (and ResNeXt-50's grouped 3×3, DenseNet-121's first
// transition with its pre-activation as the input stage): each is dumped with the
// kernels chosen for it on a discrete GPU and on a CPU adapter, and every
// kernel of the registry on the first of them it supports.
var goldenConvs = []shaders.ConvGeom{
	resnetConv(64, 56, 64, 3, 1, 1, false, true),    // layer1's 3×3
	resnetConv(64, 56, 256, 1, 1, 0, true, true),    // layer1's 1×1 expansion, with the residual
	resnetConv(3, 224, 64, 7, 2, 3, false, true),    // the stem
	resnetConv(128, 56, 128, 3, 2, 1, false, true),  // layer2's strided 3×3
	resnetConv(256, 56, 512, 1, 2, 0, false, false), // layer2's downsampling 1×1
	func() shaders.ConvGeom { // ResNeXt-50 32×4d layer1's grouped 3×3
		g := resnetConv(128, 56, 128, 3, 1, 1, false, true)
		g.Groups = 32
		return g
	}(),
	func() shaders.ConvGeom { // DenseNet-121 transition1's 1×1 after its batch-norm and ReLU
		g := resnetConv(256, 56, 128, 1, 1, 0, false, false)
		g.Pre, g.PreReLU = true, true
		return g
	}(),
}

// goldenOps are the other ops of the golden files, each lowered for both
// kinds of device: ResNet-50's pools, classifier and softmax, and the
// element-wise and concatenation kernels.
var goldenOps = []struct {
	op graph.Op
	in graph.Shape
}{
	{graph.MaxPool(3, 2, 1), graph.Shape{1, 64, 112, 112}},
	{graph.GlobalAvgPool{}, graph.Shape{1, 2048, 7, 7}},
	{&graph.Linear{In: 2048, Out: 1000}, graph.Shape{1, 2048}},
	{graph.Softmax{}, graph.Shape{1, 1000}},
	{graph.Add{ReLU: true}, graph.Shape{1, 256, 56, 56}},
	{graph.ReLU{}, graph.Shape{1, 64, 56, 56}},
	{graph.Clip{Min: 0, Max: 6}, graph.Shape{1, 32, 112, 112}}, // MobileNet's ReLU6
	{&graph.BatchNorm{}, graph.Shape{1, 64, 56, 56}},
	{graph.Concat{Axis: 1, N: 2}, graph.Shape{1, 64, 28, 28}},
}

// goldenDump builds the sources of the golden files as the executor lowers
// them (gpuexec.Launches), on a discrete GPU and on a CPU adapter.
func goldenDump(t *testing.T) *shaders.Dump {
	t.Helper()
	var d shaders.Dump
	add := func(op graph.Op, in graph.Shape, c gpu.Caps, kernel string) {
		t.Helper()
		g, _, err := graph.Random("golden", op, in, 1)
		if err != nil {
			t.Fatalf("%s: %v", graph.Name(op, in), err)
		}
		var opt gpuexec.Options
		if kernel != "" {
			opt.ConvKernel = func(shaders.ConvGeom) string { return kernel }
		}
		ls, err := gpuexec.Launches(g, c, opt)
		if err != nil {
			t.Fatalf("%s, kernel %q, CPU %t: %v", graph.Name(op, in), kernel, c.CPU, err)
		}
		for _, l := range ls {
			if err := d.Add(l.Node.String(), l.Launch, c.CPU); err != nil {
				t.Fatal(err)
			}
		}
	}
	forms := []gpu.Caps{shaders.DiscreteGPU, shaders.CPUAdapter}
	for _, g := range goldenConvs {
		op, in := graph.ConvOf(g)
		for _, c := range forms {
			add(op, in, c, "")
		}
	}
	for _, k := range shaders.ConvKernels {
		i := slices.IndexFunc(goldenConvs, k.Supports)
		if i < 0 {
			t.Errorf("kernel %s supports none of the golden convolutions: add one it supports", k.Name)
			continue
		}
		op, in := graph.ConvOf(goldenConvs[i])
		for _, c := range forms {
			add(op, in, c, k.Name)
		}
	}
	for _, o := range goldenOps {
		for _, c := range forms {
			add(o.op, o.in, c, "")
		}
	}
	return &d
}

// The WGSL sent to the device, generated kernels included, matches
// testdata/wgsl byte for byte. It needs no GPU: it only builds sources.
func TestGoldenWGSL(t *testing.T) {
	d := goldenDump(t)
	made := map[string]bool{}
	for _, f := range d.Files {
		made[f.Name] = true
	}
	old, err := filepath.Glob(filepath.Join(goldenDir, "*.wgsl"))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		bad, _ := filepath.Glob(filepath.Join(goldenDir, "*.wgsl-bad"))
		for _, p := range append(old, bad...) {
			if !made[filepath.Base(p)] || strings.HasSuffix(p, "-bad") {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := d.Write(goldenDir); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d golden files to %s", len(d.Files), goldenDir)
		return
	}
	for _, p := range old {
		if !made[filepath.Base(p)] {
			t.Errorf("%s: no launch makes this source any more; %s", p, updateHint)
		}
	}
	for _, f := range d.Files {
		path := filepath.Join(goldenDir, f.Name)
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v; %s", err, updateHint)
			continue
		}
		if string(want) == f.Source {
			if err := os.Remove(path + "-bad"); err != nil && !os.IsNotExist(err) {
				t.Error(err)
			}
			continue
		}
		if err := os.WriteFile(path+"-bad", []byte(f.Source), 0o644); err != nil {
			t.Error(err)
		}
		n, got, exp := firstDiff(f.Source, string(want))
		t.Errorf("%s differs from the generated source (written to %s-bad) first at line %d:\n got: %q\nwant: %q\n%s",
			path, path, n, got, exp, updateHint)
	}
	t.Logf("%d golden files", len(d.Files))
}

// firstDiff returns the number (from 1) of the first line where got and
// want differ, and that line of each ("" past the end).
func firstDiff(got, want string) (n int, g, w string) {
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	line := func(ls []string, i int) string {
		if i < len(ls) {
			return ls[i]
		}
		return ""
	}
	i := 0
	for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
		i++
	}
	return i + 1, line(gl, i), line(wl, i)
}

// Every golden source is valid WGSL as naga, wgpu's shader compiler, reads
// it, where its command-line tool is installed; no device is needed.
func TestGoldenWGSLValid(t *testing.T) {
	naga, err := exec.LookPath("naga")
	if err != nil {
		t.Skip("naga is not installed (cargo install naga-cli)")
	}
	d := goldenDump(t)
	dir := t.TempDir()
	if err := d.Write(dir); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range d.Files {
		paths = append(paths, filepath.Join(dir, f.Name))
	}
	if out, err := exec.Command(naga, append([]string{"--bulk-validate"}, paths...)...).CombinedOutput(); err != nil {
		t.Errorf("naga: %v\n%s", err, out)
	}
}
