package graph

import "fmt"

// Verify checks the plan against g from first principles, independently
// of how NewPlanFor made it, and returns the first fault:
//
//   - every value has a buffer, a region and a layout; the region lies
//     inside the buffer at an offset of a multiple of Options.Align bytes,
//     holds Options.Guard elements after its data and spans at most
//     MaxBinding bytes; the value's image lies inside the region's data;
//     no buffer is larger than MaxBuffer bytes;
//   - a view lies where its input does, Plain; a placed value lies in its
//     Join's output where Join.Part says, in the same buffer and region;
//   - every input an op reads, and the output it writes, is Plain unless
//     the op is Strided for it, and graph inputs and outputs are Plain;
//   - no node reads a value from the buffer it writes (one buffer bound
//     for reading and writing in one dispatch), unless it moves nothing;
//   - no two values whose data is needed at the same time overlap in
//     memory, unless one is part of the other (a view, a placed value, a
//     Join's output); a value is needed from the node writing it (graph
//     inputs: from the start) to its last reader, and as long as any value
//     it is part of is needed; graph outputs to the end. The regions of
//     values that are not parts of one another do not overlap at all
//     while both are needed, and with guards no region's guard ever
//     overlaps another region's data;
//   - the buffers of graph inputs and outputs hold nothing else.
func (p *Plan) Verify(g *Graph) error {
	vals := append([]*Value{}, g.Inputs...)
	for _, n := range g.Nodes {
		vals = append(vals, n.Out)
	}
	o := p.Options
	if o.Align <= 0 || o.Align&(o.Align-1) != 0 {
		return fmt.Errorf("plan: alignment %d bytes", o.Align)
	}
	for b, n := range p.BufferElems {
		if o.MaxBuffer > 0 && 4*int64(n) > o.MaxBuffer {
			return fmt.Errorf("plan: buffer %d of %d bytes, more than the largest of %d", b, 4*n, o.MaxBuffer)
		}
	}
	for _, v := range vals {
		b, ok := p.Buffer[v.ID]
		r, rok := p.Region[v.ID]
		l, lok := p.Layout[v.ID]
		if !ok || !rok || !lok || b < 0 || b >= len(p.BufferElems) {
			return fmt.Errorf("plan: %s has no buffer, region or layout", v.Name)
		}
		switch {
		case r.Off < 0 || r.Elems < 0 || r.Off+r.Size > p.BufferElems[b]:
			return fmt.Errorf("plan: %s's region %+v spans past buffer %d, of %d elements", v.Name, r, b, p.BufferElems[b])
		case (4*r.Off)%max(o.Align, 16) != 0:
			return fmt.Errorf("plan: %s's region %+v in buffer %d is not aligned to %d bytes", v.Name, r, b, max(o.Align, 16))
		case r.Size < r.Elems+o.Guard || r.Size%4 != 0:
			return fmt.Errorf("plan: %s's region %+v leaves no %d guard elements in whole quadruples", v.Name, r, o.Guard)
		case o.MaxBinding > 0 && 4*int64(r.Size) > o.MaxBinding:
			return fmt.Errorf("plan: %s's region %+v spans more than the %d bytes of a binding", v.Name, r, o.MaxBinding)
		}
		if lo, hi := extent(v, l); lo < 0 || hi > r.Elems || l.BStride < v.Shape.Numel()/v.Shape[0] {
			return fmt.Errorf("plan: %s at %+v spans [%d, %d) of its region %+v in buffer %d", v.Name, l, lo, hi, r, b)
		}
	}
	if err := p.verifyParts(g); err != nil {
		return err
	}
	if err := p.verifyAccess(g); err != nil {
		return err
	}
	return p.verifyOverlaps(g, vals)
}

// extent is the range of elements v at l spans.
func extent(v *Value, l Layout) (lo, hi int) {
	return l.Off, l.Off + (v.Shape[0]-1)*l.BStride + v.Shape.Numel()/v.Shape[0]
}

// verifyParts checks views and placed values against what they are part
// of.
func (p *Plan) verifyParts(g *Graph) error {
	for id, pl := range p.Placed {
		if pl.Node < 0 || pl.Node >= len(g.Nodes) {
			return fmt.Errorf("plan: value %d placed in node %d of %d", id, pl.Node, len(g.Nodes))
		}
		n := g.Nodes[pl.Node]
		j, ok := n.Op.(Join)
		if !ok || pl.Input < 0 || pl.Input >= len(n.Inputs) || n.Inputs[pl.Input].ID != id {
			return fmt.Errorf("plan: value %d placed as input %d of %s, which does not join it", id, pl.Input, n.Name)
		}
		want, ok := j.Part(n.InShapes(), pl.Input, p.Layout[n.Out.ID])
		if !ok || want != p.Layout[id] || p.Buffer[id] != p.Buffer[n.Out.ID] || p.Region[id] != p.Region[n.Out.ID] {
			return fmt.Errorf("plan: %s placed in %s at %+v in buffer %d %+v, want %+v in buffer %d %+v",
				n.Inputs[pl.Input].Name, n.Name, p.Layout[id], p.Buffer[id], p.Region[id], want, p.Buffer[n.Out.ID], p.Region[n.Out.ID])
		}
	}
	for _, n := range g.Nodes {
		if !isView(n.Op) {
			continue
		}
		in := n.Inputs[0]
		if p.Buffer[in.ID] != p.Buffer[n.Out.ID] || p.Region[in.ID] != p.Region[n.Out.ID] || p.Layout[in.ID].Off != p.Layout[n.Out.ID].Off || !Plain(p.Layout[n.Out.ID], n.Out.Shape) {
			return fmt.Errorf("plan: view %s at %+v in buffer %d %+v, its input at %+v in buffer %d %+v",
				n.Name, p.Layout[n.Out.ID], p.Buffer[n.Out.ID], p.Region[n.Out.ID], p.Layout[in.ID], p.Buffer[in.ID], p.Region[in.ID])
		}
	}
	return nil
}

// verifyAccess checks what each node reads and writes.
func (p *Plan) verifyAccess(g *Graph) error {
	for _, vs := range [][]*Value{g.Inputs, g.Outputs} {
		for _, v := range vs {
			if !Plain(p.Layout[v.ID], v.Shape) {
				return fmt.Errorf("plan: graph input or output %s at %+v", v.Name, p.Layout[v.ID])
			}
		}
	}
	for _, n := range g.Nodes {
		if !stridedOut(n.Op) && !Plain(p.Layout[n.Out.ID], n.Out.Shape) {
			return fmt.Errorf("plan: %s writes %s at %+v", n.Name, n.Op.Kind(), p.Layout[n.Out.ID])
		}
		for i, v := range n.Inputs {
			if p.InPlace(n, i) {
				continue
			}
			if !stridedIn(n.Op, i) && !Plain(p.Layout[v.ID], v.Shape) {
				return fmt.Errorf("plan: %s (%s) reads %s at %+v", n.Name, n.Op.Kind(), v.Name, p.Layout[v.ID])
			}
			if !isView(n.Op) && p.Buffer[v.ID] == p.Buffer[n.Out.ID] {
				return fmt.Errorf("plan: %s reads %s from buffer %d, which it writes", n.Name, v.Name, p.Buffer[v.ID])
			}
		}
	}
	return nil
}

// verifyOverlaps checks that values needed at once do not overlap.
func (p *Plan) verifyOverlaps(g *Graph, vals []*Value) error {
	end := len(g.Nodes)
	born, need := map[int]int{}, map[int]int{}
	for _, v := range g.Inputs {
		born[v.ID], need[v.ID] = -1, -1
	}
	for _, n := range g.Nodes {
		born[n.Out.ID], need[n.Out.ID] = n.ID, n.ID
		for _, v := range n.Inputs {
			need[v.ID] = max(need[v.ID], n.ID)
		}
	}
	for _, v := range g.Outputs {
		need[v.ID] = end
	}
	// up maps a value to the one it is part of: a view's input (the view
	// is the same data), a placed value's Join output.
	up := map[int]*Value{}
	for id, pl := range p.Placed {
		up[id] = g.Nodes[pl.Node].Out
	}
	for k := len(g.Nodes) - 1; k >= 0; k-- {
		n := g.Nodes[k]
		if isView(n.Op) {
			need[n.Inputs[0].ID] = max(need[n.Inputs[0].ID], need[n.Out.ID])
		}
		if u, ok := up[n.Out.ID]; ok {
			need[n.Out.ID] = max(need[n.Out.ID], need[u.ID])
		}
	}
	for _, n := range g.Nodes {
		if isView(n.Op) {
			up[n.Out.ID] = n.Inputs[0]
		}
	}
	within := func(a, b *Value) bool { // a is b or part of it
		for v := a; v != nil; v = up[v.ID] {
			if v == b {
				return true
			}
		}
		return false
	}
	// Views count as their input: two views of one value are one datum.
	related := func(a, b *Value) bool {
		return within(a, b) || within(b, a) || within(base(a), base(b)) || within(base(b), base(a))
	}
	pinned := map[int]bool{}
	for _, vs := range [][]*Value{g.Inputs, g.Outputs} {
		for _, v := range vs {
			pinned[v.ID] = true
		}
	}
	top := func(v *Value) *Value {
		for up[v.ID] != nil {
			v = up[v.ID]
		}
		return v
	}
	byBuffer := map[int][]*Value{}
	for _, v := range vals {
		byBuffer[p.Buffer[v.ID]] = append(byBuffer[p.Buffer[v.ID]], v)
	}
	guard := p.Options.Guard
	for buf := range p.BufferElems {
		vs := byBuffer[buf]
		for i, a := range vs {
			ra := p.Region[a.ID]
			for _, b := range vs[:i] {
				rb := p.Region[b.ID]
				both := born[a.ID] <= need[b.ID] && born[b.ID] <= need[a.ID]
				switch {
				case related(a, b):
				case pinned[a.ID] || pinned[b.ID]:
					return fmt.Errorf("plan: buffer %d of a graph input or output holds both %s and %s", buf, b.Name, a.Name)
				case top(a) == top(b):
					if both && overlap(a, p.Layout[a.ID], b, p.Layout[b.ID]) {
						return fmt.Errorf("plan: %s (needed at nodes %d–%d) and %s (%d–%d) overlap in buffer %d",
							b.Name, born[b.ID], need[b.ID], a.Name, born[a.ID], need[a.ID], buf)
					}
				case both && meets(ra.Off, ra.Off+ra.Size, rb.Off, rb.Off+rb.Size):
					return fmt.Errorf("plan: %s (needed at nodes %d–%d) at %+v and %s (%d–%d) at %+v overlap in buffer %d",
						b.Name, born[b.ID], need[b.ID], rb, a.Name, born[a.ID], need[a.ID], ra, buf)
				case guard > 0 && (meets(ra.Off+ra.Elems, ra.Off+ra.Size, rb.Off, rb.Off+rb.Elems) || meets(rb.Off+rb.Elems, rb.Off+rb.Size, ra.Off, ra.Off+ra.Elems)):
					return fmt.Errorf("plan: the guard of %s at %+v or of %s at %+v lies in the other's data in buffer %d", b.Name, rb, a.Name, ra, buf)
				}
			}
		}
	}
	return nil
}

// meets reports whether the ranges [a, b) and [c, d) share an element.
func meets(a, b, c, d int) bool { return a < d && c < b }

// overlap reports whether a at la and b at lb share an element: their
// images are runs of elements in increasing order, walked side by side.
func overlap(a *Value, la Layout, b *Value, lb Layout) bool {
	na, nb := a.Shape[0], b.Shape[0]
	ia, ib := a.Shape.Numel()/na, b.Shape.Numel()/nb
	for i, j := 0, 0; i < na && j < nb; {
		a0, b0 := la.Off+i*la.BStride, lb.Off+j*lb.BStride
		switch {
		case a0+ia <= b0:
			i++
		case b0+ib <= a0:
			j++
		default:
			return true
		}
	}
	return false
}
