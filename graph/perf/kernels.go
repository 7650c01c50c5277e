package perf

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/progress"
)

// KernelOptions tune TimeKernels.
type KernelOptions struct {
	// Runs is the number of timed runs of each kernel after its warm-up;
	// ≤ 0 means 10.
	Runs int
	// Ceil are the device's ceilings for PctFLOPS and PctBW; zero leaves
	// the percentages zero.
	Ceil Ceilings
	// Progress, if not nil, receives a status line ("timing 25 kernels
	// on …") or, on a terminal, a progress bar (internal/progress).
	Progress io.Writer
	// Verbose adds to Progress one line per kernel as it is timed, e.g.
	// "[3/25] conv2d(…) tiled 0.123 ms 512 GFLOP/s 40.2 GB/s".
	Verbose bool
	// Exec are the options of the executor the kernels are compiled
	// with: its choice of convolution kernels (ConvKernel, Tuner).
	Exec gpuexec.Options
}

// KernelResult is the timing of one distinct layer of a graph.
type KernelResult struct {
	Name    string        // graph.Name of the op and its input shape
	Variant string        // the convolution kernel; empty for other ops
	Count   int           // how many nodes of the graph have this op and shape
	Time    time.Duration // median time of one run
	FLOPs   int64         // graph.Node.FLOPs
	Bytes   int64         // graph.Node.Bytes
	GFLOPS  float64       // FLOPs / Time
	GBps    float64       // Bytes / Time
	// PctFLOPS and PctBW are GFLOPS and GBps as percentages of the
	// ceilings.
	PctFLOPS, PctBW float64
}

// Total is the layer's share of a forward pass: Time × Count.
func (r KernelResult) Total() time.Duration { return r.Time * time.Duration(r.Count) }

// TimeKernels times each distinct node of g (an optimised graph), keyed
// like the op checker by graph.Name of its op and input shape: it builds a
// one-node graph of the op with seeded random parameters and inputs,
// compiles it with gpuexec, warms it up and times opt.Runs runs of its
// dispatches (GPU time from timestamps when the device records them, else
// the wall time of a submission). The results are sorted by Total, the
// largest first.
func TimeKernels(dev *gpu.Device, g *graph.Graph, opt KernelOptions) ([]KernelResult, error) {
	runs := opt.Runs
	if runs <= 0 {
		runs = 10
	}
	var order []*graph.Node
	count := map[string]int{}
	for _, n := range g.Nodes {
		if v, ok := n.Op.(graph.View); ok && v.IsView() {
			continue // moves no data, launches nothing
		}
		k := n.String()
		if count[k] == 0 {
			order = append(order, n)
		}
		count[k]++
	}
	ex := gpuexec.New(dev, opt.Exec)
	ph := progress.Start(opt.Progress, len(order), fmt.Sprintf("timing %d kernels on %s", len(order), dev.Info.Name))
	defer ph.Done()
	var out []KernelResult
	for i, n := range order {
		one, in, err := single(n, uint64(i+1))
		if err != nil {
			return nil, fmt.Errorf("perf: %s: %w", n, err)
		}
		ts, variant, err := timeGraph(ex, one, in, runs)
		if err != nil {
			return nil, fmt.Errorf("perf: %s: %w", n, err)
		}
		r := result(one.Nodes[0], Summarize(ts).Median)
		r.Variant, r.Count = variant, count[n.String()]
		r.PctFLOPS, r.PctBW = pct(r.GFLOPS, opt.Ceil.GFLOPS), pct(r.GBps, opt.Ceil.GBps)
		ph.Add(1)
		if opt.Verbose {
			v := r.Variant
			if v != "" {
				v += " "
			}
			ph.Printf("[%d/%d] %s %s%.3f ms %s GFLOP/s %s GB/s",
				i+1, len(order), r.Name, v, ms(r.Time), rate(r.GFLOPS), rate(r.GBps))
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Total() > out[j].Total() })
	return out, nil
}

// timeGraph compiles g with ex, runs it once on in (which uploads the
// inputs) and returns the times of runs timed replays of its dispatches
// after a warm-up, and the convolution kernel it chose, if any.
func timeGraph(ex *gpuexec.Executor, g *graph.Graph, in [][]float32, runs int) ([]time.Duration, string, error) {
	p, err := ex.CompileGPU(g)
	if err != nil {
		return nil, "", err
	}
	defer p.Close()
	if _, err := p.Run(in...); err != nil {
		return nil, "", err
	}
	var ds []*gpu.Dispatch
	variant := ""
	for _, s := range p.Steps {
		ds = append(ds, s.Dispatch)
		if s.Variant != "" {
			variant = s.Variant
		}
	}
	ts, err := repeat(ex.Dev, ds, runs)
	return ts, variant, err
}

// result is the KernelResult of node n taking time t, without Variant,
// Count and the percentages.
func result(n *graph.Node, t time.Duration) KernelResult {
	r := KernelResult{Name: n.String(), Time: t, FLOPs: n.FLOPs(), Bytes: n.Bytes()}
	if s := t.Seconds(); s > 0 {
		r.GFLOPS, r.GBps = float64(r.FLOPs)/s/1e9, float64(r.Bytes)/s/1e9
	}
	return r
}

func pct(v, ceil float64) float64 {
	if ceil <= 0 {
		return 0
	}
	return 100 * v / ceil
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }

// rate formats a GFLOP/s or GB/s figure: whole numbers from 100 up, three
// significant digits below.
func rate(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// single returns a graph of n's op alone, named like n, with seeded
// random parameters and inputs (graph.Random).
func single(n *graph.Node, seed uint64) (*graph.Graph, [][]float32, error) {
	return graph.Random(n.Name, n.Op, n.Inputs[0].Shape, seed)
}
