package graph

import "sort"

// Plan assigns every value of a graph to a buffer slot and a layout in
// it, so that activations whose lifetimes do not overlap share memory and
// the inputs of a concatenation are written straight into its output.
type Plan struct {
	// Slot maps a value ID to its slot.
	Slot map[int]int
	// SlotElems is each slot's size in float32 elements.
	SlotElems []int
	// Layout maps a value ID to where the value lies in its slot.
	Layout map[int]Layout
	// Placed maps the ID of each value that lies in a slice of a Join's
	// output (a Concat's) to that node and input: the value's producer
	// writes it there, and the node moves nothing for it.
	Placed map[int]Part
	// Input and output slots are never shared with another value.
}

// Part names input Input of node Node.
type Part struct{ Node, Input int }

// PeakBytes is the activation memory of the plan: the sum of its slots.
func (p *Plan) PeakBytes() int64 {
	var n int64
	for _, s := range p.SlotElems {
		n += int64(s)
	}
	return 4 * n
}

// InPlace reports whether input i of node n lies in n's output already
// (Placed).
func (p *Plan) InPlace(n *Node, i int) bool {
	pl, ok := p.Placed[n.Inputs[i].ID]
	return ok && pl == Part{n.ID, i}
}

// NewPlan plans g's memory in two steps.
//
// Placement: each input of a Join (Concat) is placed in the Join's output
// memory, at the layout Join.Part gives, when its producer is Strided for
// its output, it is no graph input or output, no view, and not already
// placed in another Join (nor an earlier input of the same one). A
// placement is then undone, one at a time, until every read is possible:
// every reader that is not Strided for it (views included) must see it
// Plain, no graph output may lie in another value's memory, and no node
// may read a value from the memory it writes (a buffer bound both for
// reading and for writing in one dispatch is invalid in WebGPU), where
// the written value's placement is undone first. An input left unplaced
// is copied by its Join.
//
// Slots: values that share memory (a view and its input, a placed value
// and its Join's output, transitively) form one tree, whose root's memory
// is allocated at the first node writing any of its values and freed
// after the last node reading any of them. Roots are placed in node
// order, each in the smallest free slot that holds it (else the largest
// free slot, grown, else a new slot). Graph inputs and outputs get slots
// of their own that are never reused, so outputs survive to the end and
// inputs can be written before a run.
func NewPlan(g *Graph) *Plan {
	p := &Plan{Slot: map[int]int{}, Layout: map[int]Layout{}, Placed: map[int]Part{}}
	p.place(g)
	for {
		p.layouts(g)
		v := p.violation(g)
		if v == nil {
			break
		}
		delete(p.Placed, v.ID)
	}
	p.slots(g)
	return p
}

// place makes the candidate placements (NewPlan).
func (p *Plan) place(g *Graph) {
	ends := map[*Value]bool{}
	for _, v := range g.Inputs {
		ends[v] = true
	}
	for _, v := range g.Outputs {
		ends[v] = true
	}
	for _, n := range g.Nodes {
		j, ok := n.Op.(Join)
		if !ok {
			continue
		}
		in := n.InShapes()
		for i, v := range n.Inputs {
			_, taken := p.Placed[v.ID]
			if taken || ends[v] || v.Producer == nil || isView(v.Producer.Op) || !stridedOut(v.Producer.Op) {
				continue
			}
			if _, ok := j.Part(in, i, Contiguous(n.Out.Shape)); ok {
				p.Placed[v.ID] = Part{n.ID, i}
			}
		}
	}
}

// layouts computes every value's layout from the placements: a Join's
// placed inputs from its output's (so in reverse node order), a view's
// from its input's.
func (p *Plan) layouts(g *Graph) {
	clear(p.Layout)
	for _, v := range g.Inputs {
		p.Layout[v.ID] = Contiguous(v.Shape)
	}
	for k := len(g.Nodes) - 1; k >= 0; k-- {
		n := g.Nodes[k]
		if isView(n.Op) {
			continue
		}
		if _, ok := p.Layout[n.Out.ID]; !ok {
			p.Layout[n.Out.ID] = Contiguous(n.Out.Shape)
		}
		for i, v := range n.Inputs {
			if p.InPlace(n, i) {
				p.Layout[v.ID], _ = n.Op.(Join).Part(n.InShapes(), i, p.Layout[n.Out.ID])
			}
		}
	}
	for _, n := range g.Nodes {
		if isView(n.Op) {
			l := Contiguous(n.Out.Shape)
			l.Off = p.Layout[n.Inputs[0].ID].Off
			p.Layout[n.Out.ID] = l
		}
	}
}

// base follows views to the value whose memory v is.
func base(v *Value) *Value {
	for v.Producer != nil && isView(v.Producer.Op) {
		v = v.Producer.Inputs[0]
	}
	return v
}

// root is the value at the top of v's tree: base, then the Join output
// each placed value lies in, repeatedly.
func (p *Plan) root(g *Graph, v *Value) *Value {
	for {
		v = base(v)
		pl, ok := p.Placed[v.ID]
		if !ok {
			return v
		}
		v = g.Nodes[pl.Node].Out
	}
}

// violation returns a placed value whose placement makes a read
// impossible (NewPlan), or nil.
func (p *Plan) violation(g *Graph) *Value {
	for _, v := range g.Outputs {
		if _, ok := p.Placed[base(v).ID]; ok {
			return base(v)
		}
	}
	for _, n := range g.Nodes {
		for i, v := range n.Inputs {
			if p.InPlace(n, i) {
				continue
			}
			if !stridedIn(n.Op, i) && !Plain(p.Layout[v.ID], v.Shape) {
				return base(v) // only a placed value is not plain
			}
			if !isView(n.Op) && p.root(g, v) == p.root(g, n.Out) {
				if _, ok := p.Placed[n.Out.ID]; ok {
					return n.Out
				}
				return base(v) // n.Out is the root, so v lies in it
			}
		}
	}
	return nil
}

// slots allocates the trees' memory (NewPlan).
func (p *Plan) slots(g *Graph) {
	root := map[int]*Value{} // value ID → root value
	for _, v := range g.Inputs {
		root[v.ID] = p.root(g, v)
	}
	for _, n := range g.Nodes {
		root[n.Out.ID] = p.root(g, n.Out)
	}
	last := map[int]int{} // root ID → last reading node
	for id, n := range g.LastUse() {
		r := root[id].ID
		last[r] = max(last[r], n)
	}
	pinned := map[int]bool{}
	for _, v := range g.Inputs {
		pinned[root[v.ID].ID] = true
	}
	for _, v := range g.Outputs {
		pinned[root[v.ID].ID] = true
	}
	newSlot := func(elems int) int {
		p.SlotElems = append(p.SlotElems, elems)
		return len(p.SlotElems) - 1
	}
	slot := map[int]int{} // root ID → slot
	for _, v := range g.Inputs {
		if r := root[v.ID]; r == v {
			slot[v.ID] = newSlot(v.Shape.Numel())
		}
	}
	var free []int         // slot indices
	live := map[int]bool{} // root IDs whose slot is in use
	for _, n := range g.Nodes {
		// Release trees whose last reader came before this node.
		var done []int
		for id := range live {
			if last[id] < n.ID {
				done = append(done, id)
			}
		}
		sort.Ints(done)
		for _, id := range done {
			free = append(free, slot[id])
			delete(live, id)
		}
		r := root[n.Out.ID]
		if _, ok := slot[r.ID]; ok {
			continue
		}
		need := r.Shape.Numel()
		if pinned[r.ID] {
			slot[r.ID] = newSlot(need)
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
		slot[r.ID] = best
		if _, used := last[r.ID]; used {
			live[r.ID] = true
		} else {
			free = append(free, best) // never read: free at once
		}
	}
	for id, r := range root {
		p.Slot[id] = slot[r.ID]
	}
}

// Roots maps each value ID to the value whose memory it is: itself, or
// for the output of a View op, its input's root. (The Plan also lets
// placed values share their Join's memory; Plan.Slot says where each
// value lies.)
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
