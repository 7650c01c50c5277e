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
	slicedIn := map[string]map[int]bool{} // kernel → batches of the cases reading a slice
	for _, name := range append([]string{""}, shaders.KernelNames()...) {
		k, _ := shaders.Kernel(name)
		if name != "" && !k.PreStage {
			continue
		}
		slicedIn[name] = map[int]bool{}
		ex := gpuexec.New(dev, gpuexec.Options{Guard: guardOpt(), ConvKernel: func(shaders.ConvGeom) string { return name }})
		for _, c := range cs {
			if name != "" && !k.Computes(c.Op.(*graph.Conv2D).Geom(c.In)) {
				continue
			}
			kernels[name]++
			if c.SlicedIn {
				slicedIn[name][c.In[0]] = true
			}
			if r := opcheck.Run(c, ex, 1); !r.Pass() {
				t.Errorf("kernel %q: %v", name, r)
			}
		}
	}
	for name, batches := range slicedIn {
		if kernels[name] == 0 || !batches[1] || !batches[2] {
			t.Errorf("kernel %q: %d cases, reading a slice at batch 1 %t and 2 %t", name, kernels[name], batches[1], batches[2])
		}
	}
	t.Logf("cases a kernel: %v", kernels)
}
