package main

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/resnet"
)

// outcome is one input's result: its logits and probabilities, or why it
// has none.
type outcome struct {
	in            input
	logits, probs []float32
	err           error
}

// group is the inputs of one forward pass, with the inputs that failed
// before it in the order (which take no place in the batch).
type group struct {
	items []outcome
	x     [][]float32 // the tensor of items[i], once read
}

// classifyInputs classifies inputs batch by batch and calls done for each,
// in order. resnet.ReadGroups' pool reads and preprocesses the inputs of
// the batches after the one that the calling goroutine, the only one to
// start forward passes, runs; at most ahead+1 batches of tensors are held,
// read or running. With ahead > 0 (a GPU) the calling goroutine starts
// each batch before it waits for the one before, so that a batch's upload
// overlaps the previous one's run. An input that cannot be read takes an
// all-zero tensor in its batch, so that the batch keeps its size (and
// compiled program). A failed batch is run again an input at a time, so
// that the error is the input's own. classifyInputs stops at done's first
// error and returns it.
func classifyInputs(m *resnet.Model, inputs []input, batch, ahead int, done func(outcome) error) error {
	gs := groups(inputs, batch)
	var paths []string
	items := make([][]int, len(gs)) // each group's readable inputs, as indices into paths
	for g, gr := range gs {
		for _, it := range gr.items {
			if it.in.err == nil {
				items[g] = append(items[g], len(paths))
				paths = append(paths, it.in.path)
			}
		}
	}
	read := func(i int) ([]float32, error) { return readInput(m, paths[i]) }
	// With reads ahead (a GPU), the next group uploads while this one runs,
	// so one group is held outside ReadGroups' count; else each group
	// finishes before the next is read.
	inFlight := min(ahead, 1)
	zero := make([]float32, m.InputSize())
	var running []*pass // started, not yet reported
	err := resnet.ReadGroups(items, ahead-inFlight, read, func(n int, xs [][]float32, errs []error) error {
		g, k := gs[n], 0
		for i := range g.items {
			if g.items[i].in.err == nil {
				g.x[i], g.items[i].err = xs[k], errs[k]
				k++
			}
		}
		running = append(running, startGroup(m, g, zero))
		for len(running) > inFlight {
			p := running[0]
			running = running[1:]
			p.finish(m)
			if err := p.report(done); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range running {
		p.finish(m)
		if err := p.report(done); err != nil {
			return err
		}
	}
	return nil
}

// groups splits inputs into groups of batch readable inputs each, every
// input that failed already joining the group after it (the last group
// when none follows).
func groups(inputs []input, batch int) []*group {
	var out []*group
	g, n := &group{}, 0
	for _, in := range inputs {
		it := outcome{in: in, err: in.err}
		g.items = append(g.items, it)
		if in.err != nil {
			continue
		}
		if n++; n == batch {
			out, g, n = append(out, g), &group{}, 0
		}
	}
	if len(g.items) > 0 {
		out = append(out, g)
	}
	for _, g := range out {
		g.x = make([][]float32, len(g.items))
	}
	return out
}

// pass is a group's forward pass, started: the tensors it runs (read
// inputs, and zero for the ones that failed) and the item of each.
type pass struct {
	g   *group
	xs  [][]float32
	idx []int
	run *resnet.Pass
	err error // from Start
}

// startGroup starts the model on a group's read inputs, padding the ones
// that failed with zero; a group none of whose inputs could be read runs
// nothing.
func startGroup(m *resnet.Model, g *group, zero []float32) *pass {
	p := &pass{g: g}
	ok := false
	for i, it := range g.items {
		if it.in.err != nil {
			continue
		}
		x := g.x[i]
		if it.err != nil {
			x = zero
		} else {
			ok = true
		}
		p.xs, p.idx = append(p.xs, x), append(p.idx, i)
	}
	if !ok {
		p.xs, p.idx = nil, nil
		return p
	}
	p.run, p.err = m.Start(p.xs)
	return p
}

// finish waits for the pass and sets each read input's logits and
// probabilities or error. A failed pass is run again an input at a time,
// so that the error is the input's own.
func (p *pass) finish(m *resnet.Model) {
	if p.xs == nil {
		return
	}
	g, err := p.g, p.err
	var lg, probs [][]float32
	if err == nil {
		lg, probs, err = p.run.Wait()
	}
	if err == nil {
		for k, i := range p.idx {
			if g.items[i].err == nil {
				g.items[i].logits, g.items[i].probs = lg[k], probs[k]
			}
		}
		return
	}
	for k, i := range p.idx {
		it := &g.items[i]
		if it.err != nil {
			continue
		}
		if len(p.xs) == 1 {
			it.err = fmt.Errorf("%s: %w", it.in.path, err)
			continue
		}
		l, pr, err := m.Forward(p.xs[k : k+1])
		if err != nil {
			it.err = fmt.Errorf("%s: %w", it.in.path, err)
			continue
		}
		it.logits, it.probs = l[0], pr[0]
	}
}

// report calls done for each item of the pass's group, in order, and
// returns its first error.
func (p *pass) report(done func(outcome) error) error {
	for _, it := range p.g.items {
		if err := done(it); err != nil {
			return err
		}
	}
	return nil
}
