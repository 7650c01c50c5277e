package gpuexec

import (
	"slices"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Launches lowers without a device as CompileGPU does: the convolution
// kernels the chooser picks (or Options.ConvKernel), and on CPU adapters
// the linear layer as a 1×1 convolution, leaving the graph as it was.
func TestLaunches(t *testing.T) {
	r := graph.NewRand(1)
	conv := graph.Conv(16, 32, 3, 1, 1)
	conv.ReLU = true
	convOp, _ := conv.Random(r, graph.Shape{1, 16, 8, 8})
	linOp, _ := (&graph.Linear{In: 32, Out: 10}).Random(r, graph.Shape{1, 32})
	var b graph.Builder
	x := b.Input("x", graph.Shape{1, 16, 8, 8})
	x = b.Apply("conv", convOp, x)
	x = b.Apply("pool", graph.GlobalAvgPool{}, x)
	x = b.Apply("flatten", graph.Flatten{Axis: 1}, x)
	b.Output(b.Apply("fc", linOp, x))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	geom := convOp.(*graph.Conv2D).Geom(graph.Shape{1, 16, 8, 8})
	for _, c := range []struct {
		name  string
		opt   Options
		cpu   bool
		conv  string   // the first convolution's kernel
		kinds []string // the launches' kernels; nil: any ending in linear
	}{
		{"gpu", Options{}, false, shaders.Defaults(geom, shaders.DiscreteGPU)[0], nil},
		{"cpu", Options{}, true, "direct4", []string{"conv2d_pack", "conv2d", "pool", "conv2d_pack", "conv2d"}},
		{"chosen", Options{ConvKernel: func(shaders.ConvGeom) string { return "general" }}, false, "general", []string{"conv2d", "pool", "linear"}},
	} {
		caps := shaders.DiscreteGPU
		if c.cpu {
			caps = shaders.CPUAdapter
		}
		ls, err := Launches(g, caps, c.opt)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var kinds []string
		for _, l := range ls {
			kinds = append(kinds, l.Key.Kernel)
		}
		if ls[0].Node.Name != "conv" || ls[0].Variant != c.conv {
			t.Errorf("%s: first launch %s of %s, want the conv node on %s", c.name, ls[0].Variant, ls[0].Node.Name, c.conv)
		}
		if c.kinds != nil && !slices.Equal(kinds, c.kinds) || c.kinds == nil && kinds[len(kinds)-1] != "linear" {
			t.Errorf("%s: launches %q, want %q", c.name, kinds, c.kinds)
		}
	}
	if _, ok := g.Nodes[len(g.Nodes)-1].Op.(*graph.Linear); !ok {
		t.Errorf("Launches rewrote the graph it was given: last op %s", g.Nodes[len(g.Nodes)-1].Op.Kind())
	}
}
