package opcheck_test

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// The convolutions with an input stage (graph.FusePreActivation), plain,
// sliced and reading a slice of a concatenation (at batch 1 and 2),
// match the reference on every kernel that applies the stage and
// computes them, and on the default choice.
func TestPreStage(t *testing.T) {
	dev := gputest.Device(t)
	var cs []opcheck.Case
	for _, c := range append(append(opcheck.Awkward(), opcheck.Sliced()...), opcheck.SlicedIn()...) {
		if conv, ok := c.Op.(*graph.Conv2D); ok && conv.PreScale != nil {
			cs = append(cs, c)
		}
	}
	if len(cs) < 14 {
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
	for _, k := range append(shaders.ConvKernels, shaders.ConvKernel{}) {
		if (k.Name == "" || k.PreStage) && kernels[k.Name] == 0 {
			t.Errorf("no case ran on kernel %q", k.Name)
		}
	}
	t.Logf("cases a kernel: %v", kernels)
}
