package finetune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// Options tune Run.
type Options struct {
	Epochs int // passes over the training images
	Batch  int // images per optimiser step (and per backbone run)
	// LR, Momentum and WeightDecay are the optimiser's: torch.optim.SGD's
	// lr, momentum (0 for plain SGD) and weight_decay, or with Adam
	// torch.optim.Adam's lr and weight_decay (betas 0.9, 0.999; eps 1e-8).
	LR, Momentum, WeightDecay float64
	Adam                      bool
	// Val is the fraction of each class held out for validation (0: none).
	Val float64
	// Seed seeds the split, the head's initialisation, the augmentation
	// and the order of the training images.
	Seed uint64
	// Progress, if set, is called as the images of an epoch go through the
	// backbone, with the images done and the epoch's total.
	Progress func(epoch, done, total int)
	// Epoch, if set, is called at the end of every epoch.
	Epoch func(Epoch)
}

// Epoch is the outcome of one epoch.
type Epoch struct {
	N         int     // from 1
	TrainLoss float64 // the mean over the epoch's steps of their mean loss, by image
	ValLoss   float64 // the head's mean loss on the validation images after the epoch
	ValAcc    float64 // … and the fraction it classifies right (top 1)
	Val       int     // the validation images (0: ValLoss and ValAcc are NaN)
	Time      time.Duration
}

// Result is a fine-tuned network.
type Result struct {
	Arch    resnet.Arch       // the base's with a head of len(Classes)
	State   weights.StateDict // the base's with the new head
	Names   []string          // State's entries in torchvision's order
	Classes []string
	Epochs  []Epoch
	Train   []Sample
	Val     []Sample
	Device  string // where the head's gradients ran
}

// Run fine-tunes base's network on d: a new head of len(d.Classes)
// outputs on base's frozen backbone. The backbone runs on base's
// executor; the head's backward pass on base's GPU if it has one, else on
// the CPU reference.
func Run(ctx context.Context, base *resnet.Model, d *Dataset, opt Options) (*Result, error) {
	if err := opt.Check(); err != nil {
		return nil, err
	}
	w := base.Weights
	if w == nil || w.Graph != nil || w.Preprocess != nil || w.State == nil {
		return nil, errors.New("finetune: the base must be a torchvision state_dict (a .pth, pretrained or synthetic weights), not an imported ONNX or Keras network")
	}
	train, val, err := d.Split(opt.Val, opt.Seed)
	if err != nil {
		return nil, err
	}
	a, head := w.Arch, "fc"
	if a.Family == resnet.FamilyDenseNet {
		head = "classifier"
	}
	feats, err := featureModel(ctx, base, head)
	if err != nil {
		return nil, err
	}
	defer feats.Close()
	h := newHead(a.Features(), len(d.Classes), opt)
	res := &Result{Arch: a.WithClasses(len(d.Classes)), Classes: d.Classes, Train: train, Val: val, Device: "cpu reference"}
	if ex := base.GPU(); ex != nil {
		h.dev = ex.Dev
		res.Device = ex.Name()
	}
	valX, err := features(feats, val, func(s Sample, _ int) ([]float32, error) { return feats.Preprocess(s.Image) }, nil)
	if err != nil {
		return nil, err
	}
	aug := imagenet.TrainAugment(base.Transform)
	for e := 1; e <= opt.Epochs; e++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := time.Now()
		// Each image's augmentation draws from its own generator, so that
		// it depends on the seed, the epoch and the image alone.
		x, err := features(feats, train, func(s Sample, i int) ([]float32, error) {
			return aug.Apply(s.Image, rand.New(rand.NewPCG(opt.Seed, uint64(e)<<32|uint64(i)))), nil
		}, func(done int) {
			if opt.Progress != nil {
				opt.Progress(e, done, len(train))
			}
		})
		if err != nil {
			return nil, err
		}
		order := rand.New(rand.NewPCG(opt.Seed, 1<<63|uint64(e))).Perm(len(train))
		var sum float64
		for lo := 0; lo < len(order); lo += opt.Batch {
			idx := order[lo:min(lo+opt.Batch, len(order))]
			loss, err := h.step(x, idx, train)
			if err != nil {
				return nil, err
			}
			sum += loss * float64(len(idx))
		}
		ep := Epoch{N: e, TrainLoss: sum / float64(len(train)), ValLoss: math.NaN(), ValAcc: math.NaN(), Val: len(val)}
		if len(val) > 0 {
			if ep.ValLoss, ep.ValAcc, err = h.evaluate(valX, val); err != nil {
				return nil, err
			}
		}
		ep.Time = time.Since(start)
		res.Epochs = append(res.Epochs, ep)
		if opt.Epoch != nil {
			opt.Epoch(ep)
		}
	}
	res.State = make(weights.StateDict, len(w.State))
	for _, s := range res.Arch.Specs() {
		t := w.State[s.Name]
		switch s.Name {
		case head + ".weight":
			t = &weights.Tensor{Shape: []int{h.c, h.f}, Data: h.w, DType: "float32"}
		case head + ".bias":
			t = &weights.Tensor{Shape: []int{h.c}, Data: h.b, DType: "float32"}
		}
		res.State[s.Name], res.Names = t, append(res.Names, s.Name)
	}
	if err := res.State.Check(res.Arch.Specs()); err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	return res, nil
}

// Check reports options Run would refuse.
func (o Options) Check() error {
	switch {
	case o.Epochs < 1:
		return fmt.Errorf("finetune: %d epochs, want at least 1", o.Epochs)
	case o.Batch < 1:
		return fmt.Errorf("finetune: batch of %d, want at least 1", o.Batch)
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return fmt.Errorf("finetune: learning rate %v, want a positive number", o.LR)
	case !(o.Momentum >= 0 && o.Momentum < 1):
		return fmt.Errorf("finetune: momentum %v, want 0 ≤ m < 1", o.Momentum)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0):
		return fmt.Errorf("finetune: weight decay %v, want a number ≥ 0", o.WeightDecay)
	case !(o.Val >= 0 && o.Val < 1):
		return fmt.Errorf("finetune: validation fraction %v, want 0 ≤ v < 1", o.Val)
	}
	return nil
}

// featureModel returns base's network with an identity head in place of
// its classifier: its "logits" are the pooled features the classifier
// reads, exactly (every output is one feature times 1 plus zeros). It runs
// on base's executor with base's preprocessing.
func featureModel(ctx context.Context, base *resnet.Model, head string) (*resnet.Model, error) {
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
	return resnet.Load(ctx, "", "", resnet.Options{Weights: &w, Exec: base.Exec, Transform: &t})
}

// features runs the backbone on every sample's input (as input returns
// it for the sample and its index) in batches of up to 16 and returns the
// features, concatenated in sample order.
func features(m *resnet.Model, samples []Sample, input func(Sample, int) ([]float32, error), progress func(done int)) ([]float32, error) {
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
		f, _, err := m.Forward(in)
		if err != nil {
			return nil, fmt.Errorf("finetune: %w", err)
		}
		for _, v := range f {
			out = append(out, v...)
		}
		if progress != nil {
			progress(lo + len(in))
		}
	}
	return out, nil
}

// head is the classifier being trained and its optimiser's state.
type head struct {
	f, c int
	w, b []float32    // weight [c, f] and bias [c]
	m, v [2][]float64 // SGD's momentum buffers (m) or Adam's moments, for w and b
	t    int          // steps taken
	opt  Options
	dev  *gpu.Device // nil: the CPU reference
}

// newHead returns a head initialised as nn.Linear is: weight and bias
// uniform in ±1/sqrt(f), from a generator seeded by opt.Seed.
func newHead(f, c int, opt Options) *head {
	h := &head{f: f, c: c, w: make([]float32, c*f), b: make([]float32, c), opt: opt}
	r := rand.New(rand.NewPCG(opt.Seed, 0x4ead))
	bound := 1 / math.Sqrt(float64(f))
	for _, p := range [][]float32{h.w, h.b} {
		for i := range p {
			p[i] = float32(bound * (2*r.Float64() - 1))
		}
	}
	for i, n := range []int{c * f, c} {
		h.m[i], h.v[i] = make([]float64, n), make([]float64, n)
	}
	return h
}

// graph returns the training graph of the head on a batch of n feature
// vectors: linear, then the mean cross-entropy against labels.
func (h *head) graph(n int, labels []int) (*graph.Graph, error) {
	var b graph.Builder
	x := b.Input("features", graph.Shape{n, h.f})
	logits := b.Apply("fc", &graph.Linear{In: h.f, Out: h.c, Weight: h.w, Bias: h.b}, x)
	b.Output(b.Apply("loss", graph.SoftmaxCrossEntropy{Labels: labels}, logits))
	return b.Graph()
}
