package opcheck_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
)

// torchCase is one case of testdata/grad/ops.json (make_grads.py).
type torchCase struct {
	Name string `json:"name"`
	Op   struct {
		Kind                  string `json:"kind"`
		Cin, Cout, K, Stride  int
		Pad, Dilation, Groups int
		Bias, ReLU, Residual  bool
		Ceil                  bool `json:"ceil"`
		CountIncludePad       bool `json:"count_include_pad"`
		In                    int  `json:"in"`
		Out                   int  `json:"out"`
		Eps                   float64
		Labels                []int `json:"labels"`
	} `json:"op"`
	Shapes [][]int              `json:"shapes"`
	Inputs [][]float64          `json:"inputs"`
	Params [][]float64          `json:"params"`
	Consts map[string][]float64 `json:"consts"`
	DOut   []float64            `json:"dout"`
	Grads  [][]float64          `json:"grads"`
}

// op builds the case's op with PyTorch's values for its trainable
// parameters (as float32, which the op's Trainable reports only for their
// lengths: the check passes the float64 values to Backward64).
func (c torchCase) op() (graph.Differentiable, error) {
	o := c.Op
	p32 := func(i int) []float32 { return graph.To32(c.Params[i]) }
	switch o.Kind {
	case "conv2d":
		cv := graph.Conv(o.Cin, o.Cout, o.K, o.Stride, o.Pad)
		cv.Dilation, cv.Groups, cv.ReLU, cv.Residual = [2]int{o.Dilation, o.Dilation}, o.Groups, o.ReLU, o.Residual
		cv.Weight = p32(0)
		if o.Bias {
			cv.Bias = p32(1)
		}
		return cv, nil
	case "batchnorm_train":
		return &graph.BatchNormTrain{Gamma: p32(0), Beta: p32(1), Eps: o.Eps, ReLU: o.ReLU}, nil
	case "batchnorm":
		return &graph.BatchNorm{Gamma: p32(0), Beta: p32(1), Mean: graph.To32(c.Consts["mean"]), Var: graph.To32(c.Consts["var"]), Eps: o.Eps, ReLU: o.ReLU}, nil
	case "relu":
		return graph.ReLU{}, nil
	case "add":
		return graph.Add{ReLU: o.ReLU}, nil
	case "maxpool":
		return graph.MaxPool(o.K, o.Stride, o.Pad), nil
	case "avgpool":
		p := o.Pad
		return graph.Pool{KH: o.K, KW: o.K, Stride: [2]int{o.Stride, o.Stride}, Pad: [4]int{p, p, p, p}, CeilMode: o.Ceil, CountIncludePad: o.CountIncludePad}, nil
	case "global_avgpool":
		return graph.GlobalAvgPool{}, nil
	case "flatten":
		return graph.Flatten{Axis: 1}, nil
	case "linear":
		return &graph.Linear{In: o.In, Out: o.Out, Weight: p32(0), Bias: p32(1)}, nil
	case "softmax":
		return graph.Softmax{}, nil
	case "cross_entropy":
		return graph.SoftmaxCrossEntropy{Labels: o.Labels}, nil
	}
	return nil, fmt.Errorf("unknown op %q", o.Kind)
}

// gradTorchThreshold is the largest GradErr between our float64 backward
// pass and PyTorch's float64 autograd: both round differently, nothing
// more.
const gradTorchThreshold = 1e-10

// Every op's backward pass agrees with PyTorch autograd on PyTorch's
// values (testdata/grad/ops.json, written by make_grads.py). The batch-norm
// in eval mode reads its statistics from the op as float32, so the
// golden's are float32-exact (make_grads.py draws them that way).
func TestGradTorch(t *testing.T) {
	b, err := os.ReadFile("../../testdata/grad/ops.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Torch string      `json:"torch"`
		Cases []torchCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) == 0 {
		t.Fatal("no cases")
	}
	worst := map[string]float64{}
	for _, c := range file.Cases {
		op, err := c.op()
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		s := opcheck.GradSetup{Op: op, X: c.Inputs, P: c.Params, DOut: c.DOut}
		for _, sh := range c.Shapes {
			s.Shapes = append(s.Shapes, graph.Shape(sh))
		}
		if _, err := op.OutShape(s.Shapes); err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		e, err := opcheck.GradErr(s.Backward(), c.Grads)
		if err != nil || e > gradTorchThreshold {
			t.Errorf("%s (%s): against PyTorch %s: max rel err %.3e (threshold %.0e) %v", c.Name, graph.Name(op, s.Shapes[0]), file.Torch, e, gradTorchThreshold, err)
		}
		worst[op.Kind()] = max(worst[op.Kind()], e)
	}
	for _, k := range slices.Sorted(maps.Keys(worst)) {
		e := worst[k]
		t.Logf("%-16s max rel err vs PyTorch autograd %.2e", k, e)
	}
}
