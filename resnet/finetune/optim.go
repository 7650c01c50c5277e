package finetune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/gpugrad"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// Adam's constants: torch.optim.Adam's defaults.
const (
	beta1, beta2 = 0.9, 0.999
	adamEps      = 1e-8
)

// trainer holds the network being trained and its optimiser's state.
type trainer struct {
	// sd is the whole network's state_dict: the base's entries, with the
	// trained ones copies of them (the head a new one).
	sd    weights.StateDict
	a     resnet.Arch          // the network with its new head
	head  string               // "fc" or "classifier"
	stage bool                 // the last stage is trained too
	m, v  map[string][]float64 // SGD's momentum buffers (m) or Adam's moments, by entry
	t     int                  // steps taken
	opt   Options
	gpu   *gpuexec.Executor // the device the gradients run on; nil: the CPU reference
}

// newTrainer returns the trainer of a new head of a.Classes outputs on
// base's network, initialised as nn.Linear is (weight and bias uniform
// in ±1/sqrt(in), from a generator seeded by opt.Seed), and with
// opt.TrainStage copies of the last stage's entries.
func newTrainer(base *resnet.Model, a resnet.Arch, head string, opt Options) (*trainer, error) {
	t := &trainer{sd: weights.StateDict{}, a: a, head: head, stage: opt.TrainStage, m: map[string][]float64{}, v: map[string][]float64{}, opt: opt}
	last := fmt.Sprintf("layer%d.", len(a.Blocks))
	for k, v := range base.Weights.State {
		if t.stage && strings.HasPrefix(k, last) {
			v = &weights.Tensor{Shape: v.Shape, Data: slices.Clone(v.Data), Int: slices.Clone(v.Int), DType: v.DType}
		}
		t.sd[k] = v
	}
	f, c := a.Features(), a.Classes
	r := rand.New(rand.NewPCG(opt.Seed, 0x4ead))
	bound := 1 / math.Sqrt(float64(f))
	w, b := make([]float32, c*f), make([]float32, c)
	for _, p := range [][]float32{w, b} {
		for i := range p {
			p[i] = float32(bound * (2*r.Float64() - 1))
		}
	}
	t.sd[head+".weight"] = &weights.Tensor{Shape: []int{c, f}, Data: w, DType: "float32"}
	t.sd[head+".bias"] = &weights.Tensor{Shape: []int{c}, Data: b, DType: "float32"}
	return t, nil
}

// graph returns the training graph of a batch of inputs of shape in and
// its trainable parameters: the last stage and the head
// (resnet.LastStageGraph), or the head alone on feature vectors (linear,
// then the mean cross-entropy).
func (t *trainer) graph(in graph.Shape, labels []int) (*graph.Graph, []resnet.Param, error) {
	if t.stage {
		return resnet.LastStageGraph(t.a, t.sd, in, labels)
	}
	var b graph.Builder
	x := b.Input("features", in)
	w, bias := t.sd[t.head+".weight"], t.sd[t.head+".bias"]
	logits := b.Apply(t.head, &graph.Linear{In: w.Shape[1], Out: w.Shape[0], Weight: w.Data, Bias: bias.Data}, x)
	b.Output(b.Apply("loss", graph.SoftmaxCrossEntropy{Labels: labels}, logits))
	g, err := b.Graph()
	return g, []resnet.Param{{Node: 0, Index: 0, Name: t.head + ".weight"}, {Node: 0, Index: 1, Name: t.head + ".bias"}}, err
}

// batch gathers the inputs (of shape one each, in x) and labels of the
// samples idx.
func batch(x []float32, one graph.Shape, idx []int, samples []Sample) ([]float32, graph.Shape, []int) {
	per := one.Numel()
	in := make([]float32, 0, len(idx)*per)
	labels := make([]int, len(idx))
	for k, i := range idx {
		in = append(in, x[i*per:(i+1)*per]...)
		labels[k] = samples[i].Label
	}
	return in, append(graph.Shape{len(idx)}, one...), labels
}

// step takes one optimiser step on the samples idx and returns the
// batch's mean loss before the step.
func (t *trainer) step(x []float32, one graph.Shape, idx []int, samples []Sample) (float64, error) {
	in, shape, labels := batch(x, one, idx, samples)
	g, params, err := t.graph(shape, labels)
	if err != nil {
		return 0, fmt.Errorf("finetune: %w", err)
	}
	loss, grads, err := t.gradients(g, params, in)
	if err != nil {
		return 0, err
	}
	t.t++
	o := t.opt
	for k, p := range params {
		data := t.sd[p.Name].Data
		if t.m[p.Name] == nil {
			t.m[p.Name], t.v[p.Name] = make([]float64, len(data)), make([]float64, len(data))
		}
		m, v := t.m[p.Name], t.v[p.Name]
		for j, gj := range grads[k] {
			d := gj + o.WeightDecay*float64(data[j])
			if o.Adam {
				m[j] = beta1*m[j] + (1-beta1)*d
				v[j] = beta2*v[j] + (1-beta2)*d*d
				mh := m[j] / (1 - math.Pow(beta1, float64(t.t)))
				vh := v[j] / (1 - math.Pow(beta2, float64(t.t)))
				data[j] = float32(float64(data[j]) - o.LR*mh/(math.Sqrt(vh)+adamEps))
				continue
			}
			m[j] = o.Momentum*m[j] + d
			data[j] = float32(float64(data[j]) - o.LR*m[j])
		}
	}
	return loss, nil
}

// gradients returns g's loss on the input in and the gradients of
// params: on the GPU through gpugrad (forward and backward in one
// submission), else through the CPU reference.
func (t *trainer) gradients(g *graph.Graph, params []resnet.Param, in []float32) (float64, [][]float64, error) {
	grads := make([][]float64, len(params))
	if t.gpu != nil {
		r, err := gpugrad.Step(t.gpu.Dev, g, []float32{1}, gpugrad.Options{}, in)
		if err != nil {
			return 0, nil, fmt.Errorf("finetune: %w", err)
		}
		for k, p := range params {
			grads[k] = graph.To64(r.DParams[p.Node][p.Index])
		}
		return float64(r.Output[0]), grads, nil
	}
	tr, err := ref.NewTrainer(g)
	if err != nil {
		return 0, nil, fmt.Errorf("finetune: %w", err)
	}
	r, err := tr.Backward(graph.To64(in))
	if err != nil {
		return 0, nil, fmt.Errorf("finetune: %w", err)
	}
	for k, p := range params {
		grads[k] = r.DParams[p.Node][p.Index]
	}
	return r.Loss, grads, nil
}

// headLogits returns the head's logits on the features x of samples, on
// the CPU reference (a few multiply-adds per image).
func (t *trainer) headLogits(x []float32, one graph.Shape, samples []Sample) ([][]float64, error) {
	idx := make([]int, len(samples))
	for i := range idx {
		idx[i] = i
	}
	in, shape, labels := batch(x, one, idx, samples)
	g, _, err := t.graph(shape, labels)
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	tr, err := ref.NewTrainer(g)
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	vals, err := tr.Forward(graph.To64(in))
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	logits := vals[g.Outputs[0].Producer.Inputs[0].ID]
	c := t.a.Classes
	out := make([][]float64, len(samples))
	for i := range out {
		out[i] = logits[i*c : (i+1)*c]
	}
	return out, nil
}
