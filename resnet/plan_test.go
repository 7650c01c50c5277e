package resnet_test

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet"
)

// The planner shares activation memory: the plan verifies (Plan.Verify:
// no two values alive together overlap, no dispatch reads the buffer it
// writes, offsets aligned), its peak is far below the sum of all
// activations and close to the liveness bound, and the forward pass is
// one dispatch per fused layer; at batch 1 and 8.
//
// The ratios to the bound are what the arenas reach. No dispatch may read
// the buffer it writes, so the three values of a residual sum (the
// block's input, its last convolution's output and the sum) lie in three
// buffers: in resnet18/34 the stem's 64×112×112 output and two of
// 64×56×56, in the bottleneck nets two of 256×56×56 and the 512×28×28 of
// layer2's first sum. With graph inputs and outputs in buffers of their
// own, that is the whole of the gap.
// Whole buffers per value (the planner before arenas) reached 1.352× for
// resnet18/34, 1.418× for resnet50–152 and 1.133× for densenet121.
func TestMemoryPlan(t *testing.T) {
	for _, batch := range []int{1, 8} {
		memoryPlan(t, batch)
	}
}

func memoryPlan(t *testing.T, batch int) {
	want := map[string]int{"resnet18": 24, "resnet34": 40, "resnet50": 57, "resnet101": 108, "resnet152": 159, "densenet121": 189}
	most := map[string]float64{"resnet18": 1.36, "resnet34": 1.36, "resnet50": 1.2, "resnet101": 1.2, "resnet152": 1.2, "densenet121": 1.14}
	for _, name := range []string{"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "densenet121"} {
		a := resnet.Archs[name]
		g, err := resnet.Build(a, a.ShapeWeights(), resnet.BuildOptions{Batch: batch, Softmax: true})
		if err != nil {
			t.Fatal(err)
		}
		graph.Optimize(g)
		p := graph.NewPlan(g)
		if err := p.Verify(g); err != nil {
			t.Errorf("%s batch %d: %v", name, batch, err)
		}
		var all int64
		dispatches := 0
		for _, n := range g.Nodes {
			all += 4 * int64(n.Out.Shape.Numel())
			if v, ok := n.Op.(graph.View); !(ok && v.IsView()) && !movesNothing(p, n) {
				dispatches++
			}
		}
		if dispatches != want[name] {
			t.Errorf("%s: %d dispatches per forward pass, want %d", name, dispatches, want[name])
		}
		bound := liveBound(g, p)
		ratio := float64(p.PeakBytes()) / float64(bound)
		if ratio > most[name] {
			t.Errorf("%s batch %d: peak %d bytes, %.3f× the %d bytes alive at the busiest node, more than %.2f×", name, batch, p.PeakBytes(), ratio, bound, most[name])
		}
		if p.PeakBytes() >= all {
			t.Errorf("%s: peak %d bytes shares nothing (all activations %d bytes)", name, p.PeakBytes(), all)
		}
		t.Logf("%s batch %d: %d dispatches, peak activations %.1f MiB (%.3f× the lower bound %.1f, all activations %.1f MiB), weights %.1f MiB",
			name, batch, dispatches, float64(p.PeakBytes())/(1<<20), ratio, float64(bound)/(1<<20), float64(all)/(1<<20), float64(g.WeightBytes())/(1<<20))
	}
}

// liveBound is the most memory alive at any node, which no plan can
// beat: the values that share memory under p (a view and its input, the
// values placed in a concatenation and its output) count once, as the
// value at the top, alive from the first node writing any of them to the
// last reading any (graph outputs to the end).
func liveBound(g *graph.Graph, p *graph.Plan) int64 {
	views := graph.Roots(g)
	byID := map[int]*graph.Value{}
	for _, v := range append(append([]*graph.Value{}, g.Inputs...), values(g)...) {
		byID[v.ID] = v
	}
	top := func(v *graph.Value) *graph.Value {
		for {
			v = byID[views[v.ID]]
			pl, ok := p.Placed[v.ID]
			if !ok {
				return v
			}
			v = g.Nodes[pl.Node].Out
		}
	}
	born, end := map[*graph.Value]int{}, map[*graph.Value]int{}
	for _, v := range g.Inputs {
		born[top(v)], end[top(v)] = -1, -1
	}
	for _, n := range g.Nodes {
		r := top(n.Out)
		if b, ok := born[r]; !ok || n.ID < b {
			born[r] = n.ID
		}
		end[r] = max(end[r], n.ID)
	}
	for id, n := range g.LastUse() {
		r := top(byID[id])
		end[r] = max(end[r], n)
	}
	for _, v := range g.Outputs {
		end[top(v)] = len(g.Nodes)
	}
	var bound int64
	for k := -1; k < len(g.Nodes); k++ {
		var live int64
		for r, b := range born {
			if b <= k && k <= end[r] {
				live += 4 * int64(r.Shape.Numel())
			}
		}
		bound = max(bound, live)
	}
	return bound
}

// movesNothing reports whether every input of n lies in its output
// already (a concatenation written in place by its producers).
func movesNothing(p *graph.Plan, n *graph.Node) bool {
	for i := range n.Inputs {
		if !p.InPlace(n, i) {
			return false
		}
	}
	return len(n.Inputs) > 0
}

func values(g *graph.Graph) []*graph.Value {
	var vs []*graph.Value
	for _, n := range g.Nodes {
		vs = append(vs, n.Out)
	}
	return vs
}
