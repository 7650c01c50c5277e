package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

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
		return printProfile(gp, in)
	}
	return nil
}

// printProfile runs one forward pass with a timestamp after every dispatch
// and prints the layers by GPU time.
func printProfile(p *gpuexec.Program, in []float32) error {
	_, t, err := p.RunProfiled(in)
	if err != nil {
		return err
	}
	if len(t.Spans) == 0 {
		fmt.Println("profile: this adapter has no timestamp queries")
		return nil
	}
	type row struct {
		name, kernel string
		d            time.Duration
	}
	var rows []row
	var sum time.Duration
	for i, s := range p.Steps {
		k := s.Dispatch.Pipeline.Key.String()
		rows = append(rows, row{s.Node.Name + " " + s.Node.String(), k, t.Spans[i]})
		sum += t.Spans[i]
	}
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].d > rows[b].d })
	fmt.Printf("\n%-9s %-6s  %-18s %s\n", "GPU ms", "share", "kernel", "layer")
	for _, r := range rows {
		fmt.Printf("%9.4f %5.1f%%  %-18s %s\n", ms(r.d), 100*float64(r.d)/float64(sum), r.kernel, r.name)
	}
	fmt.Printf("\nsum of %d dispatches %.3f ms; wall time of the profiled pass %.3f ms (one pass per dispatch, so more than a normal run)\n", len(rows), ms(sum), ms(t.Wall))
	return nil
}
