package graph_test

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// FusePreActivation merges a batch-norm (and its ReLU) into the
// convolution after it exactly where it may, and the merged graph gives
// the same results on the reference; the merged convolutions of a dense
// block read their input, a slice of the block's concatenation at batch
// 2, in place (Conv2D.StridedIn).
func TestFusePreActivation(t *testing.T) {
	all := func(*graph.Conv2D, graph.Shape) bool { return true }
	cases := []struct {
		name  string
		build func(b *builder, x *graph.Value)
		ok    func(*graph.Conv2D, graph.Shape) bool
		fused int // batch-norms merged
		// strided is the merged convolutions that read a slice of a
		// concatenation at a batch stride: the dense block's but the
		// first, whose input is the graph's
		strided int
	}{
		{"dense block", func(b *builder, x *graph.Value) {
			y, _ := b.dense(x, 3, 4)
			b.Output(y)
		}, all, 3, 2},
		{"without relu", func(b *builder, x *graph.Value) {
			b.Output(b.conv("conv", b.op("bn", &graph.BatchNorm{}, x), 5, 1))
		}, all, 1, 0},
		{"padded", func(b *builder, x *graph.Value) {
			h := b.Apply("relu", graph.ReLU{}, b.op("bn", &graph.BatchNorm{}, x))
			b.Output(b.conv("conv", h, 5, 3))
		}, all, 0, 0},
		{"two readers", func(b *builder, x *graph.Value) {
			h := b.Apply("relu", graph.ReLU{}, b.op("bn", &graph.BatchNorm{}, x))
			b.Output(b.Apply("add", graph.Add{}, b.conv("a", h, 6, 1), b.conv("b", h, 6, 1)))
		}, all, 0, 0},
		{"graph output", func(b *builder, x *graph.Value) {
			h := b.Apply("relu", graph.ReLU{}, b.op("bn", &graph.BatchNorm{}, x))
			b.Output(h)
			b.Output(b.conv("conv", h, 5, 1))
		}, all, 0, 0},
		{"refused", func(b *builder, x *graph.Value) {
			h := b.Apply("relu", graph.ReLU{}, b.op("bn", &graph.BatchNorm{}, x))
			b.Output(b.conv("conv", h, 5, 1))
		}, func(*graph.Conv2D, graph.Shape) bool { return false }, 0, 0},
		{"no predicate", func(b *builder, x *graph.Value) {
			h := b.Apply("relu", graph.ReLU{}, b.op("bn", &graph.BatchNorm{}, x))
			b.Output(b.conv("conv", h, 5, 1))
		}, nil, 1, 0},
	}
	in := weights.SyntheticInput(2, 6, 5, 5, 1)
	count := func(g *graph.Graph, kind string) int {
		k := 0
		for _, n := range g.Nodes {
			if n.Op.Kind() == kind {
				k++
			}
		}
		return k
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBuilder()
			c.build(b, b.Input("x", graph.Shape{2, 6, 5, 5}))
			g := b.graph(t)
			want := run(t, g, in)
			graph.Fuse(g)
			bns, convs := count(g, "batchnorm"), count(g, "conv2d")
			graph.FusePreActivation(g, c.ok)
			if got := bns - count(g, "batchnorm"); got != c.fused {
				t.Errorf("%d batch-norms merged, want %d", got, c.fused)
			}
			p := graph.NewPlan(g)
			staged, strided := 0, 0
			for _, n := range g.Nodes {
				if conv, ok := n.Op.(*graph.Conv2D); ok && conv.PreScale != nil {
					staged++
					if x := n.Inputs[0]; !graph.Plain(p.Layout[x.ID], x.Shape) {
						strided++
					}
					if n.Inputs[0].Producer != nil && n.Inputs[0].Producer.Op.Kind() == "batchnorm" {
						t.Errorf("%s still reads a batch-norm", n.Name)
					}
				}
			}
			if staged != c.fused || count(g, "conv2d") != convs {
				t.Errorf("%d of %d convolutions have an input stage, want %d of %d", staged, count(g, "conv2d"), c.fused, convs)
			}
			if strided != c.strided {
				t.Errorf("%d convolutions with an input stage read a slice, want %d", strided, c.strided)
			}
			if err := p.Verify(g); err != nil {
				t.Error(err)
			}
			got := run(t, g, in)
			for i := range want {
				if e := relErr(got[i], want[i]); e > 1e-5 {
					t.Errorf("output %d differs by %.2e", i, e)
				}
			}
		})
	}
}
