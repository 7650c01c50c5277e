package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/resnet-gpu/resnet-gpu/resnet/finetune"
	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

func runFinetune(args []string) error {
	fs := newFlags("finetune", "[flags] --weights BASE --data DIR")
	var mf modelFlags
	mf.register(fs, "pretrained")
	data := fs.String("data", "", "the training images: one folder per class (torchvision's ImageFolder), classes in sorted order")
	out := fs.String("out", "model.pth", "the fine-tuned state_dict (torch.save format); the class names go to OUT without .pth plus .labels.txt")
	epochs := fs.Int("epochs", 10, "passes over the training images")
	batch := fs.Int("batch", 32, "images per optimiser step")
	optimizer := fs.String("optimizer", "sgd", "sgd (with --momentum) or adam")
	lr := fs.Float64("lr", 0.01, "learning rate")
	momentum := fs.Float64("momentum", 0.9, "SGD momentum (0: plain SGD)")
	decay := fs.Float64("weight-decay", 1e-4, "L2 weight decay, as torch.optim's weight_decay")
	val := fs.Float64("val", 0.2, "fraction of each class held out for validation (0: none)")
	stage := fs.Bool("train-stage", false, "also train a ResNet's last stage (layer4; its batch-norm statistics stay the base's), not only the new head")
	cacheMB := fs.Int64("cache-mb", 512, "MiB of decoded images kept in memory between epochs (0: decode every image every epoch)")
	seed := fs.Uint64("seed", 1, "seed of the split, the head's initialisation, the augmentation and the image order")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (the images come from --data): %w", fs.Args(), errUsage)
	}
	if *data == "" {
		return fmt.Errorf("no --data folder given: %w", errUsage)
	}
	if *optimizer != "sgd" && *optimizer != "adam" {
		return fmt.Errorf("--optimizer %q: want sgd or adam: %w", *optimizer, errUsage)
	}
	if *cacheMB < 0 || *cacheMB > math.MaxInt64>>20 {
		return fmt.Errorf("--cache-mb %d: want 0 to %d MiB: %w", *cacheMB, math.MaxInt64>>20, errUsage)
	}
	if !strings.HasSuffix(*out, ".pth") {
		return fmt.Errorf("--out %q: want a .pth file: %w", *out, errUsage)
	}
	opt := finetune.Options{Epochs: *epochs, Batch: *batch, LR: *lr, Momentum: *momentum, WeightDecay: *decay,
		Adam: *optimizer == "adam", Val: *val, Seed: *seed, TrainStage: *stage, Cache: *cacheMB << 20}
	if err := opt.Check(); err != nil {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	if st, err := os.Stat(filepath.Dir(*out)); err != nil || !st.IsDir() {
		return fmt.Errorf("--out %s: no folder %s", *out, filepath.Dir(*out))
	}
	d, err := finetune.LoadDir(*data)
	if err != nil {
		return err
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	defer m.Close()
	trained := "the head"
	if *stage {
		trained = "the last stage and the head"
	}
	fmt.Printf("fine-tuning %s of %s (%s) on %s: %d classes, %d images, %.0f%% held out; backbone on %s\n",
		trained, m.Arch.Name, m.Weights.Name, *data, len(d.Classes), len(d.Samples), 100**val, m.Exec.Name())
	var bar *progressbar.ProgressBar
	if hub.IsTerminal(os.Stderr) {
		opt.Progress = func(epoch, done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch, *epochs)),
					progressbar.OptionShowCount(), progressbar.OptionSetWidth(20),
					progressbar.OptionThrottle(65*time.Millisecond), progressbar.OptionClearOnFinish())
			}
			_ = bar.Set(done)
		}
	}
	opt.Epoch = func(e finetune.Epoch) {
		if bar != nil {
			_ = bar.Finish()
			bar = nil
		}
		printEpoch(os.Stdout, e, *epochs)
	}
	ctx, stop := interruptible()
	defer stop()
	r, err := finetune.Run(ctx, m, d, opt)
	if err != nil {
		return err
	}
	if err := weights.SaveFile(*out, r.State, r.Names); err != nil {
		return err
	}
	labelsFile := labelsPath(*out)
	if err := os.WriteFile(labelsFile, []byte(strings.Join(r.Classes, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("trained on %s; wrote %s (%s) and %s\n", r.Device, *out, r.Arch, labelsFile)
	return nil
}

// labelsPath is where finetune writes the class names of a model it
// writes to out: model.pth → model.labels.txt.
func labelsPath(out string) string {
	return strings.TrimSuffix(out, ".pth") + ".labels.txt"
}

// printEpoch prints one epoch's line.
func printEpoch(w io.Writer, e finetune.Epoch, epochs int) {
	fmt.Fprintf(w, "epoch %d/%d  train loss %.4f", e.N, epochs, e.TrainLoss)
	if e.Val > 0 {
		fmt.Fprintf(w, "  val loss %.4f  val acc %.1f%% (%d/%d)", e.ValLoss, 100*e.ValAcc, int(math.Round(e.ValAcc*float64(e.Val))), e.Val)
	}
	fmt.Fprintf(w, "  %.1fs\n", e.Time.Seconds())
}
