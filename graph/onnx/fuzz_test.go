package onnx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/resnet-gpu/resnet-gpu/graph"
)

// FuzzLoadONNX feeds mutated models to Parse and, when one parses, builds
// and optimises its graph at two batch sizes: nothing may panic, and
// every error is one line. Seeds: the exports in testdata/onnx and small
// models of the shape chain, a Pad and the constant folds.
func FuzzLoadONNX(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/onnx/*.onnx")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, m := range []*pb{
		with(newModel(13, []int64{0, 2, 3, 4}, op("Shape", ins("x"), ins("s")), op("Gather", ins("s", "zero"), ins("b")),
			op("Unsqueeze", ins("b", "axes"), ins("bu")), op("Concat", ins("bu", "minus1"), ins("t"), attrInt("axis", 0)),
			op("Reshape", ins("x", "t"), ins("y"))),
			intTensor("zero", nil, 0), intTensor("axes", []int64{1}, 0), intTensor("minus1", []int64{1}, -1)),
		with(newModel(13, []int64{0, 2, 5, 4}, op("Pad", ins("x", "p"), ins("q")), op("AveragePool", ins("q"), ins("z"), attrInts("kernel_shape", 3, 3)), flatY),
			intTensor("p", []int64{8}, 0, 0, 1, 2, 0, 0, 1, 0)),
		with(newModel(13, []int64{0, 3, 1, 1}, op("Slice", ins("v", "st", "en", "ax", "sp"), ins("s")), op("Transpose", ins("s"), ins("t")),
			op("Flatten", ins("x"), ins("f")), op("MatMul", ins("f", "t"), ins("y"))),
			floatTensor("v", []int64{2, 3}, rnd(6, 1)), intTensor("st", []int64{1}, -1), intTensor("en", []int64{1}, -100),
			intTensor("ax", []int64{1}, 0), intTensor("sp", []int64{1}, -1)),
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data, "")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error of more than one line: %q", err)
			}
			return
		}
		for _, n := range []int{1, 3} {
			g, err := m.Graph(Options{Batch: n, Softmax: true})
			if err != nil {
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error of more than one line: %q", err)
				}
				continue
			}
			graph.Optimize(g)
		}
	})
}
