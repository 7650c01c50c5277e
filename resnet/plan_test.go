package resnet_test

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet"
)

// The planner shares activation buffers: the peak is far below the sum of
// all activations, no two values that are alive together share a slot
// (also by Plan.Verify), and the forward pass is one dispatch per fused
// layer; at batch 1 and 8.
func TestMemoryPlan(t *testing.T) {
	for _, batch := range []int{1, 8} {
		memoryPlan(t, batch)
	}
}

func memoryPlan(t *testing.T, batch int) {
	want := map[string]int{"resnet18": 24, "resnet34": 40, "resnet50": 57, "resnet101": 108, "resnet152": 159}
	for _, name := range []string{"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"} {
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
		for _, n := range g.Nodes {
			all += 4 * int64(n.Out.Shape.Numel())
		}
		// Liveness: a slot holds one value at a time, and a view (Flatten)
		// its input's, which lives as long as the view is read.
		root := graph.Roots(g)
		last := map[int]int{}
		for id, n := range g.LastUse() {
			last[id] = max(last[id], n)
			last[root[id]] = max(last[root[id]], n)
		}
		owner := map[int]*graph.Value{} // slot → value currently in it
		dispatches := 0
		for _, n := range g.Nodes {
			s := p.Slot[n.Out.ID]
			if v, ok := n.Op.(graph.View); ok && v.IsView() {
				if s != p.Slot[n.Inputs[0].ID] {
					t.Fatalf("%s: view %s not in its input's slot", name, n.Name)
				}
				continue
			}
			dispatches++
			if v := owner[s]; v != nil && last[v.ID] >= n.ID {
				t.Fatalf("%s: %s overwrites %s, still read by node %d", name, n.Name, v.Name, last[v.ID])
			}
			if p.SlotElems[s] < n.Out.Shape.Numel() {
				t.Fatalf("%s: slot %d too small for %s", name, s, n.Name)
			}
			owner[s] = n.Out
		}
		if dispatches != want[name] {
			t.Errorf("%s: %d dispatches per forward pass, want %d", name, dispatches, want[name])
		}
		// No plan can beat the largest set of values alive at one node; whole
		// buffers per slot (no offsets) reach 1.35–1.42× of it on these nets.
		var bound int64
		for _, n := range g.Nodes {
			var live int64
			for _, v := range append(append([]*graph.Value{}, g.Inputs...), values(g)...) {
				born := -1
				if v.Producer != nil {
					born = v.Producer.ID
				}
				end, read := last[v.ID]
				if isOutput(g, v) {
					end, read = len(g.Nodes), true
				}
				if born <= n.ID && (v == n.Out || read && end >= n.ID) {
					live += 4 * int64(v.Shape.Numel())
				}
			}
			bound = max(bound, live)
		}
		if float64(p.PeakBytes()) > 1.5*float64(bound) {
			t.Errorf("%s: peak %d bytes, more than 1.5× the %d bytes alive at the busiest node", name, p.PeakBytes(), bound)
		}
		if p.PeakBytes() >= all {
			t.Errorf("%s: peak %d bytes shares nothing (all activations %d bytes)", name, p.PeakBytes(), all)
		}
		t.Logf("%s batch %d: %d dispatches, peak activations %.1f MiB (%.3f× the lower bound %.1f, all activations %.1f MiB), weights %.1f MiB",
			name, batch, dispatches, float64(p.PeakBytes())/(1<<20), float64(p.PeakBytes())/float64(bound), float64(bound)/(1<<20), float64(all)/(1<<20), float64(g.WeightBytes())/(1<<20))
	}
}

func values(g *graph.Graph) []*graph.Value {
	var vs []*graph.Value
	for _, n := range g.Nodes {
		vs = append(vs, n.Out)
	}
	return vs
}

func isOutput(g *graph.Graph, v *graph.Value) bool {
	for _, o := range g.Outputs {
		if o == v {
			return true
		}
	}
	return false
}
