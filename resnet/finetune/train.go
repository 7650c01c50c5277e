package finetune

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"time"

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
	// TrainStage also trains the last stage of a ResNet (layer4: its
	// convolutions and its batch-norms' weights and biases; their running
	// statistics stay the base's), not only the head.
	TrainStage bool
	// Cache is the most bytes of decoded images kept in memory from one
	// epoch to the next (0: none, every epoch decodes its images again).
	// The images are decoded as the batches need them; the cache keeps
	// the first that fit.
	Cache int64
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
	Device  string     // where the head's gradients ran
	Images  ImageStats // what decoding the image files took
}

// Run fine-tunes base's network on d: a new head of len(d.Classes)
// outputs (and with opt.TrainStage the last stage) on base's frozen
// backbone. The backbone runs on base's executor; the trained part's
// backward pass on base's GPU if it has one, else on the CPU reference.
func Run(ctx context.Context, base *resnet.Model, d *Dataset, opt Options) (*Result, error) {
	if err := opt.Check(); err != nil {
		return nil, err
	}
	w := base.Weights
	if w == nil || w.Graph != nil || w.Preprocess != nil || w.State == nil {
		return nil, errors.New("finetune: the base must be a torchvision state_dict (a .pth, pretrained or synthetic weights), not an imported ONNX or Keras network")
	}
	a, head := w.Arch, "fc"
	if a.Family == resnet.FamilyDenseNet {
		head = "classifier"
	}
	if opt.TrainStage && a.Family != resnet.FamilyResNet {
		return nil, fmt.Errorf("finetune: training the last stage needs a ResNet; %s is a %s (train its head alone)", a.Name, a.Family)
	}
	train, val, err := d.Split(opt.Val, opt.Seed)
	if err != nil {
		return nil, err
	}
	res := &Result{Arch: a.WithClasses(len(d.Classes)), Classes: d.Classes, Train: train, Val: val, Device: "cpu reference"}
	t, err := newTrainer(base, res.Arch, head, opt)
	if err != nil {
		return nil, err
	}
	if ex := base.GPU(); ex != nil {
		t.gpu = ex
		res.Device = ex.Name()
	}
	var bb *backbone
	if opt.TrainStage {
		bb = stageBackbone(base)
	} else if bb, err = headBackbone(ctx, base, head); err != nil {
		return nil, err
	}
	defer bb.close()
	imgs := newImages(opt.Cache, base.ReadAhead(passBatch))
	preprocess := func(img image.Image, _ int) ([]float32, error) { return base.Preprocess(img) }
	var valX []float32
	if !opt.TrainStage { // the head's validation reads features computed once, of images read once
		if valX, err = bb.features(imgs, val, false, preprocess, nil); err != nil {
			return nil, err
		}
	}
	aug := imagenet.TrainAugment(base.Transform)
	for e := 1; e <= opt.Epochs; e++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := time.Now()
		// Each image's augmentation draws from its own generator, so that
		// it depends on the seed, the epoch and the image alone.
		x, err := bb.features(imgs, train, true, func(img image.Image, i int) ([]float32, error) {
			return aug.Apply(img, rand.New(rand.NewPCG(opt.Seed, uint64(e)<<32|uint64(i)))), nil
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
			loss, err := t.step(x, bb.shape, idx, train)
			if err != nil {
				return nil, err
			}
			sum += loss * float64(len(idx))
		}
		ep := Epoch{N: e, TrainLoss: sum / float64(len(train)), ValLoss: math.NaN(), ValAcc: math.NaN(), Val: len(val)}
		if len(val) > 0 {
			var logits [][]float64
			if opt.TrainStage {
				logits, err = networkLogits(ctx, base, res.Arch, t.sd, imgs, val)
			} else {
				logits, err = t.headLogits(valX, bb.shape, val)
			}
			if err != nil {
				return nil, err
			}
			ep.ValLoss, ep.ValAcc = score(logits, val)
		}
		ep.Time = time.Since(start)
		res.Epochs = append(res.Epochs, ep)
		if opt.Epoch != nil {
			opt.Epoch(ep)
		}
	}
	res.Images = imgs.stats
	res.State = make(weights.StateDict, len(w.State))
	for _, s := range res.Arch.Specs() {
		res.State[s.Name], res.Names = t.sd[s.Name], append(res.Names, s.Name)
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
	case o.Cache < 0:
		return fmt.Errorf("finetune: an image cache of %d bytes, want at least 0", o.Cache)
	}
	return nil
}

// score returns the mean cross-entropy and the top-1 accuracy of logits
// (a row per sample).
func score(logits [][]float64, samples []Sample) (loss, acc float64) {
	right := 0
	for i, row := range logits {
		best, hi := 0, math.Inf(-1)
		for k, v := range row {
			if v > hi {
				best, hi = k, v
			}
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(v - hi)
		}
		loss += math.Log(sum) + hi - row[samples[i].Label]
		if best == samples[i].Label {
			right++
		}
	}
	n := float64(len(logits))
	return loss / n, float64(right) / n
}
