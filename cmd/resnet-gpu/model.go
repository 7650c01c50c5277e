package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/progress"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
	"github.com/resnet-gpu/resnet-gpu/resnet/keras"
	"github.com/resnet-gpu/resnet-gpu/resnet/labels"
)

// modelFlags are the flags every command that loads a network shares.
type modelFlags struct {
	arch, weights, device, adapter, tune string
	labels                               string
	resize, crop                         int
	mean, std                            string
	refresh, quiet                       bool
	// exec, if set, is a device an earlier model opened, which this one
	// shares (serve's models: one device, one queue).
	exec graph.Executor
}

func (m *modelFlags) register(fs *flag.FlagSet, defaultWeights string) {
	fs.StringVar(&m.arch, "arch", "", "architecture: "+strings.Join(resnet.ArchNames(), ", ")+
		"; default: a file's own (inferred from its state_dict), else "+resnet.DefaultArch)
	fs.StringVar(&m.weights, "weights", defaultWeights, "pretrained, pretrained:v1, pretrained:v2, synthetic:SEED, FILE.pth (any torchvision ResNet-family state_dict), FILE.onnx (an ONNX model); keras, keras:ARCH (Keras' ImageNet weights: "+strings.Join(keras.ArchNames(), ", ")+") or FILE.h5 (Keras weights of a Keras ResNet)")
	fs.StringVar(&m.device, "device", "gpu", "gpu, or cpu for the float64-accumulating reference path")
	fs.StringVar(&m.adapter, "adapter", "", "GPU adapter: index or name substring (default $RESNET_GPU_ADAPTER, else high-performance)")
	fs.StringVar(&m.tune, "tune", "auto", "time convolution kernels per layer shape and cache the choice: auto (GPUs only), on (also prints every candidate's time), off")
	fs.StringVar(&m.labels, "labels", "", "class names: a file with one per line, a JSON list, or a JSON object index→name (TorchServe's index_to_name.json); default ImageNet's for 1000 classes, else \"class N\"")
	fs.IntVar(&m.resize, "resize", 0, "resize the shorter image side to N (default the weights' own: 256, or 232 for torchvision V2 weights)")
	fs.IntVar(&m.crop, "crop", 0, "center-crop to NxN, the network's input size (default 224)")
	fs.StringVar(&m.mean, "mean", "", "per-channel normalisation mean R,G,B (default ImageNet's 0.485,0.456,0.406)")
	fs.StringVar(&m.std, "std", "", "per-channel normalisation std R,G,B (default ImageNet's 0.229,0.224,0.225)")
	fs.BoolVar(&m.refresh, "refresh", false, "download pretrained or keras weights again even when the cache has them")
	fs.BoolVar(&m.quiet, "quiet", false, "no progress bars or status lines on stderr, only errors")
	fs.BoolVar(&m.quiet, "q", false, "short for --quiet")
}

// status is where progress goes: stderr, or nowhere with --quiet. On a
// terminal a phase shows a bar or a spinner, elsewhere one line
// (graph/progress).
func (m *modelFlags) status() io.Writer {
	if m.quiet {
		return nil
	}
	return os.Stderr
}

// terminal returns status if it is a terminal, else nil: for phases
// that are shown on a terminal only (downloads and loading, which most
// runs finish in well under a second, so scripts' stderr keeps only the
// error of a file that cannot be loaded).
func (m *modelFlags) terminal() io.Writer {
	if w := m.status(); w != nil && hub.IsTerminal(os.Stderr) {
		return w
	}
	return nil
}

// check validates the flags that need no model, so that a bad one is
// reported before any loading or downloading.
func (m *modelFlags) check() error {
	if m.device != "gpu" && m.device != "cpu" {
		return fmt.Errorf("--device %q: want gpu or cpu: %w", m.device, errUsage)
	}
	if m.tune != "auto" && m.tune != "on" && m.tune != "off" {
		return fmt.Errorf("--tune %q: want auto, on or off: %w", m.tune, errUsage)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"resize", m.resize}, {"crop", m.crop}} {
		if f.v < 0 || f.v > 4096 {
			return fmt.Errorf("--%s %d: want 1..4096: %w", f.name, f.v, errUsage)
		}
	}
	for _, f := range []struct{ name, v string }{{"mean", m.mean}, {"std", m.std}} {
		if _, err := triple(f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

// interrupted is the cause of a context cancelled by a signal: the
// command then exits as a process killed by it would (128 + its number).
type interrupted struct{ sig syscall.Signal }

func (e interrupted) Error() string { return e.sig.String() + " signal received" }

// interruptible returns a context cancelled, with an interrupted cause, by
// the first SIGINT or SIGTERM; after it (or stop) the signals' default
// handling is back, so a second Ctrl-C kills at once.
func interruptible() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			signal.Stop(sigs)
			cancel(interrupted{s.(syscall.Signal)})
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel(context.Canceled)
		})
	}
}

// triple parses "a,b,c" (empty: nil).
func triple(name, s string) ([]float32, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return nil, fmt.Errorf("--%s %q: want three comma-separated numbers R,G,B: %w", name, s, errUsage)
	}
	out := make([]float32, 3)
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || v != v || v > 1e6 || v < -1e6 || name == "std" && v <= 0 {
			return nil, fmt.Errorf("--%s %q: %q is not a usable number: %w", name, s, p, errUsage)
		}
		out[i] = float32(v)
	}
	return out, nil
}

// load opens the model, with a download progress bar and a spinner while
// loading when stderr is a terminal, and tuning's progress on stderr (a
// bar on a terminal, else one line; with --tune on, a line per shape with
// every candidate's time).
func (m *modelFlags) load() (*resnet.Model, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	opt := resnet.Options{Device: m.device, Adapter: m.adapter, Tune: m.tune, Exec: m.exec, Progress: m.terminal()}
	if w := m.status(); w != nil {
		opt.TuneProgress = w
	}
	var ph *progress.Phase // downloads draw their own bar
	if _, err := os.Stat(m.weights); err == nil {
		ph = progress.Start(m.terminal(), 0, "loading "+m.weights)
	}
	ctx, stop := interruptible()
	w, err := resnet.LoadWeights(ctx, m.arch, m.weights, resnet.WeightsOptions{Progress: opt.Progress, Hub: hub.Options{Refresh: m.refresh}})
	stop()
	ph.Done()
	if err != nil {
		return nil, err
	}
	opt.Weights = w
	if m.resize != 0 || m.crop != 0 || m.mean != "" || m.std != "" {
		t := w.Transform
		if m.resize != 0 {
			t.Resize = m.resize
		}
		if m.crop != 0 {
			t.Crop = m.crop
		}
		if mean, _ := triple("mean", m.mean); mean != nil {
			t.Mean = [3]float32(mean)
		}
		if std, _ := triple("std", m.std); std != nil {
			t.Std = [3]float32(std)
		}
		opt.Transform = &t
	}
	if m.labels != "" {
		set, err := labels.Load(m.labels, w.Arch.Classes)
		if err != nil {
			return nil, err
		}
		opt.Labels, opt.WNIDs = set.Names, set.WNIDs
	}
	return resnet.Load(context.Background(), m.arch, m.weights, opt)
}
