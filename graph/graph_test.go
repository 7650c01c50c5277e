package graph_test

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// net is conv → batch-norm → relu → pool → flatten → linear → softmax on
// an N×3×8×8 input, with seeded parameters.
func net(t *testing.T, n int) *graph.Graph {
	r := graph.NewRand(7)
	conv, _ := graph.Conv(3, 4, 3, 1, 1).Random(r, graph.Shape{n, 3, 8, 8})
	c := conv.(*graph.Conv2D)
	c.Scale, c.Bias = nil, nil
	bn, _ := (&graph.BatchNorm{Eps: 1e-5}).Random(r, graph.Shape{n, 4, 8, 8})
	lin, _ := (&graph.Linear{In: 4 * 4 * 4, Out: 5}).Random(r, graph.Shape{n, 64})
	var b graph.Builder
	x := b.Input("x", graph.Shape{n, 3, 8, 8})
	x = b.Apply("conv", c, x)
	x = b.Apply("bn", bn, x)
	x = b.Apply("relu", graph.ReLU{}, x)
	x = b.Apply("pool", graph.MaxPool(2, 2, 0), x)
	x = b.Apply("flatten", graph.Flatten{Axis: 1}, x)
	x = b.Apply("fc", lin, x)
	b.Output(x)
	b.Output(b.Apply("softmax", graph.Softmax{}, x))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func run(t *testing.T, g *graph.Graph, in []float32) [][]float32 {
	p, err := ref.Executor{}.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num = max(num, d, -d)
		den = max(den, float64(b[i]), -float64(b[i]))
	}
	return num / den
}

// The passes keep the graph's results: folding batch-norm into the
// convolution and fusing the ReLU remove two nodes, and the linear layer
// as a 1×1 convolution between views gives the same logits.
func TestPasses(t *testing.T) {
	g := net(t, 2)
	in := weights.SyntheticInput(2, 3, 8, 8, 1)
	want := run(t, g, in)
	opt := net(t, 2)
	graph.Optimize(opt)
	if len(opt.Nodes) != len(g.Nodes)-2 {
		t.Errorf("optimised graph has %d nodes, want %d", len(opt.Nodes), len(g.Nodes)-2)
	}
	if c, ok := opt.Nodes[0].Op.(*graph.Conv2D); !ok || !c.ReLU || c.Bias == nil {
		t.Errorf("first node %v, want a conv with the batch-norm folded and the ReLU fused", opt.Nodes[0])
	}
	got := run(t, opt, in)
	if e := relErr(got[0], want[0]); e > 1e-6 {
		t.Errorf("optimised logits differ by %.2e", e)
	}
	lc := opt.Clone()
	graph.LinearAsConv(lc)
	kinds := ""
	for _, n := range lc.Nodes {
		kinds += n.Op.Kind() + " "
	}
	if kinds != "conv2d maxpool flatten reshape conv2d flatten softmax " {
		t.Errorf("after LinearAsConv: %s", kinds)
	}
	if e := relErr(run(t, lc, in)[0], want[0]); e > 1e-6 {
		t.Errorf("linear as convolution differs by %.2e", e)
	}
	if len(opt.Nodes) != len(g.Nodes)-2 || opt.Nodes[len(opt.Nodes)-2].Op.Kind() != "linear" {
		t.Error("LinearAsConv changed the graph it was cloned from")
	}
}

// Reshape gives the same graph for another batch size: its ops (and their
// parameters) are shared, its shapes recomputed, and each item's result is
// what the batch-1 graph gives for it.
func TestReshape(t *testing.T) {
	g := net(t, 1)
	g3, err := g.Reshape(graph.Shape{3, 3, 8, 8})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range g3.Nodes {
		if n.Op != g.Nodes[i].Op {
			t.Errorf("%s: op not shared", n.Name)
		}
	}
	if s := g3.Outputs[0].Shape; !s.Equal(graph.Shape{3, 5}) {
		t.Errorf("logits shape %v, want 3x5", s)
	}
	if s := g.Outputs[0].Shape; !s.Equal(graph.Shape{1, 5}) {
		t.Errorf("the original's logits became %v", s)
	}
	in := weights.SyntheticInput(3, 3, 8, 8, 2)
	all := run(t, g3, in)[0]
	for i := range 3 {
		one := run(t, g, in[i*192:(i+1)*192])[0]
		if e := relErr(all[i*5:(i+1)*5], one); e != 0 {
			t.Errorf("item %d differs from its batch-1 run by %.2e", i, e)
		}
	}
	if _, err := g.Reshape(graph.Shape{1, 4, 8, 8}); err == nil {
		t.Error("a 4-channel input was accepted")
	}
}

// Views share their input's memory: the planner gives the flatten's output
// the pool's buffer and region, and the linear layer writes another buffer.
func TestPlanViews(t *testing.T) {
	g := net(t, 1)
	graph.Optimize(g)
	p := graph.NewPlan(g)
	var pool, flat, fc *graph.Node
	for _, n := range g.Nodes {
		switch n.Op.Kind() {
		case "maxpool":
			pool = n
		case "flatten":
			flat = n
		case "linear":
			fc = n
		}
	}
	if p.Buffer[flat.Out.ID] != p.Buffer[pool.Out.ID] || p.Region[flat.Out.ID] != p.Region[pool.Out.ID] {
		t.Errorf("flatten output in buffer %d %+v, its input in %d %+v", p.Buffer[flat.Out.ID], p.Region[flat.Out.ID], p.Buffer[pool.Out.ID], p.Region[pool.Out.ID])
	}
	if p.Buffer[fc.Out.ID] == p.Buffer[pool.Out.ID] {
		t.Error("the linear layer writes to the buffer it reads")
	}
}

// Shapes of the shape ops, and their errors.
func TestShapeOps(t *testing.T) {
	for _, c := range []struct {
		op   graph.Op
		in   []graph.Shape
		want graph.Shape
	}{
		{graph.Flatten{Axis: 1}, []graph.Shape{{2, 3, 4, 5}}, graph.Shape{2, 60}},
		{graph.Flatten{Axis: 2}, []graph.Shape{{2, 3, 4, 5}}, graph.Shape{2, 3, 20}},
		{graph.Reshape{To: graph.Shape{-1, 6, 1, 1}}, []graph.Shape{{4, 6}}, graph.Shape{4, 6, 1, 1}},
		{graph.Concat{Axis: 1, N: 2}, []graph.Shape{{2, 3, 4, 4}, {2, 5, 4, 4}}, graph.Shape{2, 8, 4, 4}},
		{graph.Flatten{Axis: 4}, []graph.Shape{{2, 3, 4, 5}}, nil},
		{graph.Reshape{To: graph.Shape{-1, 7}}, []graph.Shape{{4, 6}}, nil},
		{graph.Concat{Axis: 1, N: 2}, []graph.Shape{{2, 3, 4, 4}, {2, 5, 4, 3}}, nil},
		{&graph.Linear{In: 6, Out: 2, Weight: make([]float32, 12)}, []graph.Shape{{4, 6, 1, 1}}, nil},
	} {
		got, err := c.op.OutShape(c.in)
		if c.want == nil {
			if err == nil {
				t.Errorf("%s on %v: shape %v, want an error", c.op.Kind(), c.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%s on %v: %v, %v; want %v", c.op.Kind(), c.in, got, err, c.want)
		}
	}
}

// A residual convolution asked for its shape without the residual input
// says so (it indexed the missing input).
func TestResidualWithoutInput(t *testing.T) {
	c := graph.Conv(2, 2, 1, 1, 0)
	c.Residual, c.Weight = true, make([]float32, 4)
	if _, err := c.OutShape([]graph.Shape{{1, 2, 3, 3}}); err == nil {
		t.Error("no error for a missing residual input")
	}
}
