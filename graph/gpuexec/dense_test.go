package gpuexec_test

import (
	"fmt"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// denseNet builds a small DenseNet as torchvision's densenet121 is made,
// with seeded random parameters, on an n×3×h×w input: a stem (conv, bn,
// relu, max pool), two dense blocks of three layers (bn → relu → 1×1
// conv → bn → relu → 3×3 conv, growth 4, each reading the concatenation
// of the block's input and the layers before: a chain of two-input
// concatenations) with a transition between them (bn → relu → 1×1 conv →
// 2×2 average pool), and the head (bn → relu → global average pool →
// flatten → linear). With tap, the first layer of the second block is a
// graph output too, which its concatenation must then copy.
func denseNet(t *testing.T, n, h, w int, tap bool) *graph.Graph {
	r := graph.NewRand(11)
	var b graph.Builder
	op := func(name string, op graph.Op, in ...*graph.Value) *graph.Value {
		op, _ = op.Random(r, in[0].Shape)
		if c, ok := op.(*graph.Conv2D); ok {
			c.Scale, c.Bias = nil, nil // as torchvision's: batch-norm follows
		}
		return b.Apply(name, op, in...)
	}
	conv := func(name string, x *graph.Value, cout, k, stride int) *graph.Value {
		return op(name, graph.Conv(x.Shape[1], cout, k, stride, k/2), x)
	}
	bnReLU := func(name string, x *graph.Value) *graph.Value {
		return b.Apply(name+".relu", graph.ReLU{}, op(name+".norm", &graph.BatchNorm{Eps: 1e-5}, x))
	}
	x := b.Input("x", graph.Shape{n, 3, h, w})
	x = op("pool0", graph.MaxPool(3, 2, 1), bnReLU("stem", conv("conv0", x, 6, 3, 1)))
	for blk := range 2 {
		if blk > 0 {
			x = conv(fmt.Sprintf("transition%d.conv", blk), bnReLU(fmt.Sprintf("transition%d", blk), x), x.Shape[1]/2+1, 1, 1)
			x = op(fmt.Sprintf("transition%d.pool", blk), graph.Pool{KH: 2, KW: 2, Stride: [2]int{2, 2}}, x)
		}
		for l := range 3 {
			name := fmt.Sprintf("block%d.layer%d", blk+1, l+1)
			y := conv(name+".conv1", bnReLU(name+".1", x), 8, 1, 1)
			y = conv(name+".conv2", bnReLU(name+".2", y), 4, 3, 1)
			if tap && blk == 1 && l == 0 {
				b.Output(y)
			}
			x = b.Apply(name+".cat", graph.Concat{Axis: 1, N: 2}, x, y)
		}
	}
	x = b.Apply("flatten", graph.Flatten{Axis: 1}, op("avgpool", graph.GlobalAvgPool{}, bnReLU("norm5", x)))
	b.Output(op("classifier", &graph.Linear{In: x.Shape[1], Out: 10}, x))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	graph.Optimize(g)
	return g
}

// A DenseNet runs on the GPU as on the CPU reference, at batch 1 and 2 and
// odd sizes (slices not 256-byte aligned), with guarded buffers, under the
// default kernels and the GPU's: every layer and pool writes its slice of
// its block's last concatenation, and the concatenations copy nothing,
// except the one input that is also a graph output.
func TestDenseNet(t *testing.T) {
	dev := gputest.Device(t)
	gpuKernels := func(g shaders.ConvGeom) string {
		switch {
		case g.Is1x1():
			return "gemm1x1_small"
		case g.Plain() && g.KH == 3 && g.SH == 1:
			return "wino_small"
		}
		return "general"
	}
	for _, c := range []struct {
		n, h, w int
		tap     bool
		kernels func(shaders.ConvGeom) string
		copies  int
	}{
		{1, 13, 13, false, nil, 0},
		{2, 13, 13, false, nil, 0},
		{2, 9, 11, false, gpuKernels, 0},
		{1, 7, 7, false, gpuKernels, 0},
		{2, 13, 13, true, nil, 1},
	} {
		name := fmt.Sprintf("n=%d,%dx%d,tap=%t,gpu kernels=%t", c.n, c.h, c.w, c.tap, c.kernels != nil)
		g := denseNet(t, c.n, c.h, c.w, c.tap)
		in := graph.NewRand(5).Uniform(c.n*3*c.h*c.w, -1, 1)
		rp, err := ref.Executor{}.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		want, err := rp.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, guard := range []int{0, 64} {
			ex := gpuexec.New(dev, gpuexec.Options{Guard: guard, ConvKernel: c.kernels})
			p, err := ex.CompileGPU(g)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if err := p.Plan.Verify(p.Graph()); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			// The pre-activations fuse into the 1×1 convolutions (the
			// six layers' first and the transition's), whose kernels,
			// direct4 by default and gemm1x1_small, take them; only the
			// head's batch-norm, before a pool, is left. At batch 2 the
			// layers' convolutions read their input, a prefix of their
			// block's last concatenation, in place at its batch stride.
			staged, strided, bns := 0, 0, 0
			for _, n := range p.Graph().Nodes {
				if conv, ok := n.Op.(*graph.Conv2D); ok && conv.PreScale != nil {
					staged++
					if x := n.Inputs[0]; !graph.Plain(p.Plan.Layout[x.ID], x.Shape) {
						strided++
					}
				}
				if n.Op.Kind() == "batchnorm" {
					bns++
				}
			}
			if want := map[bool]int{false: 0, true: 6}[c.n > 1]; staged != 7 || strided != want || bns != 1 {
				t.Errorf("%s: %d convolutions with an input stage, %d reading a slice (want 7, %d), %d batch-norms left", name, staged, strided, want, bns)
			}
			copies, concats := 0, 0
			for _, s := range p.Steps {
				if s.Node.Op.Kind() == "concat" {
					copies++
				}
			}
			for _, n := range g.Nodes {
				if n.Op.Kind() == "concat" {
					concats++
				}
			}
			if copies != c.copies || concats != 6 {
				t.Errorf("%s: %d concatenations launch %d copies, want 6 and %d", name, concats, copies, c.copies)
			}
			got, err := p.Run(in)
			if err == nil {
				err = p.CheckGuards()
			}
			p.Close()
			if err != nil {
				t.Fatalf("%s, guard %d: %v", name, guard, err)
			}
			for i := range want {
				if e := resnet.RelErr(got[i], want[i]); e > 1e-5 {
					t.Errorf("%s, guard %d: output %d differs by %.2e", name, guard, i, e)
				}
			}
		}
	}
}

// On either kind of device, every pre-activation of DenseNet-121 (the 58
// dense layers' first batch-norm and the 3 transitions') fuses into its
// 1×1 convolution at batch 1 and 2, on the kernels the device runs 1×1
// convolutions on anyway (the GEMM ones on GPUs, direct4 on CPU
// adapters): only the head's batch-norm keeps a launch. No device: the
// launches as CompileGPU would record them (gpuexec.Launches).
func TestDenseNet121Fuses(t *testing.T) {
	gs, err := resnet.LayerGraphs([]string{"densenet121"}, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		n := g.Inputs[0].Shape[0]
		for _, c := range []struct {
			name    string
			caps    gpu.Caps
			kernels map[string]bool
		}{
			{"gpu", shaders.DiscreteGPU, map[string]bool{"gemm1x1_128": true, "gemm1x1_small": true}},
			{"cpu", shaders.CPUAdapter, map[string]bool{"direct4": true}},
		} {
			ls, err := gpuexec.Launches(g, c.caps, gpuexec.Options{})
			if err != nil {
				t.Fatalf("n=%d, %s: %v", n, c.name, err)
			}
			staged, bns := map[string]int{}, 0
			seen := map[*graph.Node]bool{}
			for _, l := range ls {
				if seen[l.Node] {
					continue // a convolution's packing or reduction launch
				}
				seen[l.Node] = true
				if l.Node.Op.Kind() == "batchnorm" {
					bns++
				}
				if conv, ok := l.Node.Op.(*graph.Conv2D); ok && conv.PreScale != nil {
					staged[l.Variant]++
					if !c.kernels[l.Variant] {
						t.Errorf("n=%d, %s: %s runs on %s", n, c.name, l.Node, l.Variant)
					}
				}
			}
			total := 0
			for _, k := range staged {
				total += k
			}
			if total != 61 || bns != 1 {
				t.Errorf("n=%d, %s: %d convolutions with an input stage (%v), %d batch-norm launches; want 61 and 1", n, c.name, total, staged, bns)
			}
		}
	}
}
