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
