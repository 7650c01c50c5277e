package onnx

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/onnx/onnxpb"
)

// convModel is x [N,2,3,3] → Conv with weights w [4,2,3,3] → Flatten.
func convModel(w *onnxpb.TensorProto) *pb {
	return with(newModel(13, []int64{0, 2, 3, 3}, op("Conv", ins("x", "w"), ins("z")), flatY), w)
}

// externalAt points t's data at location, offset and length.
func externalAt(t *onnxpb.TensorProto, kv ...string) *onnxpb.TensorProto {
	t.RawData = nil
	t.DataLocation = onnxpb.TensorProto_EXTERNAL
	for i := 0; i+1 < len(kv); i += 2 {
		t.ExternalData = append(t.ExternalData, &onnxpb.StringStringEntryProto{Key: kv[i], Value: kv[i+1]})
	}
	return t
}

// Tensors in an external data file give what inline ones give; their
// location, offset and length are checked against the file.
func TestExternalData(t *testing.T) {
	wv := rnd(4*2*9, 30)
	inline := floatTensor("w", []int64{4, 2, 3, 3}, wv)
	dir := t.TempDir()
	data := append(make([]byte, 16), inline.RawData...)
	if err := os.WriteFile(filepath.Join(dir, "model.onnx.data"), append(data, 1, 2, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	x := rnd(2*2*9, 31)
	want := run(t, mustParse(t, convModel(inline)), 2, x)
	ext := convModel(externalAt(floatTensor("w", []int64{4, 2, 3, 3}, nil), "location", "model.onnx.data", "offset", "16", "length", "288"))
	b, err := proto.Marshal(ext)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, m, 2, x); !slices.Equal(got, want) {
		t.Errorf("external weights give %v, inline ones %v", got[:4], want[:4])
	}
	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"location", "../model.onnx.data"}, `location "../model.onnx.data": want a file name inside the model's folder`},
		{[]string{"location", "/etc/passwd"}, "want a file name inside the model's folder"},
		{[]string{"location", "model.onnx.data", "offset", "40"}, "288 bytes at offset 40, the file has 307"},
		{[]string{"location", "model.onnx.data", "offset", "-1"}, "offset -1"},
		{[]string{"location", "model.onnx.data", "length", "100"}, "the tensor needs 288 bytes"},
		{[]string{"location", "model.onnx.data", "offset", "x"}, `external data offset="x"`},
		{[]string{"location", "missing.data"}, "missing.data: no such file"},
		{[]string{"location", "model.onnx.data", "sha", "1"}, "unknown key"},
	} {
		md := convModel(externalAt(floatTensor("w", []int64{4, 2, 3, 3}, nil), c.kv...))
		b, _ := proto.Marshal(md)
		_, err := Parse(b, dir)
		checkError(t, err, c.want)
	}
	_, err = Parse(b, "")
	checkError(t, err, "no folder to read it from")
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Hostile files give one error line, never a panic, and nothing is
// allocated for sizes the file claims but does not hold.
func TestHostile(t *testing.T) {
	relu := func() *pb { return newModel(13, []int64{0, 3, 1, 1}, op("Relu", ins("x"), ins("z")), flatY) }
	lie := func(dims ...int64) *pb {
		return convModel(&onnxpb.TensorProto{Name: "w", Dims: dims, DataType: 1, RawData: make([]byte, 8)})
	}
	cases := []struct {
		name string
		m    *pb
		want string
	}{
		{"huge dims", lie(1<<20, 1<<20, 1, 1), "dimensions [1048576 1048576 1 1]: more than 1073741824 elements"},
		{"size lies", lie(1<<14, 1<<14, 2, 1), "need 2147483648 bytes, raw_data has 8"},
		{"negative dim", lie(4, -2, 3, 3), "dimensions [4 -2 3 3] out of range"},
		{"typed data lies", convModel(&onnxpb.TensorProto{Name: "w", Dims: []int64{4, 2, 3, 3}, DataType: 1, FloatData: []float32{1, 2, 3}}), "need 72 values, the tensor holds 3"},
		{"both data", convModel(&onnxpb.TensorProto{Name: "w", Dims: []int64{1}, DataType: 1, FloatData: []float32{1}, RawData: make([]byte, 4)}), "raw_data and typed data both given"},
		{"strings", convModel(&onnxpb.TensorProto{Name: "w", Dims: []int64{1}, DataType: 8}), "data type STRING is not supported"},
		{"int weights", convModel(intTensor("w", []int64{4, 2, 3, 3}, make([]int64, 72)...)), "want 4 float dimensions"},
		{"segment", convModel(&onnxpb.TensorProto{Name: "w", DataType: 1, Segment: &onnxpb.TensorProto_Segment{}}), "segmented tensors are not supported"},
		{"cycle", newModel(13, []int64{0, 3, 1, 1}, op("Relu", ins("b"), ins("a")), op("Add", ins("x", "a"), ins("b")), op("Flatten", ins("a"), ins("y"))), "depends on its own output (a cycle)"},
		{"missing input", newModel(13, []int64{0, 3, 1, 1}, op("Relu", ins("nope"), ins("z")), flatY), `node "Z" (Relu, opset 13): input "nope" is not defined`},
		{"output twice", newModel(13, []int64{0, 3, 1, 1}, op("Relu", ins("x"), ins("z")), op("Relu", ins("x"), ins("z")), flatY), `output "z" is defined twice`},
		{"output not computed", newModel(13, []int64{0, 3, 1, 1}, op("Relu", ins("x"), ins("z"))), `output "y" is not computed by any node`},
		{"output of 4 dims", newModel(13, []int64{0, 3, 1, 1}, op("Relu", ins("x"), ins("y"))), `output "y" has shape 1x3x1x1, want [batch, classes]`},
		{"output constant", with(newModel(13, []int64{0, 3, 1, 1}, op("Identity", ins("c"), ins("y"))), floatTensor("c", []int64{1, 1}, []float32{1})), `output "y" is not computed from the input`},
		{"classes lie", func() *pb {
			m := relu()
			m.Graph.Output[0].Type = newModel(13, []int64{0, 7}).Graph.Input[0].Type
			return m
		}(), `output "y" is declared with 7 classes, the graph computes 3`},
		{"input dims", newModel(13, []int64{1, 3, 1 << 40, 1}, op("Relu", ins("x"), ins("z")), flatY), "dimension 2 is 1099511627776"},
		{"input rank", newModel(13, []int64{0, 3}, op("Relu", ins("x"), ins("y"))), "has 2 dimensions, want 4 (NCHW)"},
		{"no opset", func() *pb { m := relu(); m.OpsetImport = nil; return m }(), "standard operator set version 0"},
		{"no graph", func() *pb { m := relu(); m.Graph = nil; return m }(), "the model has no graph"},
		{"two inputs", func() *pb { m := relu(); m.Graph.Input = append(m.Graph.Input, m.Graph.Input[0]); return m }(), "2 inputs and 1 outputs"},
		{"huge constant", with(newModel(13, []int64{0, 3, 1, 1}, op("ConstantOfShape", ins("s"), ins("c")), op("Add", ins("x", "c"), ins("z")), flatY),
			intTensor("s", []int64{2}, 1<<30, 1<<30)), "more elements than the model's constants allow"},
		{"huge kernel", convModel(floatTensor("w", []int64{1, 2, 1 << 17, 1}, nil)), "need"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := proto.Marshal(c.m)
			if err != nil {
				t.Fatal(err)
			}
			var perr error
			if n := allocated(func() { _, perr = Parse(b, t.TempDir()) }); n > 16<<20 {
				t.Errorf("allocated %d MB", n>>20)
			}
			checkError(t, perr, c.want)
		})
	}
}

// A cut file is an error at every length; so are bytes that are not a
// model.
func TestTruncated(t *testing.T) {
	b, err := os.ReadFile("../../testdata/onnx/opsnet-op13.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(b); cut += 97 {
		if _, err := Parse(b[:cut], ""); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("cut at %d of %d bytes: error %v, want one line", cut, len(b), err)
		}
	}
	_, err = Parse([]byte("PK\x03\x04 a zip file"), "")
	checkError(t, err, "not an ONNX model")
}

// A long chain of nodes needs no deep recursion.
func TestLongChain(t *testing.T) {
	nodes := []*onnxpb.NodeProto{op("Relu", ins("x"), ins("v0"))}
	const n = 20000
	for i := 1; i < n; i++ {
		nodes = append(nodes, op("Identity", ins(name(i-1)), ins(name(i))))
	}
	nodes = append(nodes, op("Flatten", ins(name(n-1)), ins("y")))
	m := mustParse(t, newModel(13, []int64{0, 3, 1, 1}, nodes...))
	if k := kinds(t, m); len(k) != 2 {
		t.Errorf("ops %v, want relu and flatten", k)
	}
}

func name(i int) string { return "v" + strconv.Itoa(i) }

func TestPreprocessMetadata(t *testing.T) {
	meta := func(m *pb, kv ...string) *pb {
		for i := 0; i+1 < len(kv); i += 2 {
			m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: kv[i], Value: kv[i+1]})
		}
		return m
	}
	relu := func(h int64) *pb { return newModel(13, []int64{0, 3, h, h}, op("Relu", ins("x"), ins("z")), flatY) }
	m := mustParse(t, meta(relu(0), "crop", "160", "resize", "182", "mean", "0.5, 0.5,0.5", "std", "0.25,0.25,0.5"))
	want := Preprocess{Resize: 182, Crop: 160, Normalize: true, Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.25, 0.25, 0.5}}
	if m.Preprocess != want {
		t.Errorf("preprocessing %+v, want %+v", m.Preprocess, want)
	}
	g, err := m.Graph(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := g.Inputs[0].Shape; !s.Equal(graph.Shape{1, 3, 224, 224}) {
		t.Errorf("default input %v, want 224x224 for a dynamic size", s)
	}
	if m := mustParse(t, relu(96)); m.Preprocess.Crop != 96 || m.Preprocess.Resize != 0 {
		t.Errorf("fixed 96x96 input: preprocessing %+v, want crop 96", m.Preprocess)
	}
	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"crop", "0"}, `metadata crop="0": want a size of 1 to 4096 pixels`},
		{[]string{"resize", "big"}, `metadata resize="big"`},
		{[]string{"mean", "0.5,0.5,0.5"}, "want both or neither"},
		{[]string{"mean", "0.5,0.5", "std", "1,1,1"}, `metadata mean="0.5,0.5": want three numbers`},
		{[]string{"mean", "0,0,0", "std", "1,0,1"}, `metadata std="1,0,1": want three numbers`},
	} {
		wantError(t, meta(relu(0), c.kv...), c.want)
	}
	wantError(t, meta(relu(96), "crop", "128"), "metadata crop 128 differs from the input's size 96x96")
}
