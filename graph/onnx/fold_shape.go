package onnx

import (
	"slices"
)

// The constant folds that move elements without computing new values:
// Reshape, Gather, Unsqueeze, Squeeze, Concat, Slice and Transpose of
// constants.

// reshapeConst is ONNX's Reshape of a constant: 0 copies a dimension
// (unless allowzero), -1 takes what is left.
func (n *node) reshapeConst(t *tensor, shape []int64, allowzero bool) *tensor {
	dims := make([]int, len(shape))
	free, known := -1, 1
	for i, d := range shape {
		switch {
		case d == 0 && !allowzero && i < len(t.Dims):
			dims[i] = t.Dims[i]
		case d == -1 && free < 0:
			free = i
			continue
		case d < 0 || d > maxElems:
			n.errorf("reshape of a constant of shape %v to %v", t.Dims, shape)
			return nil
		default:
			dims[i] = int(d)
		}
		known *= dims[i]
		if known > maxElems {
			n.errorf("reshape of a constant of shape %v to %v", t.Dims, shape)
			return nil
		}
	}
	if free >= 0 && known > 0 {
		dims[free] = t.numel() / known
	}
	if count, err := numelOf(toInt64(dims), maxElems); err != nil || count != t.numel() {
		n.errorf("reshape of a constant of shape %v to %v", t.Dims, shape)
		return nil
	}
	return withDims(t, dims)
}

// gather takes the indices' entries of a constant along an axis.
func gather(n *node) error {
	if !n.inputs(2, 2) {
		return n.err
	}
	data, ix := n.constIn(0, false), n.constIn(1, false)
	if n.err != nil {
		return n.err
	}
	idx, err := ix.ints("indices")
	if err != nil {
		return n.errorf("%v", err)
	}
	a := n.axis("axis", n.int("axis", 0), len(data.Dims))
	if n.err != nil {
		return n.err
	}
	size := data.Dims[a]
	inner := 1
	for _, d := range data.Dims[a+1:] {
		inner *= d
	}
	for _, i := range idx {
		if i < -int64(size) || i >= int64(size) {
			return n.errorf("index %d is out of range for axis %d of shape %v", i, a, data.Dims)
		}
	}
	dims := append(append(slices.Clone(data.Dims[:a]), ix.Dims...), data.Dims[a+1:]...)
	m := len(idx)
	n.setConst(n.take(data, dims, func(k int) int {
		o, j, in := k/(m*inner), k/inner%m, k%inner
		i := int(idx[j])
		if i < 0 {
			i += size
		}
		return (o*size+i)*inner + in
	}))
	return n.err
}

// axesOf returns the axes of Unsqueeze or Squeeze: an attribute before
// opset 13, an optional input since.
func (n *node) axesOf() ([]int64, bool) {
	if n.opset() < 13 {
		v := n.ints("axes", nil)
		return v, v != nil
	}
	c := n.constIn(1, true)
	if c == nil {
		return nil, false
	}
	v, err := c.ints("axes")
	if err != nil {
		n.errorf("%v", err)
	}
	return v, true
}

// unsqueeze inserts dimensions of size 1 into a constant.
func unsqueeze(n *node) error {
	if !n.inputs(1, 2) {
		return n.err
	}
	t := n.constIn(0, false)
	axes, ok := n.axesOf()
	if n.err != nil {
		return n.err
	}
	if !ok {
		return n.errorf("no axes (an input since opset 13, an attribute before)")
	}
	r := len(t.Dims) + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		i := n.axis("axis", a, r)
		if n.err != nil || ins[i] {
			return n.errorf("axes %v are repeated or out of range", axes)
		}
		ins[i] = true
	}
	dims, k := make([]int, r), 0
	for i := range dims {
		dims[i] = 1
		if !ins[i] {
			dims[i] = t.Dims[k]
			k++
		}
	}
	n.setConst(withDims(t, dims))
	return n.err
}

// squeeze removes dimensions of size 1 (all of them without axes) from a
// constant.
func squeeze(n *node) error {
	if !n.inputs(1, 2) {
		return n.err
	}
	t := n.constIn(0, false)
	axes, ok := n.axesOf()
	if n.err != nil {
		return n.err
	}
	drop := make([]bool, len(t.Dims))
	for i, d := range t.Dims {
		drop[i] = !ok && d == 1
	}
	for _, a := range axes {
		i := n.axis("axis", a, len(t.Dims))
		if n.err != nil || t.Dims[i] != 1 {
			return n.errorf("axes %v: cannot squeeze shape %v", axes, t.Dims)
		}
		drop[i] = true
	}
	var dims []int
	for i, d := range t.Dims {
		if !drop[i] {
			dims = append(dims, d)
		}
	}
	n.setConst(withDims(t, dims))
	return n.err
}

// foldConcat joins constants along an axis.
func foldConcat(n *node) error {
	ts := make([]*tensor, len(n.Input))
	for i := range ts {
		ts[i] = n.constIn(i, false)
	}
	if n.err != nil {
		return n.err
	}
	a := n.axis("axis", n.int("axis", 0), len(ts[0].Dims))
	if n.err != nil {
		return n.err
	}
	dims := slices.Clone(ts[0].Dims)
	dims[a] = 0
	sym := false
	for _, t := range ts {
		d := slices.Clone(t.Dims)
		if len(d) != len(dims) || t.Float != ts[0].Float {
			return n.errorf("constants of shapes %v and %v or types differ", ts[0].Dims, t.Dims)
		}
		dims[a] += d[a]
		d[a] = 0
		if !slices.Equal(d, append(slices.Clone(dims[:a]), append([]int{0}, dims[a+1:]...)...)) {
			return n.errorf("constants of shapes %v and %v differ off axis %d", ts[0].Dims, t.Dims, a)
		}
		sym = sym || t.Sym != nil
	}
	out := n.newTensor(dims, ts[0].Float, sym)
	if out == nil {
		return n.err
	}
	outer := 1
	for _, d := range dims[:a] {
		outer *= d
	}
	inner := out.numel() / max(outer*dims[a], 1)
	off := 0
	for _, t := range ts {
		w := t.Dims[a] * inner
		for o := 0; o < outer; o++ {
			for j := 0; j < w; j++ {
				k, src := o*dims[a]*inner+off+j, o*w+j
				if out.Float {
					out.F[k] = t.F[src]
				} else {
					out.I[k] = t.I[src]
					if t.Sym != nil {
						out.Sym[k] = t.Sym[src]
					}
				}
			}
		}
		off += w
	}
	n.setConst(out)
	return n.err
}

// slice takes a strided range of a constant along some axes.
func slice(n *node) error {
	if !n.inputs(3, 5) {
		return n.err
	}
	t := n.constIn(0, false)
	var args [4][]int64
	for i := range args {
		if c := n.constIn(i+1, i >= 2); c != nil {
			v, err := c.ints("starts, ends, axes and steps")
			if err != nil {
				return n.errorf("%v", err)
			}
			args[i] = v
		}
	}
	if n.err != nil {
		return n.err
	}
	starts, ends, axes, steps := args[0], args[1], args[2], args[3]
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if steps == nil {
		steps = slices.Repeat([]int64{1}, len(starts))
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		return n.errorf("starts, ends, axes and steps differ in length")
	}
	r := len(t.Dims)
	start, step, dims := make([]int, r), slices.Repeat([]int{1}, r), slices.Clone(t.Dims)
	for i, ax := range axes {
		a := n.axis("axis", ax, r)
		d := int64(t.Dims[a])
		s, e, st := starts[i], ends[i], steps[i]
		if n.err != nil || st == 0 {
			return n.errorf("bad slice")
		}
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		st = min(max(st, -(d+1)), d+1) // a longer step takes the first element alone
		var count int64
		if st > 0 {
			s, e = min(max(s, 0), d), min(max(e, 0), d)
			count = max(0, (e-s+st-1)/st)
		} else {
			s, e = min(max(s, 0), d-1), min(max(e, -1), d-1)
			count = max(0, (s-e-st-1)/(-st))
		}
		start[a], step[a], dims[a] = int(s), int(st), int(count)
	}
	idx := make([]int, r)
	n.setConst(n.take(t, dims, func(k int) int {
		index(k, dims, idx)
		for i := range idx {
			idx[i] = start[i] + idx[i]*step[i]
		}
		return flat(idx, t.Dims)
	}))
	return n.err
}

// transpose permutes a constant's axes.
func transpose(n *node) error {
	if !n.inputs(1, 1) {
		return n.err
	}
	t := n.constIn(0, false)
	if t == nil {
		return n.err
	}
	r := len(t.Dims)
	var perm []int
	for i := r - 1; i >= 0; i-- {
		perm = append(perm, i)
	}
	if p := n.ints("perm", nil); p != nil {
		perm = perm[:0]
		seen := make([]bool, r)
		if len(p) != r {
			return n.errorf("perm %v is not a permutation of %d axes", p, r)
		}
		for _, a := range p {
			if a < 0 || a >= int64(r) || seen[a] {
				return n.errorf("perm %v is not a permutation of %d axes", p, r)
			}
			seen[a] = true
			perm = append(perm, int(a))
		}
	}
	dims := make([]int, r)
	for i, a := range perm {
		dims[i] = t.Dims[a]
	}
	idx, src := make([]int, r), make([]int, r)
	n.setConst(n.take(t, dims, func(k int) int {
		index(k, dims, idx)
		for i, a := range perm {
			src[a] = idx[i]
		}
		return flat(src, t.Dims)
	}))
	return n.err
}
