package finetune

import (
	"context"
	"fmt"
	"image"

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

// passBatch is the images of one run of the backbone or the network.
const passBatch = 16

// features runs the backbone on every sample's input, as input makes it
// from the sample's decoded image and index, in batches of passBatch that
// imgs reads (keeping the images in its cache with keep), and returns the
// outputs, concatenated in sample order.
func (b *backbone) features(imgs *images, samples []Sample, keep bool, input func(image.Image, int) ([]float32, error), progress func(done int)) ([]float32, error) {
	var out []float32
	err := imgs.batches(samples, passBatch, keep, input, func(lo int, in [][]float32) error {
		f, err := b.run(in)
		if err != nil {
			return fmt.Errorf("finetune: %w", err)
		}
		if i := weights.NonFinite(f); i >= 0 {
			return fmt.Errorf("finetune: %s: the backbone's output %d is %v", samples[lo+i/(len(f)/len(in))].Path, i%(len(f)/len(in)), f[i])
		}
		out = append(out, f...)
		if progress != nil {
			progress(lo + len(in))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// networkLogits runs the whole network, the base's with state sd and a
// head of a.Classes outputs, on samples' evaluation inputs, as classify
// would, the images read by imgs and kept in its cache.
func networkLogits(ctx context.Context, base *resnet.Model, a resnet.Arch, sd weights.StateDict, imgs *images, samples []Sample) ([][]float64, error) {
	w := &resnet.Weights{Name: "fine-tuned", Arch: a, State: sd, Transform: base.Transform}
	t := base.Transform
	m, err := resnet.Load(ctx, "", "", resnet.Options{Weights: w, Exec: base.Exec, Transform: &t})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	var out [][]float64
	preprocess := func(img image.Image, _ int) ([]float32, error) { return m.Preprocess(img) }
	err = imgs.batches(samples, passBatch, true, preprocess, func(_ int, in [][]float32) error {
		logits, _, err := m.Forward(in)
		if err != nil {
			return fmt.Errorf("finetune: %w", err)
		}
		for _, l := range logits {
			out = append(out, graph.To64(l))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
