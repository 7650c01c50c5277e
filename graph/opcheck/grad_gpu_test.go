package opcheck_test

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/gpugrad"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
)

// Every op's GPU backward pass (graph/gpugrad, one submission) agrees with
// the CPU reference on the gradient cases, from the same forward values.
// The convolution with a Scale is the one case without GPU kernels
// (training graphs keep their batch-norms apart).
func TestGradGPU(t *testing.T) {
	ex := gpugrad.New(gputest.Device(t))
	worst := map[string]float64{}
	for _, c := range opcheck.GradCases() {
		e, err := opcheck.CheckGPU(c, ex, 1)
		if errors.Is(err, opcheck.ErrNoGPUGrad) {
			if conv, ok := c.Op.(*graph.Conv2D); !ok || conv.Scale == nil {
				t.Errorf("%s: no GPU gradient", c)
			}
			continue
		}
		if err != nil || e > opcheck.GradGPUThreshold {
			t.Errorf("%s: GPU backward vs CPU reference: max rel err %.3e (threshold %.0e) %v", c, e, opcheck.GradGPUThreshold, err)
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
