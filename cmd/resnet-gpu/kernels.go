package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/perf"
	"github.com/resnet-gpu/resnet-gpu/resnet"
)

func runKernels(args []string) error {
	fs := newFlags("kernels", "[flags]")
	var mf modelFlags
	mf.register(fs, "synthetic:0")
	batch := fs.Int("batch", 1, "batch size of the layer shapes")
	runs := fs.Int("runs", 10, "timed runs per kernel")
	asJSON := fs.Bool("json", false, "print one JSON object")
	plot := fs.String("plot", "", "write a roofline plot to FILE.png or FILE.svg")
	if err := parse(fs, args); err != nil {
		return err
	}
	if mf.device != "gpu" {
		return fmt.Errorf("--device %s: kernels times GPU kernels only: %w", mf.device, errUsage)
	}
	if *batch < 1 || *batch > 256 || *runs < 1 {
		return fmt.Errorf("--batch 1..256 and --runs ≥ 1: %w", errUsage)
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
	fmt.Fprintf(progress, "measuring the ceilings of %s …\n", dev.Info.Name)
	ceil, err := perf.MeasureCeilings(dev, perf.SizeFor(dev))
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "ceilings: %.0f GFLOP/s (%s), %.0f GB/s (%s)\n", ceil.GFLOPS, ceil.GEMM, ceil.GBps, ceil.Copy)
	g, err := resnet.Build(m.Arch, m.Weights.State, resnet.BuildOptions{Batch: *batch, Softmax: true})
	if err != nil {
		return err
	}
	graph.Optimize(g)
	opt := perf.KernelOptions{Runs: *runs, Ceil: ceil, Progress: progress, ConvKernel: ge.Opt.ConvKernel}
	rs, err := perf.TimeKernels(dev, g, opt)
	if err != nil {
		return err
	}
	if *plot != "" {
		title := fmt.Sprintf("%s batch %d on %s", m.Arch.Name, *batch, dev.Info.Name)
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
