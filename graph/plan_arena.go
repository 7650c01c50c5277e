package graph

import (
	"fmt"
	"slices"
)

// tree is a set of values that share memory (Plan), as the buffer
// planner sees it.
type tree struct {
	root        *Value
	elems, size int // data and region (with guard, whole quadruples), in elements
	first, last int // the nodes writing its first value and reading its last
	own         bool
	apart       []*tree // trees it must not share an arena with
	buf, off    int
}

// buffers gives every tree its buffer and region (NewPlanFor).
func (p *Plan) buffers(g *Graph) error {
	trees, order := p.trees(g)
	align := max(p.Options.Align/4, 4) // elements
	maxBuf := 1 << 62                  // elements
	if p.Options.MaxBuffer > 0 {
		maxBuf = int(min(p.Options.MaxBuffer/4, 1<<62))
	}
	for _, t := range order {
		if p.Options.MaxBinding > 0 && 4*int64(t.size) > p.Options.MaxBinding {
			return fmt.Errorf("plan: %s needs %d bytes, more than the %d bytes one binding may span", t.root.Name, 4*t.size, p.Options.MaxBinding)
		}
		if t.size > maxBuf {
			return fmt.Errorf("plan: %s needs %d bytes, more than the largest buffer of %d bytes", t.root.Name, 4*t.size, p.Options.MaxBuffer)
		}
	}
	// Own buffers first, in node order (graph inputs first).
	var packed []*tree
	for _, t := range order {
		if t.own {
			t.buf = len(p.BufferElems)
			p.BufferElems = append(p.BufferElems, t.size)
		} else {
			packed = append(packed, t)
		}
	}
	slices.SortStableFunc(packed, func(a, b *tree) int { return b.size - a.size })
	first := len(p.BufferElems)
	var arenas [][]*tree
	for _, t := range packed {
		best, bestOff, bestGrow := -1, 0, 0
		for a, in := range arenas {
			if slices.ContainsFunc(in, func(u *tree) bool { return slices.Contains(t.apart, u) }) {
				continue
			}
			off := p.lowest(t, in, align)
			if off+t.size > maxBuf {
				continue
			}
			grow := max(0, off+t.size-p.BufferElems[first+a])
			if best < 0 || grow < bestGrow {
				best, bestOff, bestGrow = a, off, grow
			}
		}
		if best < 0 || bestGrow > t.size {
			best, bestOff = len(arenas), 0
			arenas = append(arenas, nil)
			p.BufferElems = append(p.BufferElems, 0)
		}
		t.buf, t.off = first+best, bestOff
		arenas[best] = append(arenas[best], t)
		p.BufferElems[t.buf] = max(p.BufferElems[t.buf], t.off+t.size)
	}
	for id, t := range trees {
		p.Buffer[id] = t.buf
		p.Region[id] = Region{Off: t.off, Elems: t.elems, Size: t.size}
	}
	return nil
}

// trees groups g's values by the tree they lie in, with the trees'
// lifetimes and the trees they must not share an arena with; it returns
// each value's tree and the trees in order of their first node.
func (p *Plan) trees(g *Graph) (map[int]*tree, []*tree) {
	byRoot := map[*Value]*tree{}
	of := map[int]*tree{}
	var order []*tree
	add := func(v *Value, at int) {
		r := p.root(g, v)
		t := byRoot[r]
		if t == nil {
			elems := r.Shape.Numel()
			t = &tree{root: r, elems: elems, size: (elems + p.Options.Guard + 3) &^ 3, first: at, last: at}
			byRoot[r] = t
			order = append(order, t)
		}
		t.last = max(t.last, at)
		of[v.ID] = t
	}
	for _, v := range g.Inputs {
		add(v, -1)
	}
	for _, n := range g.Nodes {
		add(n.Out, n.ID)
	}
	for id, n := range g.LastUse() {
		of[id].last = max(of[id].last, n)
	}
	for _, vs := range [][]*Value{g.Inputs, g.Outputs} {
		for _, v := range vs {
			of[v.ID].own = true
		}
	}
	for _, n := range g.Nodes {
		if isView(n.Op) {
			continue
		}
		w := of[n.Out.ID]
		for i, v := range n.Inputs {
			if r := of[v.ID]; r != w && !p.InPlace(n, i) && !slices.Contains(w.apart, r) {
				w.apart = append(w.apart, r)
				r.apart = append(r.apart, w)
			}
		}
	}
	return of, order
}

// lowest is the lowest offset, a multiple of align, at which t's region
// overlaps no region in the same arena that is alive at the same time
// and, with guards, neither t's guard another tree's data nor t's data
// another's guard.
func (p *Plan) lowest(t *tree, in []*tree, align int) int {
	type span struct{ lo, hi int } // offsets that conflict: lo < off < hi
	var bad []span
	// t at off spans [off+a, off+b); u's [c, d) meets it for c-b < off < d-a.
	meet := func(a, b, c, d int) { bad = append(bad, span{c - b, d - a}) }
	for _, u := range in {
		switch {
		case u.first <= t.last && t.first <= u.last:
			meet(0, t.size, u.off, u.off+u.size)
		case p.Options.Guard > 0:
			meet(0, t.elems, u.off+u.elems, u.off+u.size)
			meet(t.elems, t.size, u.off, u.off+u.elems)
		}
	}
	slices.SortFunc(bad, func(x, y span) int { return x.lo - y.lo })
	off := 0
	for _, s := range bad {
		if s.lo >= off {
			break
		}
		if s.hi > off {
			off = (s.hi + align - 1) / align * align
		}
	}
	return off
}
