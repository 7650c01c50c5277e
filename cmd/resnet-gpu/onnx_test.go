package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/resnet"
)

const tinyONNX = "../../testdata/onnx/densenet-tiny-c3-op13.onnx"

// An ONNX export classifies without an architecture flag: its graph, input
// size and classes come from the file, and the logits are PyTorch's (the
// same network as the fine-tuned .pth) for an image and for its tensor.
func TestClassifyONNX(t *testing.T) {
	b, err := os.ReadFile("../../testdata/onnx/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Inputs []string `json:"inputs"`
		Models map[string]struct {
			Logits [][]float64 `json:"logits"`
		} `json:"models"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	want := ref.Models["densenet-tiny-c3"].Logits
	if len(ref.Inputs) == 0 || ref.Inputs[0] != "chelsea" || len(want) == 0 {
		t.Fatalf("reference.json: inputs %v, %d logit rows; want chelsea first", ref.Inputs, len(want))
	}
	for _, device := range []string{"cpu", "gpu"} {
		t.Run(device, func(t *testing.T) {
			out, e, c := cli(t, nil, "classify", "--device", device, "--weights", tinyONNX, "--json", "--logits", "--top", "3", "--batch", "2",
				"../../testdata/images/chelsea.png", "../../testdata/inputs/chelsea.3x224x224.f32")
			if c != 0 {
				if device == "gpu" && os.Getenv("CI") == "" && strings.Contains(e, "no WebGPU adapter") {
					t.Skip("no GPU adapter")
				}
				t.Fatalf("exit %d: %s", c, e)
			}
			var got struct {
				Arch    string `json:"arch"`
				Classes int    `json:"classes"`
				Results []struct {
					Top []struct {
						Index int `json:"index"`
					} `json:"top"`
					Logits []float32 `json:"logits"`
				} `json:"results"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got.Arch != "densenet-tiny-c3-op13.onnx" || got.Classes != 3 || len(got.Results) != 2 {
				t.Fatalf("arch %q, %d classes, %d results; want the file's name, 3 and 2", got.Arch, got.Classes, len(got.Results))
			}
			for i, r := range got.Results {
				if len(r.Logits) != 3 || len(r.Top) != 3 {
					t.Fatalf("result %d: %d logits, %d top", i, len(r.Logits), len(r.Top))
				}
				if e := resnet.RelErr(r.Logits, want[0]); !(e <= 1e-5) {
					t.Errorf("result %d: logits %v, PyTorch's %v: relative error %.3g > 1e-5", i, r.Logits, want[0], e)
				}
				best := 0
				for k, v := range want[0] {
					if v > want[0][best] {
						best = k
					}
				}
				if r.Top[0].Index != best {
					t.Errorf("result %d: top class %d, PyTorch's %d", i, r.Top[0].Index, best)
				}
			}
		})
	}
}

// summary works on ONNX models; an unsupported operator, or an
// architecture named for an ONNX file, is one error line.
func TestONNXSummaryAndErrors(t *testing.T) {
	out, e, c := cli(t, nil, "summary", "--weights", tinyONNX)
	if c != 0 {
		t.Fatalf("exit %d: %s", c, e)
	}
	for _, s := range []string{"densenet-tiny-c3-op13.onnx with 3 classes", "/features/conv0/Conv", "batchnorm", "concat", "linear", "1x3"} {
		if !strings.Contains(out, s) {
			t.Errorf("summary lacks %q:\n%s", s, out)
		}
	}
	_, e, c = cli(t, nil, "classify", "--device", "cpu", "--weights", "../../testdata/onnx/unsupported-leakyrelu-op13.onnx", "../../testdata/images/chelsea.png")
	oneErrorLine(t, e, c, 1, `node "/LeakyRelu" (LeakyRelu, opset 13): operator LeakyRelu is not supported`)
	_, e, c = cli(t, nil, "classify", "--device", "cpu", "--arch", "resnet18", "--weights", tinyONNX, "../../testdata/images/chelsea.png")
	oneErrorLine(t, e, c, 1, "leave out the architecture")
}
