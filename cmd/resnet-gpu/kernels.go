package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/perf"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

func runKernels(args []string) error {
	fs := newFlags("kernels", "[flags]")
	var mf modelFlags
	mf.register(fs, "synthetic:0")
	batch := fs.Int("batch", 1, "batch size of the layer shapes")
	runs := fs.Int("runs", 10, "timed runs per kernel")
	asJSON := fs.Bool("json", false, "print one JSON object")
	remeasure := fs.Bool("remeasure", false, remeasureUsage)
	plot := fs.String("plot", "", "write a roofline plot to FILE.png or FILE.svg")
	dump := fs.String("dump-wgsl", "", "write the WGSL of every kernel the layers run on the adapter into `DIR`, one file per distinct source, instead of timing them\n(with no adapter: the kernels of a discrete GPU and of a CPU adapter such as lavapipe)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if mf.device != "gpu" {
		return fmt.Errorf("--device %s: kernels times GPU kernels only: %w", mf.device, errUsage)
	}
	if *batch < 1 || *batch > 256 || *runs < 1 {
		return fmt.Errorf("--batch 1..256 and --runs ≥ 1: %w", errUsage)
	}
	if ext := strings.ToLower(filepath.Ext(*plot)); *plot != "" && ext != ".png" && ext != ".svg" {
		return fmt.Errorf("--plot %s: want a .png or .svg file: %w", *plot, errUsage)
	}
	if err := mf.check(); err != nil {
		return err
	}
	if *dump != "" {
		return dumpWGSL(&mf, *batch, *dump)
	}
	if *plot != "" { // a plot that cannot be written fails now, not after the timings
		f, err := os.CreateTemp(filepath.Dir(*plot), ".roofline-*")
		if err != nil {
			return fmt.Errorf("--plot %s: %w", *plot, err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	defer m.Close()
	ge := m.GPU()
	if ge == nil {
		return fmt.Errorf("kernels times GPU kernels: --device cpu has none: %w", errUsage)
	}
	dev := ge.Dev
	progress := os.Stderr
	ceil, err := ceilings(dev, *remeasure)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "ceilings: %.0f GFLOP/s (%s), %.0f GB/s (%s)\n", ceil.GFLOPS, ceil.GEMM, ceil.GBps, ceil.Copy)
	g, err := m.Weights.Build(resnet.BuildOptions{Batch: *batch, Height: m.Transform.Crop, Width: m.Transform.Crop, Softmax: true})
	if err != nil {
		return err
	}
	graph.Optimize(g)
	if ge.Opt.Tuner != nil {
		ge.Opt.Tuner.Tune(g) // every shape at once, before the timings
	}
	opt := perf.KernelOptions{Runs: *runs, Ceil: ceil, Progress: progress, Exec: ge.Opt}
	rs, err := perf.TimeKernels(dev, g, opt)
	if err != nil {
		return err
	}
	if *plot != "" {
		title := fmt.Sprintf("%s batch %d, weights %s\non %s", m.Arch.Name, *batch, m.Weights.Name, dev.Info.Name)
		if err := perf.Roofline(*plot, title, ceil, rs); err != nil {
			return err
		}
		fmt.Fprintf(progress, "roofline written to %s\n", *plot)
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{
			"arch": m.Arch.Name, "batch": *batch,
			"device":   map[string]string{"name": dev.Info.Name, "backend": dev.Info.Backend},
			"ceilings": ceil, "kernels": rs,
		})
	}
	fmt.Printf("%s batch %d on %s: ceilings %.0f GFLOP/s, %.0f GB/s\n\n", m.Arch.Name, *batch, dev.Info.Name, ceil.GFLOPS, ceil.GBps)
	fmt.Printf("%-4s %10s %10s %9s %7s %7s  %-14s %s\n", "n", "ms", "GFLOP/s", "GB/s", "%peak", "%bw", "kernel", "layer")
	for _, r := range rs {
		fmt.Printf("%-4d %10.4f %10.1f %9.1f %6.1f%% %6.1f%%  %-14s %s\n", r.Count, ms(r.Time), r.GFLOPS, r.GBps, r.PctFLOPS, r.PctBW, r.Variant, r.Name)
	}
	return nil
}

// dumpWGSL writes into dir the WGSL of every kernel that the layers of
// mf's network run at batch, as gpuexec lowers them: on the adapter mf
// opens, with the kernels the model chooses there (tuned where it tunes),
// or, where there is no adapter, on a discrete GPU and on a CPU adapter
// (shaders.DiscreteGPU, shaders.CPUAdapter). The kernels do not depend on
// the weights' values, so the graph is built on zeros.
func dumpWGSL(mf *modelFlags, batch int, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil { // before the work, which may tune
		return fmt.Errorf("--dump-wgsl: %w", err)
	}
	a, err := resnet.Lookup(mf.arch)
	if err != nil {
		return err
	}
	g, err := resnet.Build(a, a.ShapeWeights(), resnet.BuildOptions{Batch: batch, Softmax: true})
	if err != nil {
		return err
	}
	graph.Optimize(g)
	type target struct {
		name string
		caps gpu.Caps
		opt  gpuexec.Options
	}
	var targets []target
	m, err := mf.load()
	switch {
	case err == nil:
		defer m.Close()
		ge := m.GPU()
		targets = []target{{ge.Dev.Info.Name, ge.Caps(), ge.Opt}}
	case errors.Is(err, gpu.ErrNoAdapter):
		fmt.Fprintln(os.Stderr, "no WebGPU adapter: writing the kernels of a discrete GPU and of a CPU adapter")
		targets = []target{{"a discrete GPU", shaders.DiscreteGPU, gpuexec.Options{}}, {"a CPU adapter", shaders.CPUAdapter, gpuexec.Options{}}}
	default:
		return err
	}
	var d shaders.Dump
	var names []string
	for _, t := range targets {
		ls, err := gpuexec.Launches(g, t.caps, t.opt)
		if err != nil {
			return err
		}
		for _, l := range ls {
			if err := d.Add(l.Node.String(), l.Launch, t.caps.CPU); err != nil {
				return err
			}
		}
		names = append(names, t.name)
	}
	if err := d.Write(dir); err != nil {
		return fmt.Errorf("--dump-wgsl: %w", err)
	}
	fmt.Printf("wrote %d WGSL files to %s: the kernels of %s batch %d on %s\n", len(d.Files), dir, a.Name, batch, strings.Join(names, " and "))
	return nil
}
