package onnx

import (
	"math"
	"slices"

	"github.com/resnet-gpu/resnet-gpu/graph/onnx/onnxpb"
)

// The operators evaluated at import on constants: the shape computations
// exporters emit (Shape, Gather, Unsqueeze, Concat, Slice, …), Constant
// nodes and arithmetic between constants. Every result is charged to the
// builder's budget before it is allocated.

// newTensor returns a zero tensor of dims (with room for batch marks if
// sym), or nil and n's error when it would exceed the budget.
func (n *node) newTensor(dims []int, float, sym bool) *tensor {
	count, err := numelOf(toInt64(dims), n.b.budget)
	if err != nil {
		n.errorf("a constant of shape %v: more elements than the model's constants allow", dims)
		return nil
	}
	n.b.budget -= count
	t := &tensor{Dims: slices.Clone(dims), Float: float}
	if float {
		t.F = make([]float32, count)
	} else {
		t.I = make([]int64, count)
	}
	if sym {
		t.Sym = make([]bool, count)
	}
	return t
}

// toInt64 converts dimensions for numelOf.
func toInt64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// take returns a tensor of dims whose element k is src's element at(k).
func (n *node) take(src *tensor, dims []int, at func(k int) int) *tensor {
	t := n.newTensor(dims, src.Float, src.Sym != nil)
	if t == nil {
		return nil
	}
	for k := 0; k < t.numel(); k++ {
		j := at(k)
		if t.Float {
			t.F[k] = src.F[j]
		} else {
			t.I[k] = src.I[j]
			if t.Sym != nil {
				t.Sym[k] = src.Sym[j]
			}
		}
	}
	return t
}

// index returns the multi-index of flat index k in dims (row-major).
func index(k int, dims []int, idx []int) {
	for i := len(dims) - 1; i >= 0; i-- {
		idx[i] = k % dims[i]
		k /= dims[i]
	}
}

// flat is the flat index of idx in dims.
func flat(idx, dims []int) int {
	k := 0
	for i, d := range dims {
		k = k*d + idx[i]
	}
	return k
}

// withDims is t under other dimensions of as many elements (sharing its
// values: constants are never modified).
func withDims(t *tensor, dims []int) *tensor {
	c := *t
	c.Dims = dims
	return &c
}

// constant is a Constant node's value.
func constant(n *node) error {
	switch {
	case !n.inputs(0, 0):
	case n.attr("value", onnxpb.AttributeProto_TENSOR) != nil:
		t, err := decode(n.attr("value", onnxpb.AttributeProto_TENSOR).T, newExternal(""), n.b.budget)
		if err != nil {
			return n.errorf("value: %v", err)
		}
		n.b.budget -= t.numel()
		n.setConst(t)
	case n.attr("value_float", onnxpb.AttributeProto_FLOAT) != nil:
		n.setConst(&tensor{Float: true, F: []float32{float32(n.float("value_float", 0))}})
	case n.attr("value_floats", onnxpb.AttributeProto_FLOATS) != nil:
		f := n.attr("value_floats", onnxpb.AttributeProto_FLOATS).Floats
		n.setConst(&tensor{Dims: []int{len(f)}, Float: true, F: f})
	case n.attr("value_int", onnxpb.AttributeProto_INT) != nil:
		n.setConst(&tensor{I: []int64{n.int("value_int", 0)}})
	case n.attr("value_ints", onnxpb.AttributeProto_INTS) != nil:
		v := n.ints("value_ints", nil)
		n.setConst(&tensor{Dims: []int{len(v)}, I: v})
	case n.err == nil && len(n.Attribute) > 0:
		return n.errorf("attribute %q is not supported", n.Attribute[0].Name)
	case n.err == nil:
		return n.errorf("no value")
	}
	return n.err
}

// constantOfShape is a tensor of a constant shape filled with one value.
func constantOfShape(n *node) error {
	if !n.inputs(1, 1) {
		return n.err
	}
	fill := &tensor{Dims: []int{1}, Float: true, F: []float32{0}}
	if a := n.attr("value", onnxpb.AttributeProto_TENSOR); a != nil {
		var err error
		if fill, err = decode(a.T, newExternal(""), 1); err != nil || fill.numel() != 1 {
			return n.errorf("value must be one number")
		}
	}
	c := n.constIn(0, false)
	if c == nil {
		return n.err
	}
	shape, err := c.ints("shape")
	if err != nil {
		return n.errorf("%v", err)
	}
	dims := make([]int, len(shape))
	for i, d := range shape {
		if d < 0 || d > maxElems {
			return n.errorf("shape %v is out of range", shape)
		}
		dims[i] = int(d)
	}
	n.setConst(n.take(fill, dims, func(int) int { return 0 }))
	return n.err
}

// shape is the shape of a graph value (its batch dimension marked as the
// batch size) or of a constant, sliced by start and end.
func shape(n *node) error {
	if !n.inputs(1, 1) {
		return n.err
	}
	var dims []int
	batch := false
	if v := n.in(0); v.c != nil {
		dims = v.c.Dims
	} else if x := n.graphIn(0); x != nil {
		dims, batch = x.Shape, true
	} else {
		return n.err
	}
	r := int64(len(dims))
	clamp := func(v int64) int {
		if v < 0 {
			v += r
		}
		return int(min(max(v, 0), r))
	}
	lo, hi := clamp(n.int("start", 0)), clamp(n.int("end", r))
	hi = max(hi, lo)
	t := &tensor{Dims: []int{hi - lo}, I: make([]int64, hi-lo)}
	for i := lo; i < hi; i++ {
		t.I[i-lo] = int64(dims[i])
		if batch && i == 0 {
			t.Sym = make([]bool, hi-lo)
			t.I[0], t.Sym[0] = 1, true
		}
	}
	n.setConst(t)
	return n.err
}

// cast converts a constant between floats and integers (a float graph
// value cast to float stays as it is).
func cast(n *node) error {
	if !n.inputs(1, 1) {
		return n.err
	}
	to := onnxpb.TensorProto_DataType(n.int("to", 0))
	float := to == onnxpb.TensorProto_FLOAT || to == onnxpb.TensorProto_DOUBLE
	if !float && to != onnxpb.TensorProto_INT64 && to != onnxpb.TensorProto_INT32 {
		return n.errorf("cast to %s is not supported", to)
	}
	v := n.in(0)
	if v.c == nil {
		if x := n.graphIn(0); x != nil && !float {
			return n.errorf("cast of a graph value to %s is not supported", to)
		}
		n.set(v)
		return n.err
	}
	t := v.c
	switch {
	case t.Float == float:
		n.setConst(t)
	case float:
		if t.symbolic() {
			return n.errorf("cast of the batch size to %s is not supported", to)
		}
		out := n.newTensor(t.Dims, true, false)
		if out == nil {
			return n.err
		}
		for i, x := range t.I {
			out.F[i] = float32(x)
		}
		n.setConst(out)
	default:
		out := n.newTensor(t.Dims, false, false)
		if out == nil {
			return n.err
		}
		for i, x := range t.F {
			if math.IsNaN(float64(x)) || math.Abs(float64(x)) > 1<<62 {
				return n.errorf("cast of %g to %s", x, to)
			}
			out.I[i] = int64(x)
		}
		n.setConst(out)
	}
	return n.err
}

// foldArith is Add, Sub, Mul or Div of two constants with broadcasting.
// Batch-size marks survive Add and Sub of marked values (or of zero) and
// Mul and exact Div by unmarked ones.
func foldArith(n *node, a, b *tensor) error {
	if a.Float != b.Float {
		return n.errorf("operands of different types")
	}
	r := max(len(a.Dims), len(b.Dims))
	dims := make([]int, r)
	pa, pb := padDims(a.Dims, r), padDims(b.Dims, r)
	for i := range dims {
		switch {
		case pa[i] == pb[i] || pb[i] == 1:
			dims[i] = pa[i]
		case pa[i] == 1:
			dims[i] = pb[i]
		default:
			return n.errorf("shapes %v and %v do not broadcast", a.Dims, b.Dims)
		}
	}
	out := n.newTensor(dims, a.Float, a.Sym != nil || b.Sym != nil)
	if out == nil {
		return n.err
	}
	idx, ia, ib := make([]int, r), make([]int, r), make([]int, r)
	for k := 0; k < out.numel(); k++ {
		index(k, dims, idx)
		for i := range idx {
			ia[i], ib[i] = idx[i]%pa[i], idx[i]%pb[i]
		}
		ka, kb := flat(ia, pa), flat(ib, pb)
		if a.Float {
			x, y := float64(a.F[ka]), float64(b.F[kb])
			switch n.OpType {
			case "Add":
				out.F[k] = float32(x + y)
			case "Sub":
				out.F[k] = float32(x - y)
			case "Mul":
				out.F[k] = float32(x * y)
			default:
				out.F[k] = float32(x / y)
			}
			continue
		}
		x, y := a.I[ka], b.I[kb]
		sx, sy := a.Sym != nil && a.Sym[ka], b.Sym != nil && b.Sym[kb]
		var v int64
		sym, ok := sx || sy, true
		switch n.OpType {
		case "Add", "Sub":
			if n.OpType == "Sub" {
				y = -y
			}
			v, ok = x+y, sx == sy || sx && y == 0 || sy && x == 0
		case "Mul":
			v, ok = x*y, !(sx && sy)
		case "Div":
			ok = y != 0 && !sy && (!sx || x%y == 0)
			if y != 0 {
				v = x / y
			}
		}
		if !ok {
			return n.errorf("%s of %d and %d: shape arithmetic on the batch size (or division by zero) is not supported", n.OpType, x, y)
		}
		out.I[k] = v
		if sym {
			out.Sym[k] = true
		}
	}
	n.setConst(out)
	return n.err
}

// padDims is dims with leading 1s to rank r.
func padDims(dims []int, r int) []int {
	return append(slices.Repeat([]int{1}, r-len(dims)), dims...)
}
