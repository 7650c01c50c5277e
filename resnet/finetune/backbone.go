package finetune

import (
	"context"
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// backbone is the frozen part of the network on the inference engine.
type backbone struct {
	// run returns the outputs of a batch of preprocessed images,
	// concatenated; shape is one image's.
	run   func(in [][]float32) ([]float32, error)
	shape graph.Shape
	close func()
}

// headBackbone returns base's network up to the classifier: base's
// network with an identity head in place of its classifier, whose
// "logits" are the pooled features the classifier reads, exactly (every
// output is one feature times 1 plus zeros). It runs on base's executor
// with base's preprocessing.
func headBackbone(ctx context.Context, base *resnet.Model, head string) (*backbone, error) {
	w := *base.Weights
	f := w.Arch.Features()
	w.Arch = w.Arch.WithClasses(f)
	w.Labels, w.WNIDs = nil, nil
	w.State = make(weights.StateDict, len(base.Weights.State))
	for k, v := range base.Weights.State {
		w.State[k] = v
	}
	id := make([]float32, f*f)
	for i := range f {
		id[i*f+i] = 1
	}
	w.State[head+".weight"] = &weights.Tensor{Shape: []int{f, f}, Data: id, DType: "float32"}
	w.State[head+".bias"] = &weights.Tensor{Shape: []int{f}, Data: make([]float32, f), DType: "float32"}
	t := base.Transform
	m, err := resnet.Load(ctx, "", "", resnet.Options{Weights: &w, Exec: base.Exec, Transform: &t})
	if err != nil {
		return nil, err
	}
	run := func(in [][]float32) ([]float32, error) {
		f, _, err := m.Forward(in)
		var out []float32
		for _, v := range f {
			out = append(out, v...)
		}
		return out, err
	}
	return &backbone{run: run, shape: graph.Shape{f}, close: m.Close}, nil
}

// stageBackbone returns base's ResNet up to its last stage: the
// inference graph built with its stages as outputs, optimised and
// compiled on base's executor for each batch size, of which the
// next-to-last stage's output is read.
func stageBackbone(base *resnet.Model) *backbone {
	progs := map[int]graph.Program{}
	c := base.Transform.Crop
	out := len(base.Arch.Blocks) - 1 // outputs: the stem, layer1, layer2, …
	b := &backbone{}
	b.run = func(in [][]float32) ([]float32, error) {
		p, ok := progs[len(in)]
		if !ok {
			g, err := base.Weights.Build(resnet.BuildOptions{Batch: len(in), Height: c, Width: c, WithStages: true})
			if err != nil {
				return nil, err
			}
			graph.Optimize(g)
			if p, err = base.Exec.Compile(g); err != nil {
				return nil, err
			}
			progs[len(in)], b.shape = p, g.Outputs[out].Shape[1:]
		}
		var flat []float32
		for _, x := range in {
			flat = append(flat, x...)
		}
		res, err := p.Run(flat)
		if err != nil {
			return nil, err
		}
		return res[out], nil
	}
	b.close = func() {
		for _, p := range progs {
			p.Close()
		}
	}
	return b
}

// features runs the backbone on every sample's input (as input returns
// it for the sample and its index) in batches of up to 16 and returns the
// outputs, concatenated in sample order.
func (b *backbone) features(samples []Sample, input func(Sample, int) ([]float32, error), progress func(done int)) ([]float32, error) {
	const batch = 16
	var out []float32
	for lo := 0; lo < len(samples); lo += batch {
		var in [][]float32
		for i := lo; i < min(lo+batch, len(samples)); i++ {
			x, err := input(samples[i], i)
			if err != nil {
				return nil, fmt.Errorf("finetune: %s: %w", samples[i].Path, err)
			}
			in = append(in, x)
		}
		f, err := b.run(in)
		if err != nil {
			return nil, fmt.Errorf("finetune: %w", err)
		}
		if i := weights.NonFinite(f); i >= 0 {
			return nil, fmt.Errorf("finetune: %s: the backbone's output %d is %v", samples[lo+i/(len(f)/len(in))].Path, i%(len(f)/len(in)), f[i])
		}
		out = append(out, f...)
		if progress != nil {
			progress(lo + len(in))
		}
	}
	return out, nil
}

// networkLogits runs the whole network, the base's with state sd and a
// head of a.Classes outputs, on samples' evaluation inputs, as classify
// would.
func networkLogits(ctx context.Context, base *resnet.Model, a resnet.Arch, sd weights.StateDict, samples []Sample) ([][]float64, error) {
	w := &resnet.Weights{Name: "fine-tuned", Arch: a, State: sd, Transform: base.Transform}
	t := base.Transform
	m, err := resnet.Load(ctx, "", "", resnet.Options{Weights: w, Exec: base.Exec, Transform: &t})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	var out [][]float64
	for lo := 0; lo < len(samples); lo += 16 {
		var in [][]float32
		for _, s := range samples[lo:min(lo+16, len(samples))] {
			x, err := m.Preprocess(s.Image)
			if err != nil {
				return nil, fmt.Errorf("finetune: %s: %w", s.Path, err)
			}
			in = append(in, x)
		}
		logits, _, err := m.Forward(in)
		if err != nil {
			return nil, fmt.Errorf("finetune: %w", err)
		}
		for _, l := range logits {
			out = append(out, graph.To64(l))
		}
	}
	return out, nil
}
