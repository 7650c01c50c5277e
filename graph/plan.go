package graph

import "fmt"

// Plan says where every value of a graph lies: in which buffer, in which
// region of it and at which layout in that region. Values whose lifetimes
// do not overlap share memory, and the inputs of a concatenation are
// written straight into its output.
//
// The values that share memory because they are parts of one another (a
// view and its input, the values placed in a concatenation and its
// output, transitively) form a tree; a tree's values share its root's
// region, and their layouts are relative to the region's start. Each
// graph input and output has a buffer of its own (the uploads and
// read-backs use it whole); the other trees are packed at offsets into a
// few arenas, so that no dispatch binds one buffer both for reading and
// for writing, which WebGPU forbids whatever the ranges.
//
// A Plan is plain data: safe for concurrent reads, not for changes.
type Plan struct {
	// Buffer maps a value ID to its buffer.
	Buffer map[int]int
	// Region maps a value ID to the region of its buffer its tree lies
	// in, which is what a dispatch binds for it.
	Region map[int]Region
	// BufferElems is each buffer's size in float32 elements.
	BufferElems []int
	// Layout maps a value ID to where the value lies in its region.
	Layout map[int]Layout
	// Placed maps the ID of each value that lies in a slice of a Join's
	// output (a Concat's) to that node and input: the value's producer
	// writes it there, and the node moves nothing for it.
	Placed map[int]Part
	// Options are the limits the plan was made for, Align filled in.
	Options PlanOptions
}

// Region is a range of a buffer, in float32 elements: a tree of values'
// data (Elems, its root's elements) from Off, then guard elements up to
// Size, which no value is ever written to when Options.Guard > 0.
type Region struct {
	Off   int // a multiple of Options.Align bytes, and of 16
	Elems int
	Size  int // Elems + Options.Guard, rounded up to a multiple of 4
}

// PlanOptions are the device limits a plan keeps to.
type PlanOptions struct {
	// Align is the alignment in bytes of every region's offset (the
	// device's minimum storage-buffer offset alignment), a power of two;
	// 0 means DefaultAlign. Offsets are whole float quadruples (16 bytes)
	// however small it is.
	Align int
	// MaxBuffer and MaxBinding are the largest buffer and the largest
	// region one binding may span, in bytes; 0 means no limit.
	MaxBuffer, MaxBinding int64
	// Guard is the number of float32 elements after every region's data
	// that nothing writes, so that a write past a value's end is seen.
	Guard int
}

// DefaultAlign is WebGPU's default storage-buffer offset alignment in
// bytes.
const DefaultAlign = 256

// Part names input Input of node Node.
type Part struct{ Node, Input int }

// PeakBytes is the activation memory of the plan: the sum of its buffers.
func (p *Plan) PeakBytes() int64 {
	var n int64
	for _, s := range p.BufferElems {
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

// NewPlan is NewPlanFor with WebGPU's default alignment, no size limits
// and no guard elements.
func NewPlan(g *Graph) *Plan {
	p, _ := NewPlanFor(g, PlanOptions{}) // fails only for limits
	return p
}

// NewPlanFor plans g's memory in two steps.
//
// Placement: each input of a Join (Concat) is placed in the Join's output
// memory, at the layout Join.Part gives, when its producer is Strided for
// its output, it is no graph input or output, no view, and not already
// placed in another Join (nor an earlier input of the same one). A
// placement is then undone, one at a time, until every read is possible:
// every reader that is not Strided for it (views included) must see it
// Plain, no graph output may lie in another value's memory, and no node
// may read a value from the tree it writes, where the written value's
// placement is undone first. An input left unplaced is copied by its
// Join.
//
// Buffers: each tree's root is allocated from the first node writing any
// of its values to the last node reading any of them. Graph inputs and
// outputs get buffers of their own. The other trees are packed into
// arenas, largest first (ties in node order), each where it grows the
// arenas least: at the lowest aligned offset of an arena that overlaps no
// region alive at the same time (with guards: no region's guard ever
// overlaps another's data), among the arenas that hold no tree which a
// node writing the tree reads, or that a node reading the tree writes,
// and whose size stays within MaxBuffer; in a new arena when there is no
// such arena or each would grow by more than the region. A region larger
// than MaxBinding or MaxBuffer is an error.
func NewPlanFor(g *Graph, opt PlanOptions) (*Plan, error) {
	if opt.Align == 0 {
		opt.Align = DefaultAlign
	}
	if opt.Align < 0 || opt.Align&(opt.Align-1) != 0 {
		return nil, fmt.Errorf("plan: alignment %d bytes is not a power of two", opt.Align)
	}
	if opt.Guard < 0 || opt.MaxBuffer < 0 || opt.MaxBinding < 0 {
		return nil, fmt.Errorf("plan: negative guard (%d elements) or limits (%d and %d bytes)", opt.Guard, opt.MaxBuffer, opt.MaxBinding)
	}
	p := &Plan{Buffer: map[int]int{}, Region: map[int]Region{}, Layout: map[int]Layout{}, Placed: map[int]Part{}, Options: opt}
	p.place(g)
	for {
		p.layouts(g)
		v := p.violation(g)
		if v == nil {
			break
		}
		delete(p.Placed, v.ID)
	}
	if err := p.buffers(g); err != nil {
		return nil, err
	}
	return p, nil
}

// place makes the candidate placements (NewPlanFor).
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
// impossible (NewPlanFor), or nil.
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

// Roots maps each value ID to the value whose memory it is: itself, or
// for the output of a View op, its input's root. (The Plan also lets
// placed values share their Join's memory; Plan.Buffer and Plan.Region
// say where each value lies.)
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
