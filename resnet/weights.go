package resnet

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// Weights is a loaded state_dict with where it came from and the
// preprocessing it expects.
type Weights struct {
	Name       string // "pretrained:v1 (ResNet50_Weights.IMAGENET1K_V1)", "synthetic:0", a file path
	State      weights.StateDict
	Transform  imagenet.Transform // V1 (resize 256) unless the weights are torchvision's V2 (232)
	Pretrained bool               // real ImageNet weights: labels mean something
}

// WeightsOptions tune LoadWeights.
type WeightsOptions struct {
	Progress io.Writer   // download progress bar; nil = quiet
	Hub      hub.Options // cache directory, mirror, HTTP client
}

// LoadWeights resolves a weights source for a:
//
//	pretrained, pretrained:v1, pretrained:v2   torchvision's ImageNet weights (downloaded once, cached)
//	synthetic:SEED                             the synthetic-v1 weights (SYNTHETIC.md)
//	FILE.pth                                   a torch.save'd state_dict
//
// and checks it against a's state_dict entries.
func LoadWeights(ctx context.Context, a Arch, source string, opt WeightsOptions) (*Weights, error) {
	w := &Weights{Name: source, Transform: imagenet.V1}
	switch {
	case source == "pretrained" || strings.HasPrefix(source, "pretrained:"):
		version := strings.TrimPrefix(strings.TrimPrefix(source, "pretrained"), ":")
		hw, err := hub.Lookup(a.Name, version)
		if err != nil {
			return nil, err
		}
		if hw.ResizeSize == 232 {
			w.Transform = imagenet.V2
		}
		ho := opt.Hub
		if ho.Progress == nil {
			ho.Progress = opt.Progress
		}
		path, err := hub.Fetch(ctx, hw, ho)
		if err != nil {
			return nil, err
		}
		if w.State, err = weights.LoadFile(path); err != nil {
			return nil, err
		}
		w.Name = fmt.Sprintf("pretrained:%s (%s)", hw.Version, hw.Name)
		w.Pretrained = true
	case strings.HasPrefix(source, "synthetic:"):
		seed, err := strconv.ParseUint(strings.TrimPrefix(source, "synthetic:"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("resnet: bad weights %q: want synthetic:SEED with a non-negative integer seed", source)
		}
		w.State = weights.Synthetic(a.Specs(), seed)
	default:
		var err error
		if w.State, err = weights.LoadFile(source); err != nil {
			return nil, err
		}
	}
	if err := w.State.Check(a.Specs()); err != nil {
		return nil, fmt.Errorf("resnet: weights %s do not fit %s: %w", source, a.Name, err)
	}
	return w, nil
}
