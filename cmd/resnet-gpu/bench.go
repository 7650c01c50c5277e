package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/perf"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

func runBench(args []string) error {
	fs := newFlags("bench", "[flags]")
	var mf modelFlags
	mf.register(fs, "synthetic:0")
	batch := fs.Int("batch", 1, "images per forward pass")
	runs := fs.Int("runs", 20, "timed forward passes (at least 20)")
	warm := fs.Int("warmup", 3, "untimed forward passes before timing (and at least one second of them, so GPU clocks ramp up)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	profile := fs.Bool("profile", false, "per-layer GPU time from timestamp queries")
	remeasure := fs.Bool("remeasure", false, "with --profile: "+remeasureUsage)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *batch < 1 || *batch > 1024 {
		return fmt.Errorf("--batch %d: want 1..1024: %w", *batch, errUsage)
	}
	if *runs < 20 {
		return fmt.Errorf("--runs %d: want at least 20: %w", *runs, errUsage)
	}
	if *warm < 0 {
		return fmt.Errorf("--warmup %d: want 0 or more: %w", *warm, errUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (bench runs synthetic inputs): %w", fs.Arg(0), errUsage)
	}
	if err := mf.check(); err != nil {
		return err
	}
	t0 := time.Now()
	m, err := mf.load()
	if err != nil {
		return err
	}
	defer m.Close()
	in := weights.SyntheticInput(*batch, 3, m.Transform.Crop, m.Transform.Crop, 0)
	p, err := m.Program(*batch)
	if err != nil {
		return err
	}
	if _, err := p.Run(in); err != nil {
		return err
	}
	cold := time.Since(t0)
	for i, t := 0, time.Now(); i < *warm || time.Since(t) < time.Second; i++ {
		if _, err := p.Run(in); err != nil {
			return err
		}
	}
	gp, _ := p.(*gpuexec.Program)
	lat := make([]time.Duration, *runs)
	var gpuT []time.Duration // GPU time of the dispatches, where the adapter has timestamps
	for i := range lat {
		t := time.Now()
		if gp != nil {
			_, tm, err := gp.RunTimed(in)
			if err != nil {
				return err
			}
			if tm.GPU > 0 {
				gpuT = append(gpuT, tm.GPU)
			}
		} else if _, err := p.Run(in); err != nil {
			return err
		}
		lat[i] = time.Since(t)
	}
	st := perf.Summarize(lat)
	var gst *perf.Stats // GPU time, where every run has it
	if len(gpuT) == len(lat) {
		g := perf.Summarize(gpuT)
		gst = &g
	}
	ips := float64(*batch) / st.Median.Seconds()
	name, backend := m.Exec.Name(), "cpu"
	if ge := m.GPU(); ge != nil {
		name, backend = ge.Dev.Info.Name, ge.Dev.Info.Backend
	}
	if *asJSON && !*profile {
		obj := map[string]any{
			"arch": m.Arch.Name, "batch": *batch,
			"device":        map[string]string{"name": name, "backend": backend},
			"latency_ms":    map[string]float64{"median": ms(st.Median), "p10": ms(st.P10), "p90": ms(st.P90)},
			"images_per_s":  ips,
			"cold_start_ms": ms(cold),
			"runs":          *runs,
		}
		if gst != nil {
			obj["gpu_ms"] = map[string]float64{"median": ms(gst.Median), "p10": ms(gst.P10), "p90": ms(gst.P90)}
		}
		return json.NewEncoder(os.Stdout).Encode(obj)
	}
	fmt.Printf("%s batch %d on %s (%s), weights %s\n", m.Arch.Name, *batch, name, backend, m.Weights.Name)
	fmt.Printf("cold start (load, compile, first forward): %.1f ms\n", ms(cold))
	fmt.Printf("latency over %d runs: median %.3f ms, p10 %.3f ms, p90 %.3f ms; %.1f images/s\n", *runs, ms(st.Median), ms(st.P10), ms(st.P90), ips)
	if gst != nil {
		fmt.Printf("GPU time of the dispatches (timestamps): median %.3f ms, p10 %.3f ms, p90 %.3f ms\n", ms(gst.Median), ms(gst.P10), ms(gst.P90))
	}
	if *profile {
		if gp == nil {
			return fmt.Errorf("--profile needs --device gpu")
		}
		return printProfile(m.GPU().Dev, gp, in, *remeasure)
	}
	return nil
}

// profilePasses is the number of profiled forward passes bench
// --profile takes the median of.
const profilePasses = 5

// printProfile runs profilePasses forward passes with a timestamp after
// every dispatch and prints the layers by their median GPU time, a
// layer's passes (a convolution's packing or K-split reduction) in one
// row, with its GFLOP/s and GB/s as percentages of the device's ceilings
// (measured once and cached: ceilings).
func printProfile(dev *gpu.Device, p *gpuexec.Program, in []float32, remeasure bool) error {
	spans := make([][]time.Duration, len(p.Steps))
	var wall []time.Duration
	for range profilePasses {
		_, t, err := p.RunProfiled(in)
		if err != nil {
			return err
		}
		if len(t.Spans) != len(p.Steps) {
			fmt.Println("profile: this adapter has no timestamp queries")
			return nil
		}
		for i, d := range t.Spans {
			spans[i] = append(spans[i], d)
		}
		wall = append(wall, t.Wall)
	}
	ceil, err := ceilings(dev, remeasure)
	if err != nil {
		return err
	}
	type row struct {
		node       *graph.Node
		kernel     string
		dispatches int
		d          time.Duration
	}
	var rows []*row
	var sum time.Duration
	for i, s := range p.Steps {
		if len(rows) == 0 || rows[len(rows)-1].node != s.Node {
			k := s.Variant
			if k == "" {
				k = s.Dispatch.Pipeline.Key.String()
			}
			rows = append(rows, &row{node: s.Node, kernel: k})
		}
		r := rows[len(rows)-1]
		d := perf.Summarize(spans[i]).Median
		r.d += d
		r.dispatches++
		sum += d
	}
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].d > rows[b].d })
	fmt.Printf("\nmedian of %d profiled passes; ceilings %.1f GFLOP/s (%s), %.1f GB/s (%s)\n", profilePasses, ceil.GFLOPS, ceil.GEMM, ceil.GBps, ceil.Copy)
	fmt.Printf("%-9s %-6s %9s %6s %8s %6s  %-22s %s\n", "GPU ms", "share", "GFLOP/s", "%peak", "GB/s", "%bw", "kernel", "layer")
	for _, r := range rows {
		secs := r.d.Seconds()
		gflops, gbps := float64(r.node.FLOPs())/secs/1e9, float64(r.node.Bytes())/secs/1e9
		k := r.kernel
		if r.dispatches > 1 {
			k += fmt.Sprintf(" (%d dispatches)", r.dispatches)
		}
		fmt.Printf("%9.4f %5.1f%% %9.2f %5.1f%% %8.2f %5.1f%%  %-22s %s %s\n", ms(r.d), 100*float64(r.d)/float64(sum),
			gflops, 100*gflops/ceil.GFLOPS, gbps, 100*gbps/ceil.GBps, k, r.node.Name, r.node)
	}
	fmt.Printf("\nsum of %d layers (%d dispatches) %.3f ms; median wall time of a profiled pass %.3f ms (one pass per dispatch, so more than a normal run)\n",
		len(rows), len(p.Steps), ms(sum), ms(perf.Summarize(wall).Median))
	return nil
}
