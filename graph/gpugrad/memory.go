package gpugrad

import (
	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// A pass runs in steps: node k's forward is step k, its backward step
// 2N−1−k for a graph of N nodes; the read-backs come after step 2N−1.

// fwdStep and bwdStep are the steps of node k's forward and backward in a
// graph of n nodes.
func fwdStep(k int) int    { return k }
func bwdStep(n, k int) int { return 2*n - 1 - k }

// lives holds, for each value by ID, the last step that reads its forward
// value and the last that reads or writes its gradient; a value absent
// from a map is never read there. end (past every step) marks the ones
// the read-backs need.
type lives struct {
	val, grad map[int]int
	end       int
}

// lifetimes returns the lives of g's values in a pass whose backward
// reads, at node k, the forward values needs[k] names; keep holds the
// values whose gradients are read back; forward says whether the pass
// runs the forward (its nodes read their inputs) or is given every value.
func lifetimes(g *graph.Graph, needs []graph.GradNeeds, keep map[int]bool, forward bool) lives {
	n := len(g.Nodes)
	l := lives{val: map[int]int{}, grad: map[int]int{}, end: 2 * n}
	use := func(m map[int]int, id, step int) {
		if s, ok := m[id]; !ok || step > s {
			m[id] = step
		}
	}
	for k, nd := range g.Nodes {
		b := bwdStep(n, k)
		for _, v := range nd.Inputs {
			if forward {
				use(l.val, v.ID, fwdStep(k))
			}
			use(l.grad, v.ID, b) // written
		}
		for _, i := range needs[k].In {
			use(l.val, nd.Inputs[i].ID, b)
		}
		if needs[k].Out {
			use(l.val, nd.Out.ID, b)
		}
		use(l.grad, nd.Out.ID, b) // read
	}
	out := g.Outputs[0].ID
	use(l.val, out, l.end) // the loss is read back
	for id := range keep {
		use(l.grad, id, l.end)
	}
	return l
}

// pool hands out the device buffers of one pass and counts their bytes.
// A pass records every launch before it submits them at once, so a buffer
// is never freed while the pass runs: a value's buffer, once dead, goes
// back to the pool for a later step's value (the smallest free one big
// enough), and the pass's memory is the sum of the buffers it made.
// Buffers written from the host hold their data from the start of the
// submission, so they are always new (fresh, load), never a free one.
type pool struct {
	dev     *gpu.Device
	noReuse bool
	made    []*gpu.Buffer
	free    []*gpu.Buffer
	bytes   uint64
	shared  map[upKey]*gpu.Buffer // constants by their data
}

// upKey identifies a constant's data: its first element and length.
type upKey struct {
	p *float32
	n int
}

// fresh returns a new buffer of n floats (rounded up to whole vec4s, as
// the copy kernel reads), zeros.
func (p *pool) fresh(label string, n int) (*gpu.Buffer, error) {
	return p.keep(p.dev.NewBuffer(label, shaders.CopyBytes(max(n, 1))))
}

// keep records a buffer the pool made (for release and Bytes).
func (p *pool) keep(b *gpu.Buffer, err error) (*gpu.Buffer, error) {
	if err != nil {
		return nil, err
	}
	p.made = append(p.made, b)
	p.bytes += b.Size
	return b, nil
}

// take returns a buffer of at least n floats whose contents are
// undefined: the smallest free one that fits, else a new one.
func (p *pool) take(label string, n int) (*gpu.Buffer, error) {
	size := shaders.CopyBytes(max(n, 1))
	best := -1
	for i, b := range p.free {
		if b.Size >= size && (best < 0 || b.Size < p.free[best].Size) {
			best = i
		}
	}
	if best < 0 {
		return p.fresh(label, n)
	}
	b := p.free[best]
	p.free = append(p.free[:best], p.free[best+1:]...)
	return b, nil
}

// give returns b, whose last reader has been recorded, to the pool.
func (p *pool) give(b *gpu.Buffer) {
	if b != nil && !p.noReuse {
		p.free = append(p.free, b)
	}
}

// load returns a new buffer holding v (fresh's size, its tail zeros).
func (p *pool) load(label string, v []float32) (*gpu.Buffer, error) {
	return p.keep(p.dev.NewBufferWith(label, shaders.CopyBytes(max(len(v), 1)), gpu.Bytes(v)))
}

// constant is load for data no launch writes, loaded once: a parameter
// the forward and the backward both read is one buffer. Constants are
// never given back, as others may share them.
func (p *pool) constant(label string, v []float32) (*gpu.Buffer, error) {
	if len(v) == 0 || p.noReuse {
		return p.load(label, v)
	}
	key := upKey{&v[0], len(v)}
	if b, ok := p.shared[key]; ok {
		return b, nil
	}
	b, err := p.load(label, v)
	if err == nil {
		p.shared[key] = b
	}
	return b, err
}

// release frees every buffer the pass made.
func (p *pool) release() {
	for _, b := range p.made {
		b.Release()
	}
}
