package gpugrad_test

import (
	"math"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpugrad"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
)

// fanOut is a loss over a value read several times: by one node twice
// (Add(a, a)) and by two nodes (x by the ReLU and the second Add), so that
// the executor must add gradients up.
func fanOut(t *testing.T) (*graph.Graph, *graph.Value, []float32) {
	r := graph.NewRand(5)
	var b graph.Builder
	x := b.Input("x", graph.Shape{2, 6})
	a := b.Apply("relu", graph.ReLU{}, x)
	s := b.Apply("double", graph.Add{}, a, a)
	c := b.Apply("skip", graph.Add{}, s, x)
	d := b.Apply("fc", &graph.Linear{In: 6, Out: 3, Weight: r.Uniform(18, -1, 1), Bias: r.Uniform(3, -1, 1)}, c)
	b.Output(b.Apply("loss", graph.SoftmaxCrossEntropy{Labels: []int{2, 0}}, d))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	return g, x, r.Uniform(12, -1, 1)
}

// Step and Backward agree with the CPU reference where gradients add up.
func TestFanOut(t *testing.T) {
	dev := gputest.Device(t)
	g, x, in := fanOut(t)
	tr, err := ref.NewTrainer(g)
	if err != nil {
		t.Fatal(err)
	}
	want, err := tr.Backward(graph.To64(in))
	if err != nil {
		t.Fatal(err)
	}
	vals := map[int][]float32{}
	for id, v := range want.Values {
		vals[id] = graph.To32(v)
	}
	opt := gpugrad.Options{DValues: []int{x.ID}}
	step, err := gpugrad.Step(dev, g, []float32{1}, opt, in)
	if err != nil {
		t.Fatal(err)
	}
	back, err := gpugrad.Backward(dev, g, vals, nil, []float32{1}, opt)
	if err != nil {
		t.Fatal(err)
	}
	// Without x's gradient the step skips what computes only it; the
	// parameters' gradients stay what they are.
	bare, err := gpugrad.Step(dev, g, []float32{1}, gpugrad.Options{}, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(bare.DValues) != 0 || !sameBits(bare.DParams[3][0], step.DParams[3][0]) || !sameBits(bare.DParams[3][1], step.DParams[3][1]) {
		t.Errorf("without x's gradient: %d value gradients, dW %v, db %v; with it dW %v, db %v",
			len(bare.DValues), bare.DParams[3][0], bare.DParams[3][1], step.DParams[3][0], step.DParams[3][1])
	}
	if math.Abs(float64(step.Output[0])-want.Loss) > 1e-6 {
		t.Errorf("loss %v, CPU %v", step.Output[0], want.Loss)
	}
	for name, r := range map[string]*gpugrad.Result{"step": step, "backward": back} {
		check := func(what string, got []float32, w []float64) {
			for i := range w {
				if math.Abs(float64(got[i])-w[i]) > 1e-5*(1+math.Abs(w[i])) {
					t.Errorf("%s: %s[%d] = %v, CPU %v", name, what, i, got[i], w[i])
				}
			}
		}
		check("dx", r.DValues[x.ID], want.DValues[x.ID])
		check("dW", r.DParams[3][0], want.DParams[3][0])
		check("db", r.DParams[3][1], want.DParams[3][1])
		if len(r.DValues) != 1 {
			t.Errorf("%s: %d value gradients read back, asked for 1", name, len(r.DValues))
		}
	}
}

// Bad arguments are errors, not panics.
func TestBackwardErrors(t *testing.T) {
	dev := gputest.Device(t)
	g, _, in := fanOut(t)
	var none gpugrad.Options
	if _, err := gpugrad.Step(dev, g, []float32{1, 2}, none, in); err == nil || !strings.Contains(err.Error(), "output gradient") {
		t.Errorf("a two-element loss gradient: %v", err)
	}
	if _, err := gpugrad.Step(dev, g, []float32{1}, none); err == nil {
		t.Error("no inputs: no error")
	}
	if _, err := gpugrad.Step(dev, g, []float32{1}, none, in[:5]); err == nil {
		t.Error("a short input: no error")
	}
	if _, err := gpugrad.Step(dev, g, []float32{1}, gpugrad.Options{DValues: []int{99}}, in); err == nil || !strings.Contains(err.Error(), "no such value") {
		t.Errorf("the gradient of a value the graph lacks: %v", err)
	}
	if _, err := gpugrad.Backward(dev, g, map[int][]float32{}, nil, []float32{1}, none); err == nil {
		t.Error("no forward values: no error")
	}
	if _, err := gpugrad.Backward(dev, g, nil, make([][][]float32, 2), []float32{1}, none); err == nil {
		t.Error("parameters for 2 of 5 nodes: no error")
	}
	var b graph.Builder
	b.Output(b.Apply("relu", undeclared{}, b.Input("x", graph.Shape{1, 4})))
	ug, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gpugrad.Step(dev, ug, make([]float32, 4), none, make([]float32, 4)); err == nil || !strings.Contains(err.Error(), "GradNeeds does not name") {
		t.Errorf("a backward binding a value its op does not name: %v", err)
	}
}

// undeclared is a ReLU whose GradNeeds leaves out the output its
// backward reads.
type undeclared struct{ graph.ReLU }

func (undeclared) GradNeeds() graph.GradNeeds { return graph.GradNeeds{} }

// The softmax's gradient, alone in a graph so that the output gradient
// is the caller's, agrees with the CPU reference's
// dx = y ⊙ (dy − Σ dy⊙y) on rows longer than a workgroup.
func TestSoftmax(t *testing.T) {
	dev := gputest.Device(t)
	r := graph.NewRand(9)
	shape := graph.Shape{2, 3, 70}
	var b graph.Builder
	x := b.Input("x", shape)
	b.Output(b.Apply("softmax", graph.Softmax{}, x))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	in, dout := r.Uniform(shape.Numel(), -4, 4), r.Uniform(shape.Numel(), -1, 1)
	got, err := gpugrad.Step(dev, g, dout, gpugrad.Options{DValues: []int{x.ID}}, in)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float64, shape.Numel())
	graph.Softmax{}.Forward64([]graph.Shape{shape}, [][]float64{graph.To64(in)}, nil, y)
	want, _ := graph.Softmax{}.Backward64([]graph.Shape{shape}, [][]float64{graph.To64(in)}, nil, y, graph.To64(dout))
	if e, err := opcheck.GradErr([][]float64{graph.To64(got.DValues[x.ID])}, want); err != nil || e > opcheck.GradGPUThreshold {
		t.Errorf("softmax gradient: max rel err %.3e against the CPU reference (threshold %.0e) %v", e, opcheck.GradGPUThreshold, err)
	}
	for i, v := range got.Output {
		if math.Abs(float64(v)-y[i]) > 1e-6 {
			t.Fatalf("softmax output %d = %v, CPU %v", i, v, y[i])
		}
	}
}
