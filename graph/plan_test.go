package graph_test

import (
	"fmt"
	"maps"
	"slices"
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
// prefix of: all share one region, at the channel offsets of a DenseNet,
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
			if p.Layout[y.ID] != want || p.Buffer[y.ID] != p.Buffer[out.ID] || p.Region[y.ID] != p.Region[out.ID] {
				t.Errorf("batch %d: layer %d at %+v in buffer %d %+v, want %+v in buffer %d %+v", batch, i, p.Layout[y.ID], p.Buffer[y.ID], p.Region[y.ID], want, p.Buffer[out.ID], p.Region[out.ID])
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
	clone := func(good *graph.Plan) *graph.Plan {
		p := &graph.Plan{Buffer: maps.Clone(good.Buffer), Region: maps.Clone(good.Region), Layout: maps.Clone(good.Layout),
			Placed: maps.Clone(good.Placed), BufferElems: slices.Clone(good.BufferElems), Options: good.Options}
		return p
	}
	guarded, err := graph.NewPlanFor(g, graph.PlanOptions{Guard: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := guarded.Verify(g); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name   string
		good   *graph.Plan
		break_ func(p *graph.Plan)
		want   string
	}{
		{"a buffer too small", good, func(p *graph.Plan) {
			r := p.Region[c.ID]
			p.BufferElems[p.Buffer[c.ID]] = r.Off + r.Size - 1
		}, "spans past buffer"},
		{"a value without a buffer", good, func(p *graph.Plan) { delete(p.Buffer, u.ID) }, "no buffer"},
		{"a region too small", good, func(p *graph.Plan) {
			r := p.Region[u.ID]
			r.Elems--
			p.Region[u.ID] = r
		}, "spans [0, 100) of its region"},
		{"a misaligned region", good, func(p *graph.Plan) {
			r := p.Region[u.ID]
			r.Off += 4
			p.Region[u.ID] = r
			p.BufferElems[p.Buffer[u.ID]] += 4
		}, "not aligned to 256 bytes"},
		{"a region past the binding limit", good, func(p *graph.Plan) { p.Options.MaxBinding = 256 }, "bytes of a binding"},
		{"a buffer past the limit", good, func(p *graph.Plan) { p.Options.MaxBuffer = 256 }, "more than the largest"},
		{"a placed value elsewhere", good, func(p *graph.Plan) { p.Layout[z.ID] = graph.Layout{Off: 1, BStride: 150} }, "placed in"},
		{"a placed value in another region", good, func(p *graph.Plan) {
			r := p.Region[z.ID]
			r.Off += 64
			p.Region[z.ID] = r
			p.BufferElems[p.Buffer[z.ID]] += 64
		}, "placed in"},
		{"a non-join placement", good, func(p *graph.Plan) { p.Placed[y.ID] = graph.Part{Node: z.Producer.ID, Input: 0} }, "does not join"},
		{"a strided read by a convolution", good, func(p *graph.Plan) {
			p.Placed[y.ID] = graph.Part{Node: c.Producer.ID, Input: 0}
			p.Layout[y.ID] = graph.Layout{BStride: 150}
			p.Buffer[y.ID], p.Region[y.ID] = p.Buffer[c.ID], p.Region[c.ID]
		}, "reads y"},
		{"a read from the buffer written", good, func(p *graph.Plan) {
			p.Buffer[u.ID], p.Region[u.ID] = p.Buffer[r.ID], p.Region[r.ID]
		}, "which it writes"},
		{"values alive together overlapping", good, func(p *graph.Plan) {
			p.Buffer[w.ID], p.Region[w.ID] = p.Buffer[c.ID], p.Region[c.ID]
		}, "overlap"},
		{"an input sharing its buffer", good, func(p *graph.Plan) {
			p.Buffer[u.ID] = p.Buffer[x.ID]
			p.Region[u.ID] = graph.Region{Off: 256, Elems: 100, Size: 100}
			p.BufferElems[p.Buffer[x.ID]] = 1000
		}, "graph input or output"},
		{"no guard", guarded, func(p *graph.Plan) {
			r := p.Region[u.ID]
			r.Size = r.Elems
			p.Region[u.ID] = r
		}, "leaves no 8 guard elements"},
		{"a guard in another value's data", guarded, func(p *graph.Plan) {
			// u, written after the last read of c, at the start of c's
			// region: no overlap in time, but u's guard is c's data.
			p.Buffer[u.ID] = p.Buffer[c.ID]
			p.Region[u.ID] = graph.Region{Off: p.Region[c.ID].Off, Elems: 100, Size: 108}
		}, "guard of"},
	} {
		p := clone(f.good)
		f.break_(p)
		err := p.Verify(g)
		if err == nil || !strings.Contains(err.Error(), f.want) {
			t.Errorf("%s: Verify says %v, want %q", f.name, err, f.want)
		}
	}
}

// Values whose lifetimes do not overlap share an arena at offsets: two
// small values written after a large one died lie inside its memory, side
// by side, where whole buffers per value would need a third; a dispatch
// never writes the arena it reads. MaxBuffer splits an arena that would
// grow past it, and a value past MaxBinding or an alignment that is no
// power of two is an error.
func TestPlanArenas(t *testing.T) {
	b := newBuilder()
	x := b.Input("x", graph.Shape{1, 4, 8, 8})
	big := b.conv("big", x, 16, 1) // 1024 elements
	m := b.conv("m", big, 4, 1)    // 256
	p1 := b.conv("p", m, 4, 1)
	q := b.conv("q", m, 4, 3)
	b.Output(b.Apply("add", graph.Add{}, p1, q))
	g := b.graph(t)
	p := plan(t, g)
	if got, want := p.PeakBytes(), int64(4*(256+1024+256+256)); got != want {
		t.Errorf("peak %d bytes, want %d (buffers %v)", got, want, p.BufferElems)
	}
	for _, c := range []struct {
		v   *graph.Value
		off int
	}{{big, 0}, {p1, 0}, {q, 256}} {
		if p.Buffer[c.v.ID] != p.Buffer[big.ID] || p.Region[c.v.ID].Off != c.off {
			t.Errorf("%s in buffer %d at %+v, want buffer %d at %d", c.v.Name, p.Buffer[c.v.ID], p.Region[c.v.ID], p.Buffer[big.ID], c.off)
		}
	}
	if p.Buffer[m.ID] == p.Buffer[big.ID] {
		t.Errorf("m in the buffer its producer reads")
	}

	// Two values alive together that one buffer of 1500 elements cannot
	// hold: two arenas.
	b = newBuilder()
	x = b.Input("x", graph.Shape{1, 4, 8, 8})
	u, w := b.conv("u", x, 16, 1), b.conv("w", x, 16, 1)
	b.Output(b.Apply("add", graph.Add{}, b.conv("cu", u, 4, 1), b.conv("cw", w, 4, 1)))
	g = b.graph(t)
	p = plan(t, g)
	if p.Buffer[u.ID] != p.Buffer[w.ID] || p.Region[w.ID].Off != 1024 {
		t.Errorf("without limits, u in buffer %d %+v and w in %d %+v, want one buffer", p.Buffer[u.ID], p.Region[u.ID], p.Buffer[w.ID], p.Region[w.ID])
	}
	opt := graph.PlanOptions{MaxBuffer: 4 * 1500, MaxBinding: 4 * 1024}
	p, err := graph.NewPlanFor(g, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(g); err != nil {
		t.Fatal(err)
	}
	if p.Buffer[u.ID] == p.Buffer[w.ID] {
		t.Errorf("u and w in one buffer of %d elements", p.BufferElems[p.Buffer[u.ID]])
	}
	for _, c := range []struct {
		opt  graph.PlanOptions
		want string
	}{
		{graph.PlanOptions{MaxBinding: 4 * 1023}, "more than the 4092 bytes one binding may span"},
		{graph.PlanOptions{MaxBuffer: 4 * 1023}, "more than the largest buffer of 4092 bytes"},
		{graph.PlanOptions{Align: 48}, "alignment 48 bytes is not a power of two"},
		{graph.PlanOptions{Guard: -1}, "negative guard (-1 elements)"},
	} {
		if _, err := graph.NewPlanFor(g, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one saying %q", c.opt, err, c.want)
		}
	}
	// Guards: every region keeps its guard elements, which no other
	// value's data ever covers (Verify), at the device's alignment.
	for _, align := range []int{16, 256, 1024} {
		p, err := graph.NewPlanFor(g, graph.PlanOptions{Align: align, Guard: 16})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(g); err != nil {
			t.Errorf("align %d: %v", align, err)
		}
		for _, n := range g.Nodes {
			if r := p.Region[n.Out.ID]; (4*r.Off)%align != 0 || r.Size < r.Elems+16 {
				t.Errorf("align %d: %s at %+v", align, n.Name, r)
			}
		}
	}
}
