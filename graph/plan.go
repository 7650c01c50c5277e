package graph

import "sort"

// Plan assigns every value of a graph to a buffer slot so that activations
// whose lifetimes do not overlap share memory.
type Plan struct {
	// Slot maps a value ID to its slot.
	Slot map[int]int
	// SlotElems is each slot's size in float32 elements.
	SlotElems []int
	// Input and output slots are never shared with another value.
}

// PeakBytes is the activation memory of the plan: the sum of its slots.
func (p *Plan) PeakBytes() int64 {
	var n int64
	for _, s := range p.SlotElems {
		n += int64(s)
	}
	return 4 * n
}

// NewPlan runs the liveness-based planner: values are placed in node order,
// each in the smallest free slot that holds it (else the largest free slot,
// grown, else a new slot); a slot becomes free after the last node reading
// its value. Graph inputs and outputs get slots of their own that are never
// reused, so outputs survive to the end and inputs can be written before a
// run.
//
// The output of a View op (Flatten) shares its input's slot, whose value
// then lives until the view's last reader.
func NewPlan(g *Graph) *Plan {
	p := &Plan{Slot: map[int]int{}}
	root := Roots(g)
	last := map[int]int{}
	for id, n := range g.LastUse() {
		r := root[id]
		last[r] = max(last[r], n)
	}
	pinned := map[int]bool{}
	for _, v := range g.Inputs {
		pinned[v.ID] = true
	}
	for _, v := range g.Outputs {
		pinned[root[v.ID]] = true
	}
	newSlot := func(elems int) int {
		p.SlotElems = append(p.SlotElems, elems)
		return len(p.SlotElems) - 1
	}
	for _, v := range g.Inputs {
		p.Slot[v.ID] = newSlot(v.Shape.Numel())
	}
	var free []int         // slot indices
	live := map[int]bool{} // value IDs whose slot is in use
	for _, n := range g.Nodes {
		// Release values whose last reader came before this node.
		var done []int
		for id := range live {
			if last[id] < n.ID {
				done = append(done, id)
			}
		}
		sort.Ints(done)
		for _, id := range done {
			free = append(free, p.Slot[id])
			delete(live, id)
		}
		v := n.Out
		if _, ok := p.Slot[v.ID]; ok {
			continue
		}
		if isView(n.Op) {
			p.Slot[v.ID] = p.Slot[root[v.ID]]
			continue
		}
		need := v.Shape.Numel()
		if pinned[v.ID] {
			p.Slot[v.ID] = newSlot(need)
			continue
		}
		best, bestIdx := -1, -1
		for i, s := range free {
			size := p.SlotElems[s]
			if size >= need && (best < 0 || size < p.SlotElems[best]) {
				best, bestIdx = s, i
			}
		}
		if best < 0 {
			for i, s := range free {
				if best < 0 || p.SlotElems[s] > p.SlotElems[best] {
					best, bestIdx = s, i
				}
			}
			if best >= 0 {
				p.SlotElems[best] = need
			}
		}
		if best < 0 {
			best = newSlot(need)
		} else {
			free = append(free[:bestIdx], free[bestIdx+1:]...)
		}
		p.Slot[v.ID] = best
		if _, used := last[v.ID]; used {
			live[v.ID] = true
		} else {
			free = append(free, best) // never read: free at once
		}
	}
	return p
}

// Roots maps each value ID to the value whose memory it is: itself, or
// for the output of a View op, its input's root.
func Roots(g *Graph) map[int]int {
	root := map[int]int{}
	for _, v := range g.Inputs {
		root[v.ID] = v.ID
	}
	for _, n := range g.Nodes {
		root[n.Out.ID] = n.Out.ID
		if isView(n.Op) {
			root[n.Out.ID] = root[n.Inputs[0].ID]
		}
	}
	return root
}
