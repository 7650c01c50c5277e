package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

func runCheckOps(args []string) error {
	fs := newFlags("check-ops", "[flags]")
	adapter := fs.String("adapter", "", "GPU adapter: index or name substring")
	filter := fs.String("filter", "", "only cases whose name contains this")
	variant := fs.String("variant", "", "convolution kernel for every conv case: one of "+strings.Join(shaders.KernelNames(), ", ")+", or 'all' (default: the built-in choice per shape)")
	batches := fs.String("batches", "1,2", "batch sizes to take layer shapes from")
	archs := fs.String("arch", "core", "comma-separated architectures to take layer shapes from ("+strings.Join(resnet.ArchNames(), ", ")+"), all, or core: "+strings.Join(resnet.CoreArchs, ","))
	seed := fs.Uint64("seed", 1, "seed of the random inputs and parameters")
	grad := fs.Bool("grad", false, "run the gradient checks instead: every differentiable op's backward against finite differences, and on the GPU against the CPU reference")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *grad {
		dev, err := gpu.Open(gpu.Options{Adapter: *adapter})
		if err != nil {
			return err
		}
		defer dev.Close()
		fmt.Printf("adapter: %s\n", dev.Info)
		return checkGrad(dev, *filter, *seed)
	}
	var bs []int
	for _, f := range strings.Split(*batches, ",") {
		var b int
		if _, err := fmt.Sscan(f, &b); err != nil || b < 1 || b > 64 {
			return fmt.Errorf("--batches %q: want a comma-separated list of 1..64: %w", *batches, errUsage)
		}
		bs = append(bs, b)
	}
	variants := []string{*variant}
	if *variant == "all" {
		variants = shaders.KernelNames()
	} else if *variant != "" && !slices.Contains(shaders.KernelNames(), *variant) {
		return fmt.Errorf("--variant %q: want one of %s or all: %w", *variant, strings.Join(shaders.KernelNames(), ", "), errUsage)
	}
	names := resnet.CoreArchs
	if *archs == "all" {
		names = nil
	} else if *archs != "core" {
		names = nil
		for _, a := range strings.Split(*archs, ",") {
			if _, err := resnet.Lookup(a); err != nil {
				return fmt.Errorf("--arch: %v: %w", err, errUsage)
			}
			names = append(names, a)
		}
	}
	gs, err := resnet.LayerGraphs(names, bs...)
	if err != nil {
		return err
	}
	cases := opcheck.Suite(gs...)
	if *filter != "" && !slices.ContainsFunc(cases, func(c opcheck.Case) bool { return strings.Contains(c.String(), *filter) }) {
		return fmt.Errorf("--filter %q: no case matches: %w", *filter, errUsage)
	}
	dev, err := gpu.Open(gpu.Options{Adapter: *adapter})
	if err != nil {
		return err
	}
	defer dev.Close()
	fmt.Printf("adapter: %s\n", dev.Info)
	var pass, fail int
	worst, worstName := 0.0, ""
	start := time.Now()
	for _, v := range variants {
		ex := gpuexec.New(dev, gpuexec.Options{Guard: 64})
		if v != "" {
			v := v
			ex.Opt.ConvKernel = func(shaders.ConvGeom) string { return v }
		}
		for _, c := range cases {
			if *filter != "" && !strings.Contains(c.String(), *filter) {
				continue
			}
			conv, isConv := c.Op.(*graph.Conv2D)
			if k, ok := shaders.Kernel(v); v != "" && (!isConv || !ok || !k.Computes(conv.Geom(c.In))) {
				continue
			}
			r := opcheck.Run(c, ex, *seed)
			label := ""
			if len(r.Kernels) > 0 { // what ran, from the program
				label = " [" + strings.Join(r.Kernels, ",") + "]"
			}
			fmt.Printf("%v%s\n", r, label)
			if r.Pass() {
				pass++
			} else {
				fail++
			}
			if r.NMSE > worst || math.IsNaN(r.NMSE) {
				worst, worstName = r.NMSE, c.String()+label
			}
		}
	}
	fmt.Printf("\n%d passed, %d failed in %.1f s; worst NMSE %.3e (%s)\n", pass, fail, time.Since(start).Seconds(), worst, worstName)
	if fail > 0 {
		return errFailed
	}
	if pass == 0 {
		return fmt.Errorf("no case matches --filter %q", *filter)
	}
	return nil
}
