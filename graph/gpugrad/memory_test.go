package gpugrad_test

import (
	"math"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpugrad"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// paramBytes is the memory of g's trainable parameters, one buffer each.
func paramBytes(g *graph.Graph) uint64 {
	var n uint64
	for _, nd := range g.Nodes {
		_, ps := nd.Op.(graph.Differentiable).Trainable()
		for _, p := range ps {
			n += shaders.CopyBytes(max(len(p), 1))
		}
	}
	return n
}

// allValuesBytes is the least memory a pass takes that keeps every
// value's forward result and gradient for the whole pass, as the executor
// did before it reused dead buffers: two buffers a value and two a
// trainable parameter (it and its gradient).
func allValuesBytes(g *graph.Graph) uint64 {
	var n uint64
	add := func(k int) { n += 2 * shaders.CopyBytes(max(k, 1)) }
	for _, v := range g.Inputs {
		add(v.Shape.Numel())
	}
	for _, nd := range g.Nodes {
		add(nd.Out.Shape.Numel())
		_, ps := nd.Op.(graph.Differentiable).Trainable()
		for _, p := range ps {
			add(len(p))
		}
	}
	return n
}

// sameBits reports whether a and b hold the same float32 bit patterns.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// A training step of ResNet-18 (32², batch 2) that reuses dead buffers
// takes less memory than keeping every value, and computes bit for bit
// what a step with a buffer for everything computes; StepBytes predicts
// its memory without running it.
func TestReuse(t *testing.T) {
	dev := gputest.Device(t)
	net, err := resnet.TrainGraph("resnet18", resnet.TrainOptions{Batch: 2, Height: 32, Width: 32, Labels: []int{3, 7}, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	g := net.Graph
	in := graph.NewRand(8).Uniform(2*3*32*32, -1, 1)
	var opt gpugrad.Options
	for _, k := range net.Layers {
		opt.DValues = append(opt.DValues, g.Nodes[k].Out.ID)
	}
	got, err := gpugrad.Step(dev, g, []float32{1}, opt, in)
	if err != nil {
		t.Fatal(err)
	}
	all := opt
	all.NoReuse = true
	want, err := gpugrad.Step(dev, g, []float32{1}, all, in)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(got.Output, want.Output) {
		t.Errorf("loss %v, without reuse %v", got.Output, want.Output)
	}
	for k, ps := range want.DParams {
		for i, p := range ps {
			if !sameBits(got.DParams[k][i], p) {
				t.Errorf("%s: parameter %d's gradient differs from the one without reuse", g.Nodes[k].Name, i)
			}
		}
	}
	for _, id := range opt.DValues {
		if !sameBits(got.DValues[id], want.DValues[id]) {
			t.Errorf("value %d's gradient differs from the one without reuse", id)
		}
	}
	floor := allValuesBytes(g)
	if got.Bytes >= floor || want.Bytes < floor {
		t.Errorf("%d bytes with reuse, %d without; keeping every value takes at least %d", got.Bytes, want.Bytes, floor)
	}
	if n, err := gpugrad.StepBytes(dev, g, opt); err != nil || n != got.Bytes {
		t.Errorf("StepBytes = %d, %v; the step took %d", n, err, got.Bytes)
	}
	t.Logf("resnet18 32² batch 2: %d bytes a step with reuse, %d without (every value kept: at least %d); the parameters take %d", got.Bytes, want.Bytes, floor, paramBytes(g))
}

// The fine-tuning of ResNet-18's last stage and head (resnet-gpu finetune
// --train-stage: a batch of 24 of layer3's outputs at 224²) takes less
// memory than keeping every value.
func TestReuseLastStage(t *testing.T) {
	dev := gputest.Device(t)
	a, err := resnet.Lookup("resnet18")
	if err != nil {
		t.Fatal(err)
	}
	a.Classes = 3
	labels := make([]int, 24)
	for i := range labels {
		labels[i] = i % 3
	}
	g, _, err := resnet.LastStageGraph(a, weights.Synthetic(a.Specs(), 0), graph.Shape{24, 256, 14, 14}, labels)
	if err != nil {
		t.Fatal(err)
	}
	reuse, err := gpugrad.StepBytes(dev, g, gpugrad.Options{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := gpugrad.StepBytes(dev, g, gpugrad.Options{NoReuse: true})
	if err != nil {
		t.Fatal(err)
	}
	if floor := allValuesBytes(g); reuse >= floor || all < floor {
		t.Errorf("%d bytes with reuse, %d without; keeping every value takes at least %d", reuse, all, floor)
	}
	t.Logf("resnet18 last stage, batch 24 at 224²: %d bytes a step with reuse, %d without; the parameters take %d", reuse, all, paramBytes(g))
}
