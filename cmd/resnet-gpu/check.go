package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/progress"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

func runCheck(args []string) error {
	fs := newFlags("check", "[flags] [INPUT...]")
	var mf modelFlags
	mf.register(fs, "synthetic:0")
	batch := fs.Int("batch", 1, "batch size of the synthetic input (when no INPUT is given)")
	tol := fs.Float64("tol", 1e-4, "largest accepted max|gpu-cpu|/max|cpu| per stage")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *batch < 1 || *batch > 64 {
		return fmt.Errorf("--batch %d: want 1..64: %w", *batch, errUsage)
	}
	if !(*tol > 0 && *tol < 1) {
		return fmt.Errorf("--tol %v: want a number between 0 and 1: %w", *tol, errUsage)
	}
	if err := mf.check(); err != nil {
		return err
	}
	if mf.device != "gpu" {
		return fmt.Errorf("--device %s: check compares the GPU with the CPU reference: %w", mf.device, errUsage)
	}
	m, err := mf.load() // the executor classify runs: tuned per --tune
	if err != nil {
		return err
	}
	defer m.Close()
	var in []float32
	n := *batch
	if fs.NArg() > 0 {
		n = fs.NArg()
		for _, p := range fs.Args() {
			x, err := readInput(m, p)
			if err != nil {
				return err
			}
			in = append(in, x...)
		}
	} else {
		in = weights.SyntheticInput(n, 3, m.Transform.Crop, m.Transform.Crop, 0)
	}
	c := m.Transform.Crop
	g, err := m.Weights.Build(resnet.BuildOptions{Batch: n, Height: c, Width: c, WithStages: true})
	if err != nil {
		return err
	}
	graph.Optimize(g)
	ge := m.GPU()
	if t := ge.Opt.Tuner; t != nil {
		t.Tune(g) // with its own progress, before the compilation's
	}
	ph := progress.Start(os.Stderr, 0, fmt.Sprintf("compiling %s for %s", m.Arch.Name, ge.Dev.Info.Name))
	gp, err := ge.CompileGPU(g)
	ph.Done()
	if err != nil {
		return err
	}
	defer gp.Close()
	ph = progress.Start(os.Stderr, 0, "running it")
	t0 := time.Now()
	got, err := gp.Run(in)
	ph.Done()
	if err != nil {
		return err
	}
	gpuTime := time.Since(t0)
	ph = progress.Start(os.Stderr, 0, "running the float64 CPU reference")
	cp, _ := ref.Executor{}.Compile(g)
	t0 = time.Now()
	want, err := cp.Run(in)
	ph.Done()
	if err != nil {
		return err
	}
	cpuTime := time.Since(t0)
	fmt.Printf("%s, weights %s, batch %d: %s (%.0f ms) against the cpu reference (%.0f ms)\n",
		m.Arch.Name, m.Weights.Name, n, ge.Dev.Info.Name, ms(gpuTime), ms(cpuTime))
	fmt.Printf("  %d dispatches in one submission; activations %.1f MiB (shared by liveness), weights %.1f MiB\n",
		len(gp.Steps), float64(gp.Plan.PeakBytes())/(1<<20), float64(g.WeightBytes())/(1<<20))
	choice := "the built-in choice (--tune " + mf.tune + ")"
	if t := ge.Opt.Tuner; t != nil {
		choice = "tuned (--tune " + mf.tune + ", cache " + t.Path + ")"
	}
	fmt.Printf("  convolution kernels, %s: %s\n", choice, kernelCounts(programKernels(gp)))
	failed := false
	for i, stage := range m.Arch.Stages() {
		e := resnet.RelErr(got[i], want[i])
		status := "ok"
		if !(e <= *tol) {
			status, failed = "FAIL", true
		}
		fmt.Printf("  %-7s %-16v max|Δ|/max|ref| = %.2e  %s\n", stage, g.Outputs[i].Shape, e, status)
	}
	if failed {
		fmt.Printf("FAIL: a stage exceeds the tolerance %.0e\n", *tol)
		return errFailed
	}
	fmt.Printf("ok: every stage within %.0e\n", *tol)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// layerKernel is a convolution layer and the kernel it runs.
type layerKernel struct {
	node   *graph.Node
	kernel string
}

// programKernels lists p's convolution layers and their kernels.
func programKernels(p *gpuexec.Program) []layerKernel {
	var out []layerKernel
	for _, s := range p.Steps {
		out = append(out, layerKernel{s.Node, s.Variant})
	}
	return out
}

// kernelCounts lists the kernels of ls (a program's steps: a layer may
// have several) with the number of layers each runs, in order of first
// use: "direct4 ×19, grouped ×2".
func kernelCounts(ls []layerKernel) string {
	var names, out []string
	layers := map[string]int{}
	var last *graph.Node
	for _, l := range ls {
		if l.kernel == "" || l.node == last { // not a convolution, or a layer's later launches
			continue
		}
		last = l.node
		if layers[l.kernel] == 0 {
			names = append(names, l.kernel)
		}
		layers[l.kernel]++
	}
	for _, n := range names {
		out = append(out, fmt.Sprintf("%s ×%d", n, layers[n]))
	}
	return strings.Join(out, ", ")
}
