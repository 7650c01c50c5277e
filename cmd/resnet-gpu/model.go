package main

import (
	"context"
	"flag"
	"os"

	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
)

// modelFlags are the flags every command that loads a network shares.
type modelFlags struct {
	arch, weights, device, adapter, tune string
}

func (m *modelFlags) register(fs *flag.FlagSet, defaultWeights string) {
	fs.StringVar(&m.arch, "arch", "resnet50", "architecture: resnet18, resnet34, resnet50, resnet101, resnet152")
	fs.StringVar(&m.weights, "weights", defaultWeights, "pretrained, pretrained:v1, pretrained:v2, synthetic:SEED or FILE.pth")
	fs.StringVar(&m.device, "device", "gpu", "gpu, or cpu for the float64-accumulating reference path")
	fs.StringVar(&m.adapter, "adapter", "", "GPU adapter: index or name substring (default $RESNET_GPU_ADAPTER, else high-performance)")
	fs.StringVar(&m.tune, "tune", "auto", "time convolution kernels per layer shape and cache the choice: auto (GPUs only), on (also prints every candidate's time), off")
}

// load opens the model, with a download progress bar when stderr is a
// terminal.
func (m *modelFlags) load() (*resnet.Model, error) {
	opt := resnet.Options{Device: m.device, Adapter: m.adapter, Tune: m.tune}
	if hub.IsTerminal(os.Stderr) {
		opt.Progress = os.Stderr
		opt.TuneProgress = os.Stderr
	}
	if m.tune == "on" {
		opt.TuneProgress = os.Stderr // asked for: say what each candidate took
	}
	return resnet.Load(context.Background(), m.arch, m.weights, opt)
}
