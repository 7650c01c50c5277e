package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
)

// builder builds test graphs with seeded random parameters.
type builder struct {
	graph.Builder
	r *graph.Rand
}

func newBuilder() *builder { return &builder{r: graph.NewRand(3)} }

// op applies op, its parameters drawn for x's shape.
func (b *builder) op(name string, op graph.Op, in ...*graph.Value) *graph.Value {
	op, _ = op.Random(b.r, in[0].Shape)
	return b.Apply(name, op, in...)
}

// conv is a k×k convolution to cout channels, stride 1, same size.
func (b *builder) conv(name string, x *graph.Value, cout, k int) *graph.Value {
	return b.op(name, graph.Conv(x.Shape[1], cout, k, 1, k/2), x)
}

// dense builds a dense block on x: layers of bn → relu → conv 1×1 →
// conv 3×3 (growth channels), each reading the concatenation of x and
// the layers before, built as a chain of two-input concatenations; it
// returns the block's output and the layers' outputs.
func (b *builder) dense(x *graph.Value, layers, growth int) (*graph.Value, []*graph.Value) {
	cat := x
	var ys []*graph.Value
	for i := range layers {
		h := b.op(fmt.Sprint("bn", i), &graph.BatchNorm{}, cat)
		h = b.Apply(fmt.Sprint("relu", i), graph.ReLU{}, h)
		h = b.conv(fmt.Sprint("conv1.", i), h, 2*growth, 1)
		y := b.conv(fmt.Sprint("conv2.", i), h, growth, 3)
		ys = append(ys, y)
		cat = b.Apply(fmt.Sprint("cat", i), graph.Concat{Axis: 1, N: 2}, cat, y)
	}
	return cat, ys
}

func (b *builder) graph(t *testing.T) *graph.Graph {
	t.Helper()
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// plan plans g and verifies the plan.
func plan(t *testing.T, g *graph.Graph) *graph.Plan {
	t.Helper()
	p := graph.NewPlan(g)
	if err := p.Verify(g); err != nil {
		t.Fatal(err)
	}
	return p
}

// placed lists the names of the values placed in a concatenation.
func placed(g *graph.Graph, p *graph.Plan) string {
	var names []string
	for _, n := range g.Nodes {
		if _, ok := p.Placed[n.Out.ID]; ok {
			names = append(names, n.Out.Name)
		}
	}
	return strings.Join(names, " ")
}

// A dense block's layers and its first part (a pool) are written into the
// block's last concatenation, which every concatenation of the chain is a
// prefix of: all share one slot, at the channel offsets of a DenseNet,
// and the concatenations copy nothing.
func TestPlanDenseBlock(t *testing.T) {
	for _, batch := range []int{1, 2} {
		b := newBuilder()
		x := b.Input("x", graph.Shape{batch, 5, 15, 15})
		x0 := b.op("pool", graph.MaxPool(3, 2, 1), x)
		out, ys := b.dense(x0, 4, 3)
		b.Output(b.op("head", graph.GlobalAvgPool{}, b.op("norm", &graph.BatchNorm{}, out)))
		g := b.graph(t)
		p := plan(t, g)
		if got, want := placed(g, p), "pool conv2.0 cat0 conv2.1 cat1 conv2.2 cat2 conv2.3"; got != want {
			t.Errorf("batch %d: placed %q, want %q", batch, got, want)
		}
		hw := 8 * 8
		for i, y := range ys {
			want := graph.Layout{Off: (5 + 3*i) * hw, BStride: 17 * hw}
			if p.Layout[y.ID] != want || p.Slot[y.ID] != p.Slot[out.ID] {
				t.Errorf("batch %d: layer %d at %+v in slot %d, want %+v in slot %d", batch, i, p.Layout[y.ID], p.Slot[y.ID], want, p.Slot[out.ID])
			}
		}
		if l := p.Layout[x0.ID]; l != (graph.Layout{BStride: 17 * hw}) {
			t.Errorf("batch %d: the pool writes at %+v", batch, l)
		}
		for _, n := range g.Nodes {
			if n.Op.Kind() == "concat" && (!p.InPlace(n, 0) || !p.InPlace(n, 1)) {
				t.Errorf("batch %d: %s copies an input", batch, n.Name)
			}
		}
	}
}

// Where a producer or a reader cannot use a slice of a concatenation, its
// input is copied instead, and the plan stays valid.
func TestPlanFallbacks(t *testing.T) {
	img := graph.Shape{2, 4, 5, 5}
	one := graph.Shape{1, 4, 5, 5}
	cat := graph.Concat{Axis: 1, N: 2}
	for _, c := range []struct {
		name   string
		build  func(b *builder, x *graph.Value)
		in     graph.Shape
		placed string
	}{
		{"graph input", func(b *builder, x *graph.Value) {
			b.Output(b.Apply("cat", cat, x, b.conv("y", x, 3, 3)))
		}, img, "y"},
		{"view", func(b *builder, x *graph.Value) {
			v := b.Apply("v", graph.Reshape{To: graph.Shape{2, 4, 5, 5}}, b.conv("y", x, 4, 1))
			b.Output(b.Apply("cat", cat, v, b.conv("z", x, 3, 1)))
		}, img, "z"},
		{"in another concatenation", func(b *builder, x *graph.Value) {
			y, z, w := b.conv("y", x, 3, 1), b.conv("z", x, 2, 1), b.conv("w", x, 1, 1)
			b.Output(b.Apply("a", cat, y, z))
			b.Output(b.Apply("b", cat, y, w))
		}, img, "y z w"},
		{"producer not strided", func(b *builder, x *graph.Value) {
			f := b.Apply("f", graph.Flatten{Axis: 1}, x)
			b.Output(b.Apply("cat", cat, b.op("fc", &graph.Linear{In: 100, Out: 7}, f), b.op("sm", graph.Softmax{}, f)))
		}, img, ""},
		{"graph output", func(b *builder, x *graph.Value) {
			y := b.conv("y", x, 3, 1)
			b.Output(y)
			b.Output(b.Apply("cat", cat, y, b.conv("z", x, 3, 1)))
		}, img, "z"},
		{"read by a convolution, batch 2", func(b *builder, x *graph.Value) {
			y := b.conv("y", x, 3, 1)
			b.Output(b.Apply("cat", cat, y, b.conv("z", y, 3, 1)))
		}, img, "z"},
		{"read by a convolution from the memory it writes, batch 1", func(b *builder, x *graph.Value) {
			y := b.conv("y", x, 3, 1)
			b.Output(b.Apply("cat", cat, y, b.conv("z", y, 3, 1)))
		}, one, "y"},
		{"read by a convolution elsewhere, batch 1", func(b *builder, x *graph.Value) {
			y := b.conv("y", x, 3, 1)
			b.Output(b.Apply("cat", cat, y, b.conv("z", x, 3, 1)))
			b.Output(b.conv("u", y, 2, 1))
		}, one, "y z"},
		{"read by an element-wise op, batch 2", func(b *builder, x *graph.Value) {
			y, z := b.conv("y", x, 3, 1), b.conv("z", x, 3, 1)
			b.Output(b.Apply("cat", cat, y, z))
			b.Output(b.Apply("relu", graph.ReLU{}, z))
		}, img, "y z"},
		{"read by a view, batch 2", func(b *builder, x *graph.Value) {
			y, z := b.conv("y", x, 3, 1), b.conv("z", x, 3, 1)
			b.Output(b.Apply("cat", cat, y, z))
			b.Output(b.op("fc", &graph.Linear{In: 75, Out: 2}, b.Apply("f", graph.Flatten{Axis: 1}, z)))
		}, img, "y"},
		{"viewed as a graph output", func(b *builder, x *graph.Value) {
			y := b.conv("y", x, 3, 1)
			b.Output(b.Apply("f", graph.Flatten{Axis: 1}, y))
			b.Output(b.Apply("cat", cat, y, b.conv("z", x, 3, 1)))
		}, one, "z"},
		{"twice in one concatenation", func(b *builder, x *graph.Value) {
			y := b.conv("y", x, 3, 1)
			b.Output(b.Apply("cat", cat, y, y))
		}, img, ""},
		{"along the height", func(b *builder, x *graph.Value) {
			b.Output(b.Apply("cat", graph.Concat{Axis: 2, N: 2}, b.conv("y", x, 3, 1), b.conv("z", x, 3, 1)))
		}, img, ""},
		{"along the batch, into a channel slice", func(b *builder, x *graph.Value) {
			y, z := b.conv("y", x, 3, 1), b.conv("z", x, 3, 1)
			both := b.Apply("both", graph.Concat{Axis: 0, N: 2}, y, z)
			b.Output(b.Apply("cat", cat, both, b.conv("w", b.Apply("x2", graph.Concat{Axis: 0, N: 2}, x, x), 2, 1)))
		}, img, "y z both w"},
		{"a residual in the memory written", func(b *builder, x *graph.Value) {
			y := b.conv("y", x, 3, 1)
			r := graph.Conv(4, 3, 1, 1, 0)
			r.Residual = true
			b.Output(b.Apply("cat", cat, y, b.op("z", r, x, y)))
		}, one, "y"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBuilder()
			c.build(b, b.Input("x", c.in))
			g := b.graph(t)
			p := plan(t, g)
			if got := placed(g, p); got != c.placed {
				t.Errorf("placed %q, want %q", got, c.placed)
			}
		})
	}
}

// Verify catches each kind of fault in a plan.
func TestVerifyFaults(t *testing.T) {
	b := newBuilder()
	x := b.Input("x", graph.Shape{2, 4, 5, 5})
	w := b.conv("w", x, 2, 1) // alive to the end
	y := b.conv("y", x, 3, 1)
	z := b.conv("z", y, 3, 1)
	c := b.Apply("cat", graph.Concat{Axis: 1, N: 2}, y, z)
	r := b.Apply("relu", graph.ReLU{}, c)
	u := b.conv("u", r, 2, 1)
	b.Output(b.Apply("add", graph.Add{}, u, w))
	g := b.graph(t)
	good := plan(t, g)
	if placed(g, good) != "z" {
		t.Fatalf("placed %q", placed(g, good))
	}
	clone := func() *graph.Plan {
		p := &graph.Plan{Slot: map[int]int{}, Layout: map[int]graph.Layout{}, Placed: map[int]graph.Part{},
			SlotElems: append([]int{}, good.SlotElems...)}
		for k, v := range good.Slot {
			p.Slot[k] = v
		}
		for k, v := range good.Layout {
			p.Layout[k] = v
		}
		for k, v := range good.Placed {
			p.Placed[k] = v
		}
		return p
	}
	for _, f := range []struct {
		name   string
		break_ func(p *graph.Plan)
		want   string
	}{
		{"a slot too small", func(p *graph.Plan) { p.SlotElems[p.Slot[c.ID]] = c.Shape.Numel() - 1 }, "spans"},
		{"a value without a slot", func(p *graph.Plan) { delete(p.Slot, u.ID) }, "no slot"},
		{"a placed value elsewhere", func(p *graph.Plan) { p.Layout[z.ID] = graph.Layout{Off: 1, BStride: 150} }, "placed in"},
		{"a non-join placement", func(p *graph.Plan) { p.Placed[y.ID] = graph.Part{Node: z.Producer.ID, Input: 0} }, "does not join"},
		{"a strided read by a convolution", func(p *graph.Plan) {
			p.Placed[y.ID] = graph.Part{Node: c.Producer.ID, Input: 0}
			p.Layout[y.ID] = graph.Layout{BStride: 150}
			p.Slot[y.ID] = p.Slot[c.ID]
		}, "reads y"},
		{"a read from the slot written", func(p *graph.Plan) { p.Slot[u.ID] = p.Slot[r.ID] }, "which it writes"},
		{"values alive together overlapping", func(p *graph.Plan) {
			p.Slot[w.ID] = p.Slot[c.ID]
			p.Layout[w.ID] = graph.Layout{Off: 100, BStride: 50}
		}, "overlap"},
		{"an input sharing its slot", func(p *graph.Plan) {
			p.Slot[u.ID] = p.Slot[x.ID]
			p.SlotElems[p.Slot[x.ID]] = 1000
		}, "graph input or output"},
	} {
		p := clone()
		f.break_(p)
		err := p.Verify(g)
		if err == nil || !strings.Contains(err.Error(), f.want) {
			t.Errorf("%s: Verify says %v, want %q", f.name, err, f.want)
		}
	}
}
