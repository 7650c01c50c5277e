package resnet

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/resnet-gpu/resnet-gpu/graph/onnx/onnxpb"
)

// An ONNX model with a NaN or infinite weight is refused at load, naming
// the initializer and the element, as a .pth's tensor is.
func TestONNXNonFiniteInitializer(t *testing.T) {
	data, err := os.ReadFile("../testdata/onnx/densenet-tiny-c3-op13.onnx")
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		var name string
		for _, init := range m.Graph.Initializer {
			if init.DataType == int32(onnxpb.TensorProto_FLOAT) && len(init.RawData) >= 12 {
				name = init.Name
				binary.LittleEndian.PutUint32(init.RawData[8:], math.Float32bits(bad))
				break
			}
		}
		if name == "" {
			t.Fatal("no float initializer with raw data in the model")
		}
		out, err := proto.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "bad.onnx")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = LoadWeights(context.Background(), "", path, WeightsOptions{})
		want := "initializer " + name + " holds " + formatFloat(bad) + " at element 2"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: got %v, want an error containing %q", bad, err, want)
		}
	}
}

func formatFloat(v float32) string {
	switch {
	case math.IsNaN(float64(v)):
		return "NaN"
	case v > 0:
		return "+Inf"
	}
	return "-Inf"
}

// A folder with one weights file loads that file (KServe's storage
// initializer puts a model under /mnt/models); none or several is an
// error that says so.
func TestWeightsFolder(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadWeights(context.Background(), "", dir, WeightsOptions{})
	if err == nil || !strings.Contains(err.Error(), "holds no weights file") {
		t.Fatalf("empty folder: %v", err)
	}
	data, err := os.ReadFile("../testdata/onnx/densenet-tiny-c3-op13.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"model.onnx", "README.md"} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w, err := LoadWeights(context.Background(), "", dir, WeightsOptions{})
	if err != nil {
		t.Fatalf("one model in the folder: %v", err)
	}
	if w.Name != filepath.Join(dir, "model.onnx") || w.Arch.Classes != 3 {
		t.Fatalf("one model in the folder: loaded %s with %d classes", w.Name, w.Arch.Classes)
	}
	if err := os.WriteFile(filepath.Join(dir, "other.pth"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadWeights(context.Background(), "", dir, WeightsOptions{})
	if err == nil || !strings.Contains(err.Error(), "holds 2 weights files (model.onnx, other.pth)") {
		t.Fatalf("two files: %v", err)
	}
}
