package opcheck_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/gpugrad"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
)

// gradGPUThreshold is the largest GradErr between the float32 backward
// kernels and the float64 reference: float32 sums of at most a few
// hundred products.
const gradGPUThreshold = 1e-5

// Every op's GPU backward pass (graph/gpugrad, one submission) agrees with
// the CPU reference on the gradient cases, from the same forward values.
// The convolution with a Scale is the one case without GPU kernels
// (training graphs keep their batch-norms apart), and the softmax, which
// no training graph uses, has none either.
func TestGradGPU(t *testing.T) {
	dev := gputest.Device(t)
	worst := map[string]float64{}
	for _, c := range opcheck.GradCases() {
		if _, ok := c.Op.(graph.GPUDifferentiable); !ok {
			if _, soft := c.Op.(graph.Softmax); !soft {
				t.Errorf("%s: no GPU gradient", c)
			}
			continue
		}
		s, err := c.Setup(1)
		if err != nil {
			t.Fatal(err)
		}
		var b graph.Builder
		var ins []*graph.Value
		values := map[int][]float32{}
		for i, sh := range s.Shapes {
			v := b.Input(fmt.Sprint("in", i), sh)
			values[v.ID] = graph.To32(s.X[i])
			ins = append(ins, v)
		}
		y := b.Apply(c.Op.Kind(), s.Op, ins...)
		b.Output(y)
		g, err := b.Graph()
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float64, y.Shape.Numel())
		s.Op.Forward64(s.Shapes, s.X, s.P, out)
		values[y.ID] = graph.To32(out)
		var params [][]float32
		for _, p := range s.P {
			params = append(params, graph.To32(p))
		}
		r, err := gpugrad.Backward(dev, g, values, [][][]float32{params}, graph.To32(s.DOut))
		if err != nil {
			if conv, ok := c.Op.(*graph.Conv2D); ok && conv.Scale != nil && strings.Contains(err.Error(), "no GPU gradient") {
				continue
			}
			t.Errorf("%s: %v", c, err)
			continue
		}
		var got [][]float64
		for _, v := range ins {
			got = append(got, graph.To64(r.DValues[v.ID]))
		}
		for _, d := range r.DParams[0] {
			got = append(got, graph.To64(d))
		}
		e, err := opcheck.GradErr(got, s.Backward())
		if err != nil || e > gradGPUThreshold {
			t.Errorf("%s: GPU backward vs CPU reference: max rel err %.3e (threshold %.0e) %v", c, e, gradGPUThreshold, err)
		}
		worst[c.Op.Kind()] = max(worst[c.Op.Kind()], e)
	}
	for _, k := range slices.Sorted(maps.Keys(worst)) {
		t.Logf("%-16s max rel err GPU vs CPU reference %.2e", k, worst[k])
	}
}

// The training graphs' own forward ops, batch-norm with batch statistics
// and the loss, run on the GPU executor like every other op.
func TestTrainOpsGPU(t *testing.T) {
	ex := gpuexec.New(gputest.Device(t), gpuexec.Options{Guard: guardOpt()})
	for _, c := range []opcheck.Case{
		{Op: &graph.BatchNormTrain{Eps: 1e-5}, In: graph.Shape{3, 4, 5, 5}},
		{Op: &graph.BatchNormTrain{Eps: 1e-5, ReLU: true}, In: graph.Shape{2, 70, 3, 3}},
		{Op: graph.SoftmaxCrossEntropy{}, In: graph.Shape{3, 10}},
		{Op: graph.SoftmaxCrossEntropy{}, In: graph.Shape{2, 1000}},
	} {
		if r := opcheck.Run(c, ex, 1); !r.Pass() {
			t.Errorf("%v", r)
		} else {
			t.Logf("%v", r)
		}
	}
}
