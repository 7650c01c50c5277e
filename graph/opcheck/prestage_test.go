package opcheck_test

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// The convolutions with an input stage (graph.FusePreActivation), plain
// and sliced, match the reference on every kernel that applies the stage
// and computes them, and on the default choice.
func TestPreStage(t *testing.T) {
	dev := gputest.Device(t)
	var cs []opcheck.Case
	for _, c := range append(opcheck.Awkward(), opcheck.Sliced()...) {
		if conv, ok := c.Op.(*graph.Conv2D); ok && conv.PreScale != nil {
			cs = append(cs, c)
		}
	}
	if len(cs) < 8 {
		t.Fatalf("%d cases with an input stage", len(cs))
	}
	kernels := map[string]int{}
	for _, name := range append([]string{""}, shaders.KernelNames()...) {
		k, _ := shaders.Kernel(name)
		if name != "" && !k.PreStage {
			continue
		}
		ex := gpuexec.New(dev, gpuexec.Options{Guard: guardOpt(), ConvKernel: func(shaders.ConvGeom) string { return name }})
		for _, c := range cs {
			if name != "" && !k.Computes(c.Op.(*graph.Conv2D).Geom(c.In)) {
				continue
			}
			kernels[name]++
			if r := opcheck.Run(c, ex, 1); !r.Pass() {
				t.Errorf("kernel %q: %v", name, r)
			}
		}
	}
	for _, name := range []string{"", "direct4", "grouped", "general"} {
		if kernels[name] == 0 {
			t.Errorf("no case ran on kernel %q", name)
		}
	}
	t.Logf("cases a kernel: %v", kernels)
}
