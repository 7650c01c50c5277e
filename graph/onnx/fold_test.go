package onnx

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/onnx/onnxpb"
)

// fold runs one node of opType on constant inputs (nil: left out) and
// returns its constant output.
func fold(opset int, opType string, in []*tensor, attrs ...*onnxpb.AttributeProto) (*tensor, error) {
	m := &Model{Opset: opset, consts: map[string]*tensor{}, uses: map[string]int{}}
	b := &builder{m: m, vals: map[string]*val{}, names: map[*graph.Value]int{}, budget: 1 << 20}
	p := &onnxpb.NodeProto{OpType: opType, Name: "n", Output: []string{"out"}, Attribute: attrs}
	for i, t := range in {
		name := ""
		if t != nil {
			name = fmt.Sprint("in", i)
			m.consts[name] = t
		}
		p.Input = append(p.Input, name)
	}
	n := &node{NodeProto: p, b: b, read: map[string]bool{}}
	if err := n.run(); err != nil {
		return nil, err
	}
	v := b.vals["out"]
	if v == nil || v.c == nil {
		return nil, fmt.Errorf("no constant output")
	}
	return v.c, nil
}

func ints(dims []int, v ...int64) *tensor { return &tensor{Dims: dims, I: v} }

func floats(dims []int, v ...float32) *tensor { return &tensor{Dims: dims, Float: true, F: v} }

// sym is a 1-D integer tensor whose first element is k times the batch.
func sym(k int64, rest ...int64) *tensor {
	t := ints([]int{1 + len(rest)}, append([]int64{k}, rest...)...)
	t.Sym = make([]bool, len(t.I))
	t.Sym[0] = true
	return t
}

func checkTensor(t *testing.T, what string, got *tensor, err error, dims []int, want any) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	var vals any = got.I
	if got.Float {
		vals = got.F
	}
	if !slices.Equal(got.Dims, dims) || fmt.Sprint(vals) != fmt.Sprint(want) {
		t.Errorf("%s: %v %v, want %v %v", what, got.Dims, vals, dims, want)
	}
}

func TestFoldSlice(t *testing.T) {
	ten := ints([]int{10}, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	one := func(v int64) *tensor { return ints([]int{1}, v) }
	got, err := fold(13, "Slice", []*tensor{ten, one(-1), one(math.MinInt64 + 1), one(0), one(-1)})
	checkTensor(t, "reversed", got, err, []int{10}, []int64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0})
	got, err = fold(13, "Slice", []*tensor{ten, one(1), one(100), nil, one(3)})
	checkTensor(t, "strided", got, err, []int{3}, []int64{1, 4, 7})
	got, err = fold(13, "Slice", []*tensor{ten, one(2), one(9), nil, one(math.MaxInt64)})
	checkTensor(t, "huge step", got, err, []int{1}, []int64{2})
	m := ints([]int{3, 4}, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
	got, err = fold(13, "Slice", []*tensor{m, ints([]int{2}, 0, 1), ints([]int{2}, 2, 4), ints([]int{2}, 0, -1)})
	checkTensor(t, "2-D", got, err, []int{2, 3}, []int64{1, 2, 3, 5, 6, 7})
	_, err = fold(13, "Slice", []*tensor{ten, one(0), one(5), nil, one(0)})
	checkError(t, err, "bad slice")
}

func TestFoldShapeOps(t *testing.T) {
	m := ints([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	got, err := fold(13, "Transpose", []*tensor{m})
	checkTensor(t, "transpose", got, err, []int{3, 2}, []int64{1, 4, 2, 5, 3, 6})
	got, err = fold(13, "Transpose", []*tensor{withDims(m, []int{1, 2, 3})}, attrInts("perm", 0, 2, 1))
	checkTensor(t, "transpose perm", got, err, []int{1, 3, 2}, []int64{1, 4, 2, 5, 3, 6})
	_, err = fold(13, "Transpose", []*tensor{m}, attrInts("perm", 0, 0))
	checkError(t, err, "is not a permutation")

	got, err = fold(13, "Gather", []*tensor{ints([]int{3}, 5, 6, 7), ints([]int{2}, -1, 0)})
	checkTensor(t, "gather", got, err, []int{2}, []int64{7, 5})
	got, err = fold(13, "Gather", []*tensor{m, ints(nil, 2)}, attrInt("axis", 1))
	checkTensor(t, "gather axis 1", got, err, []int{2}, []int64{3, 6})
	_, err = fold(13, "Gather", []*tensor{m, ints(nil, 3)}, attrInt("axis", 1))
	checkError(t, err, "index 3 is out of range")

	got, err = fold(11, "Unsqueeze", []*tensor{m}, attrInts("axes", 0, 3))
	checkTensor(t, "unsqueeze 11", got, err, []int{1, 2, 3, 1}, m.I)
	got, err = fold(13, "Unsqueeze", []*tensor{m, ints([]int{1}, -1)})
	checkTensor(t, "unsqueeze 13", got, err, []int{2, 3, 1}, m.I)
	_, err = fold(13, "Unsqueeze", []*tensor{m}, attrInts("axes", 0))
	checkError(t, err, "no axes (an input since opset 13")
	c := withDims(m, []int{1, 6, 1})
	got, err = fold(11, "Squeeze", []*tensor{c})
	checkTensor(t, "squeeze all", got, err, []int{6}, m.I)
	got, err = fold(13, "Squeeze", []*tensor{c, ints([]int{1}, 2)})
	checkTensor(t, "squeeze axis", got, err, []int{1, 6}, m.I)
	_, err = fold(13, "Squeeze", []*tensor{c, ints([]int{1}, 1)})
	checkError(t, err, "cannot squeeze shape [1 6 1]")

	got, err = fold(13, "Concat", []*tensor{sym(1), ints([]int{2}, -1, 4)}, attrInt("axis", 0))
	checkTensor(t, "concat", got, err, []int{3}, []int64{1, -1, 4})
	if err == nil && !slices.Equal(got.Sym, []bool{true, false, false}) {
		t.Errorf("concat keeps the batch mark: %v", got.Sym)
	}
	got, err = fold(13, "Concat", []*tensor{m, m}, attrInt("axis", 1))
	checkTensor(t, "concat 2-D", got, err, []int{2, 6}, []int64{1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6})
	_, err = fold(13, "Concat", []*tensor{m, ints([]int{3}, 1, 2, 3)}, attrInt("axis", 0))
	checkError(t, err, "differ")

	got, err = fold(15, "Shape", []*tensor{withDims(m, []int{1, 2, 3})}, attrInt("start", -2))
	checkTensor(t, "shape start", got, err, []int{2}, []int64{2, 3})
	got, err = fold(14, "Reshape", []*tensor{m, ints([]int{2}, 3, -1)})
	checkTensor(t, "reshape", got, err, []int{3, 2}, m.I)
	_, err = fold(14, "Reshape", []*tensor{m, ints([]int{2}, 4, -1)})
	checkError(t, err, "reshape of a constant of shape [2 3] to [4 -1]")
	got, err = fold(13, "Flatten", []*tensor{m}, attrInt("axis", 0))
	checkTensor(t, "flatten", got, err, []int{1, 6}, m.I)
}

func TestFoldValues(t *testing.T) {
	got, err := fold(13, "Cast", []*tensor{floats([]int{2}, 1.7, -2.5)}, attrInt("to", 7))
	checkTensor(t, "cast to int", got, err, []int{2}, []int64{1, -2})
	got, err = fold(13, "Cast", []*tensor{ints([]int{2}, 3, -4)}, attrInt("to", 1))
	checkTensor(t, "cast to float", got, err, []int{2}, []float32{3, -4})
	_, err = fold(13, "Cast", []*tensor{ints([]int{2}, 3, -4)}, attrInt("to", 10))
	checkError(t, err, "cast to FLOAT16 is not supported")
	_, err = fold(13, "Cast", []*tensor{sym(1)}, attrInt("to", 1))
	checkError(t, err, "cast of the batch size")

	fill := &onnxpb.TensorProto{Dims: []int64{1}, DataType: 7, Int64Data: []int64{7}}
	got, err = fold(13, "ConstantOfShape", []*tensor{ints([]int{2}, 2, 3)}, attrTensor("value", fill))
	checkTensor(t, "constant of shape", got, err, []int{2, 3}, []int64{7, 7, 7, 7, 7, 7})
	_, err = fold(13, "ConstantOfShape", []*tensor{ints([]int{2}, 1<<20, 1<<20)})
	checkError(t, err, "more elements than the model's constants allow")
	_, err = fold(13, "ConstantOfShape", []*tensor{sym(1)})
	checkError(t, err, "shape depends on the batch size")

	got, err = fold(13, "Constant", nil, &onnxpb.AttributeProto{Name: "value_ints", Type: onnxpb.AttributeProto_INTS, Ints: []int64{4, 5}})
	checkTensor(t, "constant ints", got, err, []int{2}, []int64{4, 5})
	got, err = fold(13, "Constant", nil, attrFloat("value_float", 0.5))
	checkTensor(t, "constant float", got, err, nil, []float32{0.5})
	got, err = fold(13, "Constant", nil, attrTensor("value", floatTensor("", []int64{2}, []float32{1, 2})))
	checkTensor(t, "constant tensor", got, err, []int{2}, []float32{1, 2})
	_, err = fold(13, "Constant", nil, &onnxpb.AttributeProto{Name: "sparse_value", Type: onnxpb.AttributeProto_SPARSE_TENSOR})
	checkError(t, err, `attribute "sparse_value" is not supported`)
	_, err = fold(13, "Constant", nil)
	checkError(t, err, "no value")

	got, err = fold(13, "Add", []*tensor{floats([]int{2, 1}, 1, 2), floats([]int{3}, 10, 20, 30)})
	checkTensor(t, "broadcast add", got, err, []int{2, 3}, []float32{11, 21, 31, 12, 22, 32})
	got, err = fold(13, "Mul", []*tensor{sym(1, 5), ints(nil, 2)})
	checkTensor(t, "batch times 2", got, err, []int{2}, []int64{2, 10})
	if err == nil && !slices.Equal(got.Sym, []bool{true, false}) {
		t.Errorf("batch marks %v, want the first element's kept", got.Sym)
	}
	got, err = fold(13, "Add", []*tensor{sym(1), sym(2)})
	checkTensor(t, "batch plus batch", got, err, []int{1}, []int64{3})
	_, err = fold(13, "Sub", []*tensor{sym(1), ints([]int{1}, 1)})
	checkError(t, err, "shape arithmetic on the batch size")
	_, err = fold(13, "Mul", []*tensor{sym(1), sym(1)})
	checkError(t, err, "shape arithmetic on the batch size")
	_, err = fold(13, "Div", []*tensor{ints([]int{1}, 4), ints([]int{1}, 0)})
	checkError(t, err, "division by zero")
	_, err = fold(13, "Add", []*tensor{ints([]int{2}, 1, 2), ints([]int{3}, 1, 2, 3)})
	checkError(t, err, "do not broadcast")
}
