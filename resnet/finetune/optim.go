package finetune

import (
	"fmt"
	"math"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpugrad"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
)

// Adam's constants: torch.optim.Adam's defaults.
const (
	beta1, beta2 = 0.9, 0.999
	adamEps      = 1e-8
)

// step takes one optimiser step on the samples idx (indices into the
// features x, f values each, and into samples for the labels) and
// returns the batch's mean loss before the step.
func (h *head) step(x []float32, idx []int, samples []Sample) (float64, error) {
	in := make([]float32, 0, len(idx)*h.f)
	labels := make([]int, len(idx))
	for k, i := range idx {
		in = append(in, x[i*h.f:(i+1)*h.f]...)
		labels[k] = samples[i].Label
	}
	loss, grads, err := h.gradients(in, labels)
	if err != nil {
		return 0, err
	}
	h.t++
	o := h.opt
	for i, p := range [][]float32{h.w, h.b} {
		m, v, g := h.m[i], h.v[i], grads[i]
		for j := range p {
			d := g[j] + o.WeightDecay*float64(p[j])
			if o.Adam {
				m[j] = beta1*m[j] + (1-beta1)*d
				v[j] = beta2*v[j] + (1-beta2)*d*d
				mh := m[j] / (1 - math.Pow(beta1, float64(h.t)))
				vh := v[j] / (1 - math.Pow(beta2, float64(h.t)))
				p[j] = float32(float64(p[j]) - o.LR*mh/(math.Sqrt(vh)+adamEps))
				continue
			}
			m[j] = o.Momentum*m[j] + d
			p[j] = float32(float64(p[j]) - o.LR*m[j])
		}
	}
	return loss, nil
}

// gradients returns the head's loss on a batch of features and the
// gradients of its weight and bias: on the GPU through gpugrad (forward
// and backward in one submission), else through the CPU reference.
func (h *head) gradients(x []float32, labels []int) (float64, [2][]float64, error) {
	var grads [2][]float64
	g, err := h.graph(len(labels), labels)
	if err != nil {
		return 0, grads, fmt.Errorf("finetune: %w", err)
	}
	if h.dev != nil {
		r, err := gpugrad.Step(h.dev, g, []float32{1}, x)
		if err != nil {
			return 0, grads, fmt.Errorf("finetune: %w", err)
		}
		grads[0], grads[1] = graph.To64(r.DParams[0][0]), graph.To64(r.DParams[0][1])
		return float64(r.Output[0]), grads, nil
	}
	t, err := ref.NewTrainer(g)
	if err != nil {
		return 0, grads, fmt.Errorf("finetune: %w", err)
	}
	r, err := t.Backward(graph.To64(x))
	if err != nil {
		return 0, grads, fmt.Errorf("finetune: %w", err)
	}
	grads[0], grads[1] = r.DParams[0][0], r.DParams[0][1]
	return r.Loss, grads, nil
}

// evaluate returns the head's mean loss and top-1 accuracy on the
// features x of samples, on the CPU reference (a few multiply-adds per
// image).
func (h *head) evaluate(x []float32, samples []Sample) (loss, acc float64, err error) {
	labels := make([]int, len(samples))
	for i, s := range samples {
		labels[i] = s.Label
	}
	g, err := h.graph(len(samples), labels)
	if err != nil {
		return 0, 0, fmt.Errorf("finetune: %w", err)
	}
	t, err := ref.NewTrainer(g)
	if err != nil {
		return 0, 0, fmt.Errorf("finetune: %w", err)
	}
	vals, err := t.Forward(graph.To64(x))
	if err != nil {
		return 0, 0, fmt.Errorf("finetune: %w", err)
	}
	logits := vals[g.Nodes[0].Out.ID]
	right := 0
	for i, s := range samples {
		row := logits[i*h.c : (i+1)*h.c]
		best := 0
		for k, v := range row {
			if v > row[best] {
				best = k
			}
		}
		if best == s.Label {
			right++
		}
	}
	return vals[g.Outputs[0].ID][0], float64(right) / float64(len(samples)), nil
}
