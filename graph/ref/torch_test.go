package ref_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
)

// torchOps is testdata/ops/torch_ops.json, made by testdata/ops/make_ops.py
// with real PyTorch evaluating each op in float64 on float32 inputs.
const torchOps = "../../testdata/ops/torch_ops.json"

// torchTensor is one array of the JSON: a shape and base64 of little-endian
// float32 (inputs, parameters) or float64 (outputs) values.
type torchTensor struct {
	Shape []int  `json:"shape"`
	F32   string `json:"f32"`
	F64   string `json:"f64"`
}

// torchAttrs is the union of every op's attributes in the JSON.
type torchAttrs struct {
	Stride          []int   `json:"stride"`
	Pad             []int   `json:"pad"` // top, left, bottom, right
	Dilation        []int   `json:"dilation"`
	Groups          int     `json:"groups"`
	Kernel          []int   `json:"kernel"`
	CeilMode        bool    `json:"ceil_mode"`
	CountIncludePad bool    `json:"count_include_pad"`
	ReLU            bool    `json:"relu"`
	Eps             float64 `json:"eps"`
	Axis            int     `json:"axis"`
}

// torchCase is one op, its inputs and parameters, and PyTorch's output.
type torchCase struct {
	Name   string                 `json:"name"`
	Op     string                 `json:"op"`
	Attrs  torchAttrs             `json:"attrs"`
	Inputs []torchTensor          `json:"inputs"`
	Params map[string]torchTensor `json:"params"`
	Output torchTensor            `json:"output"`
}

// loadTorchCases reads and parses the JSON file at path.
func loadTorchCases(path string) (version string, cases []torchCase, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var f struct {
		TorchVersion string      `json:"torch_version"`
		Cases        []torchCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return "", nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(f.Cases) == 0 {
		return "", nil, fmt.Errorf("%s: no cases", path)
	}
	return f.TorchVersion, f.Cases, nil
}

// numel is the number of values of shape, or an error for an empty shape
// or a dimension below 1.
func numel(shape []int) (int, error) {
	if len(shape) == 0 {
		return 0, fmt.Errorf("empty shape")
	}
	n := 1
	for _, d := range shape {
		if d <= 0 {
			return 0, fmt.Errorf("bad shape %v", shape)
		}
		n *= d
	}
	return n, nil
}

// decodeRaw decodes the base64 string s, which must hold exactly as many
// values of size bytes each as shape has.
func decodeRaw(s string, shape []int, size int) ([]byte, int, error) {
	n, err := numel(shape)
	if err != nil {
		return nil, 0, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, 0, fmt.Errorf("base64: %v", err)
	}
	if len(b) != n*size {
		return nil, 0, fmt.Errorf("%d bytes for shape %v, want %d", len(b), shape, n*size)
	}
	return b, n, nil
}

// decodeF32 returns t's float32 values, checked against its shape.
func decodeF32(t torchTensor) ([]float32, error) {
	b, n, err := decodeRaw(t.F32, t.Shape, 4)
	if err != nil {
		return nil, fmt.Errorf("f32: %v", err)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// decodeF64 returns t's float64 values, checked against its shape.
func decodeF64(t torchTensor) ([]float64, error) {
	b, n, err := decodeRaw(t.F64, t.Shape, 8)
	if err != nil {
		return nil, fmt.Errorf("f64: %v", err)
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v, nil
}

// fill copies attribute name, v, into dst, which it must fill exactly.
func fill(name string, v []int, dst []int) error {
	if len(v) != len(dst) {
		return fmt.Errorf("attr %s = %v, want %d values", name, v, len(dst))
	}
	copy(dst, v)
	return nil
}

// torchOp builds the graph op of case c; p holds its decoded parameters.
// Ops with parameters are pointers, the others values, as in package graph.
func torchOp(c torchCase, p map[string][]float32) (graph.Op, error) {
	a := c.Attrs
	if len(c.Inputs) == 0 {
		return nil, fmt.Errorf("no inputs")
	}
	switch c.Op {
	case "conv2d":
		w, ok := c.Params["weight"]
		if !ok || len(w.Shape) != 4 || len(c.Inputs[0].Shape) != 4 {
			return nil, fmt.Errorf("conv2d needs a 4-d weight and input")
		}
		var stride, dil [2]int
		var pad [4]int
		if err := errors.Join(fill("stride", a.Stride, stride[:]),
			fill("dilation", a.Dilation, dil[:]), fill("pad", a.Pad, pad[:])); err != nil {
			return nil, err
		}
		return &graph.Conv2D{Cin: c.Inputs[0].Shape[1], Cout: w.Shape[0],
			KH: w.Shape[2], KW: w.Shape[3], Stride: stride, Pad: pad,
			Dilation: dil, Groups: a.Groups, Weight: p["weight"],
			Bias: p["bias"]}, nil
	case "maxpool", "avgpool":
		var k, stride [2]int
		var pad [4]int
		if err := errors.Join(fill("kernel", a.Kernel, k[:]),
			fill("stride", a.Stride, stride[:]), fill("pad", a.Pad, pad[:])); err != nil {
			return nil, err
		}
		return graph.Pool{Max: c.Op == "maxpool", KH: k[0], KW: k[1],
			Stride: stride, Pad: pad, CeilMode: a.CeilMode,
			CountIncludePad: a.CountIncludePad}, nil
	case "global_avgpool":
		return graph.GlobalAvgPool{}, nil
	case "linear":
		w := c.Params["weight"]
		if len(w.Shape) != 2 {
			return nil, fmt.Errorf("linear needs a 2-d weight")
		}
		return &graph.Linear{In: w.Shape[1], Out: w.Shape[0],
			Weight: p["weight"], Bias: p["bias"]}, nil
	case "softmax":
		if a.Axis != -1 && a.Axis != len(c.Inputs[0].Shape)-1 {
			return nil, fmt.Errorf("softmax over axis %d, not the last", a.Axis)
		}
		return graph.Softmax{}, nil
	case "relu":
		return graph.ReLU{}, nil
	case "add":
		return graph.Add{ReLU: a.ReLU}, nil
	case "batchnorm":
		return &graph.BatchNorm{Gamma: p["gamma"], Beta: p["beta"],
			Mean: p["mean"], Var: p["var"], Eps: a.Eps}, nil
	case "flatten":
		return graph.Flatten{Axis: a.Axis}, nil
	case "concat":
		return graph.Concat{Axis: a.Axis, N: len(c.Inputs)}, nil
	}
	return nil, fmt.Errorf("unknown op %q", c.Op)
}

// TestTorchOps runs every case of torch_ops.json through ref.Apply and
// compares with PyTorch's float64 output: equal shapes and
// max|got-want| / max|want| <= 1e-6.
func TestTorchOps(t *testing.T) {
	version, cases, err := loadTorchCases(torchOps)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d cases from torch %s", len(cases), version)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			var err error
			shapes := make([]graph.Shape, len(c.Inputs))
			data := make([][]float32, len(c.Inputs))
			for i, in := range c.Inputs {
				if data[i], err = decodeF32(in); err != nil {
					t.Fatalf("input %d: %v", i, err)
				}
				shapes[i] = graph.Shape(in.Shape)
			}
			params := map[string][]float32{}
			for name, v := range c.Params {
				if params[name], err = decodeF32(v); err != nil {
					t.Fatalf("param %s: %v", name, err)
				}
			}
			want, err := decodeF64(c.Output)
			if err != nil {
				t.Fatalf("output: %v", err)
			}
			op, err := torchOp(c, params)
			if err != nil {
				t.Fatal(err)
			}
			got, shape, err := ref.Apply(op, shapes, data)
			if err != nil {
				t.Fatalf("Apply(%s): %v", op.Describe(), err)
			}
			if !slices.Equal([]int(shape), c.Output.Shape) || len(got) != len(want) {
				t.Fatalf("shape %v (%d values), torch %v", shape, len(got), c.Output.Shape)
			}
			var maxErr, maxRef float64
			worst := 0
			for i, w := range want {
				if d := math.Abs(float64(got[i]) - w); d > maxErr {
					maxErr, worst = d, i
				}
				maxRef = math.Max(maxRef, math.Abs(w))
			}
			if maxRef == 0 {
				maxRef = 1
			}
			if rel := maxErr / maxRef; rel > 1e-6 {
				t.Errorf("max|Δ|/max|ref| = %.3g > 1e-6 (at %d: got %g, torch %g)",
					rel, worst, got[worst], want[worst])
			}
		})
	}
}
