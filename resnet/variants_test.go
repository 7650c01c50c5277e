package resnet_test

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// A whole ResNet-18 whose convolutions run as the multi-launch variants
// (Winograd for every 3×3 stride-1 layer, K split across workgroups for the
// rest), which pass data through one pair of scratch buffers shared by all
// layers, matches the CPU reference; on a small input so lavapipe is quick.
func TestMultiLaunchVariantsNetwork(t *testing.T) {
	dev := gputest.Device(t)
	a := resnet.Archs["resnet18"]
	g, err := resnet.Build(a, weights.Synthetic(a.Specs(), 3), resnet.BuildOptions{Batch: 2, Height: 64, Width: 48})
	if err != nil {
		t.Fatal(err)
	}
	graph.Optimize(g)
	chosen := map[int]string{} // node → variant
	wino, _ := shaders.Kernel("wino")
	choose := func(geom shaders.ConvGeom) string {
		k := len(chosen)
		v := []string{"splitk4", "splitk8"}[k%2]
		if wino.Supports(geom) {
			v = []string{"wino", "wino_small"}[k%2]
		}
		chosen[k] = v
		return v
	}
	p, err := gpuexec.New(dev, gpuexec.Options{Guard: 64, ConvKernel: choose}).CompileGPU(g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in := weights.SyntheticInput(2, 3, 64, 48, 5)
	got, err := p.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckGuards(); err != nil {
		t.Fatal(err)
	}
	rp, err := ref.Executor{}.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	want, err := rp.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]int{}
	for _, v := range chosen {
		used[v]++
	}
	e := resnet.RelErr(got[0], want[0])
	t.Logf("variants %v, %d dispatches: logits max|Δ|/max|ref| = %.2e", used, len(p.Steps), e)
	if e > 1e-5 || e != e {
		t.Errorf("logits differ from the CPU reference by %.2e (max|Δ|/max|ref|), want ≤ 1e-5", e)
	}
	for _, v := range []string{"wino", "wino_small", "splitk4", "splitk8"} {
		if used[v] == 0 {
			t.Errorf("variant %s never used", v)
		}
	}
}
