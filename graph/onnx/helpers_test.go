package onnx

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/onnx/onnxpb"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
)

// Tests build small ModelProtos by hand: an input "x" of some shape (0
// for a dynamic dimension), nodes, initializers, and the output "y".

type pb = onnxpb.ModelProto

// newModel returns a model of opset with input x of dims and output y.
func newModel(opset int64, dims []int64, nodes ...*onnxpb.NodeProto) *pb {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}}
		if d == 0 {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	typ := &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: 1, Shape: shape}}}
	return &pb{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: opset}},
		Graph: &onnxpb.GraphProto{
			Name:   "test",
			Node:   nodes,
			Input:  []*onnxpb.ValueInfoProto{{Name: "x", Type: typ}},
			Output: []*onnxpb.ValueInfoProto{{Name: "y"}},
		},
	}
}

// op returns a node; its name is its first output's, upper-cased.
func op(typ string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: typ, Name: strings.ToUpper(out[0]), Input: in, Output: out, Attribute: attrs}
}

func ins(s ...string) []string { return s }

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: v}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_FLOAT, F: v}
}

func attrString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_STRING, S: []byte(v)}
}

func attrTensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_TENSOR, T: t}
}

// floatTensor is a FLOAT tensor in raw_data.
func floatTensor(name string, dims []int64, v []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims, DataType: 1, RawData: raw}
}

// intTensor is an INT64 tensor in int64_data.
func intTensor(name string, dims []int64, v ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: name, Dims: dims, DataType: 7, Int64Data: v}
}

// with adds initializers to m.
func with(m *pb, ts ...*onnxpb.TensorProto) *pb {
	m.Graph.Initializer = append(m.Graph.Initializer, ts...)
	return m
}

// parse serialises and parses m.
func parse(t *testing.T, m *pb) (*Model, error) {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(b, t.TempDir())
}

// mustParse is parse that fails the test on an error.
func mustParse(t *testing.T, m *pb) *Model {
	t.Helper()
	mod, err := parse(t, m)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// wantError checks that parsing m fails with one line containing want.
func wantError(t *testing.T, m *pb, want string) {
	t.Helper()
	_, err := parse(t, m)
	checkError(t, err, want)
}

func checkError(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("no error, want one containing %q", want)
	case !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n"):
		t.Errorf("error %q: want one line containing %q", err, want)
	}
}

// rnd returns n seeded values in [-1, 1), never zero.
func rnd(n int, seed uint64) []float32 {
	v := graph.NewRand(seed).Uniform(n, 0.05, 1)
	for i := range v {
		if i%2 == 1 {
			v[i] = -v[i]
		}
	}
	return v
}

// run imports m at batch n (after graph.Optimize, as a Model runs it) and
// runs it on the CPU reference.
func run(t *testing.T, m *Model, n int, x []float32) []float32 {
	t.Helper()
	return runOn(t, ref.Executor{}, m, n, x)
}

// runOn is run on the executor ex.
func runOn(t *testing.T, ex graph.Executor, m *Model, n int, x []float32) []float32 {
	t.Helper()
	g, err := m.Graph(Options{Batch: n})
	if err != nil {
		t.Fatal(err)
	}
	graph.Optimize(g)
	p, err := ex.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// closeTo checks got against want to 1e-6 relative to want's largest
// magnitude.
func closeTo(t *testing.T, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	var num, den float64
	for i := range want {
		num = math.Max(num, math.Abs(float64(got[i])-want[i]))
		den = math.Max(den, math.Abs(want[i]))
	}
	if !(num <= 1e-6*den) {
		t.Errorf("max |Δ| %.3g for values up to %.3g: got %v, want %v", num, den, got[:min(8, len(got))], want[:min(8, len(want))])
	}
}

// onlyOp returns the optimised graph's nodes' kinds, in order.
func kinds(t *testing.T, m *Model) []string {
	t.Helper()
	g, err := m.Graph(Options{})
	if err != nil {
		t.Fatal(err)
	}
	graph.Optimize(g)
	var k []string
	for _, n := range g.Nodes {
		k = append(k, n.Op.Kind())
	}
	return k
}
