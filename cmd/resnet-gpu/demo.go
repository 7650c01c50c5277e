package main

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

// runDemo is `make run`: classify a folder of images with pretrained
// ResNet-50 (synthetic weights when they cannot be had), then show how the
// GPU and the CPU reference agree and how long each took per image.
func runDemo(args []string) error {
	fs := newFlags("demo", "[flags] DIR")
	arch := fs.String("arch", "resnet50", "architecture")
	adapter := fs.String("adapter", "", "GPU adapter: index or name substring")
	wait := fs.Duration("download-timeout", 20*time.Second, "give up fetching the pretrained weights after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one image folder: %w", errUsage)
	}
	paths, err := imageFiles(fs.Arg(0))
	if err != nil {
		return err
	}
	var imgs []image.Image
	for _, p := range paths {
		img, err := imagenet.Open(p)
		if err != nil {
			return err
		}
		imgs = append(imgs, img)
	}
	signals, stop := interruptible()
	ctx, cancel := context.WithTimeout(signals, *wait)
	opt := resnet.WeightsOptions{}
	if hub.IsTerminal(os.Stderr) {
		opt.Progress = os.Stderr
	}
	w, err := resnet.LoadWeights(ctx, *arch, "pretrained", opt)
	cancel()
	stop()
	if err != nil && context.Cause(signals) != context.Canceled {
		return err // interrupted, not timed out
	}
	if err != nil {
		fmt.Printf("pretrained weights unavailable (%s); using synthetic:0 instead, so the labels are meaningless\n", oneLine(err.Error()))
		if w, err = resnet.LoadWeights(context.Background(), *arch, "synthetic:0", opt); err != nil {
			return err
		}
	}
	gpuModel, err := resnet.Load(context.Background(), "", "", resnet.Options{Adapter: *adapter, Weights: w})
	if err != nil {
		return err
	}
	defer gpuModel.Close()
	cpuModel, err := resnet.Load(context.Background(), "", "", resnet.Options{Device: "cpu", Weights: w})
	if err != nil {
		return err
	}
	defer cpuModel.Close()
	batch := make([][]float32, len(imgs))
	for i, img := range imgs {
		if batch[i], err = gpuModel.Preprocess(img); err != nil {
			return fmt.Errorf("%s: %w", paths[i], err)
		}
	}
	// The first GPU pass compiles the kernels; on GPUs time a second one,
	// on CPU adapters (lavapipe, slow) report the first.
	t0 := time.Now()
	gl, gp, err := gpuModel.Forward(batch)
	if err != nil {
		return err
	}
	gpuTime, gpuWhat := time.Since(t0), "first pass, compilation included"
	if ge := gpuModel.GPU(); ge != nil && !ge.Caps().CPU {
		t0 = time.Now()
		if gl, gp, err = gpuModel.Forward(batch); err != nil {
			return err
		}
		gpuTime, gpuWhat = time.Since(t0), "second pass"
	}
	t0 = time.Now()
	cl, cp, err := cpuModel.Forward(batch)
	if err != nil {
		return err
	}
	cpuTime := time.Since(t0)
	fmt.Printf("%s, weights %s, on %s\n", w.Arch, w.Name, gpuModel.Exec.Name())
	worst := 0.0
	for i, p := range paths {
		g, c := gpuModel.TopK(gp[i], 3), cpuModel.TopK(cp[i], 1)
		e := resnet.RelErr(gl[i], cl[i])
		worst = max(worst, e)
		agree := "same top-1 on the CPU reference"
		if g[0].Index != c[0].Index {
			agree = fmt.Sprintf("CPU reference says %q", c[0].Label)
		}
		fmt.Printf("\n%s\n", filepath.Base(p))
		for k, x := range g {
			fmt.Printf("  %d  %-32s %s  %6.2f%%\n", k+1, x.Label, x.WNID, 100*x.Prob)
		}
		fmt.Printf("  GPU vs CPU logits: max|Δ|/max|cpu| = %.1e, %s\n", e, agree)
	}
	n := float64(len(paths))
	fmt.Printf("\n%d images in one batch: GPU %.1f ms per image (%s), CPU reference %.1f ms per image; worst GPU/CPU logit difference %.1e\n",
		len(paths), ms(gpuTime)/n, gpuWhat, ms(cpuTime)/n, worst)
	return nil
}

// imageFiles lists the image files of dir, sorted.
func imageFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if hasExt(e.Name(), imagenet.Extensions) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no images", dir)
	}
	sort.Strings(out)
	return out, nil
}
