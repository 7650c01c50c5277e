package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph/perf"
)

// bench --profile prints one row per layer, its dispatches (a packing
// pass, a K-split reduction) folded in, with GFLOP/s and GB/s as shares of
// the device's ceilings, over several passes. The ceilings come from the
// user cache (planted here: measuring them takes half a minute on
// lavapipe, and TestMeasureCeilings in graph/perf covers that), and every
// row's shares are of the planted values.
func TestBenchProfile(t *testing.T) {
	dev := gputest.Device(t)
	cache := t.TempDir()
	dir := filepath.Join(cache, "resnet-gpu")
	const gflops, gbps = 7.5, 3.25
	planted, err := json.Marshal(map[string]any{"GFLOPS": gflops, "GBps": gbps, "GEMM": "planted gemm", "Copy": "planted copy", "measured": "2026-01-02T03:04:05Z"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(perf.CeilingsPath(dev, perf.SizeFor(dev), dir), planted, 0o644); err != nil {
		t.Fatal(err)
	}
	out, e, c := cli(t, []string{"XDG_CACHE_HOME=" + cache}, "bench", "--arch", "resnet18", "--crop", "32", "--profile")
	if c != 0 {
		t.Fatalf("exit %d: %s\n%s", c, e, out)
	}
	if !strings.Contains(out, "median of 5 profiled passes; ceilings 7.5 GFLOP/s (planted gemm), 3.2 GB/s (planted copy)") ||
		strings.Contains(e, "measuring the compute ceiling") || !strings.Contains(e, "measured 2026-01-02 03:04 UTC, cached in ") {
		t.Fatalf("the planted ceilings were not used:\n%s\nstderr: %s", out, e)
	}
	row := regexp.MustCompile(`^ *([0-9.]+) +([0-9.]+)% +([0-9.]+) +([0-9.]+)% +([0-9.]+) +([0-9.]+)%  (\S+)(?: \((\d+) dispatches\))? +(\S+) (\S+)$`)
	layers := map[string]bool{}
	rows, folded := 0, 0
	for _, line := range strings.Split(out, "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		rows++
		if layers[m[9]] {
			t.Errorf("layer %s has two rows", m[9])
		}
		layers[m[9]] = true
		if m[8] != "" {
			folded++
		}
		if strings.HasPrefix(m[10], "conv2d(") && m[3] == "0.00" {
			t.Errorf("convolution row without GFLOP/s: %q", line)
		}
		num := func(i int) float64 { f, _ := strconv.ParseFloat(m[i], 64); return f }
		// The shares are printed to 0.1 %, from values printed to 0.01.
		if pct := 100 * num(3) / gflops; math.Abs(pct-num(4)) > 0.05+100*0.005/gflops {
			t.Errorf("%s: %s GFLOP/s is %s%% of peak, want %.2f%% of the planted %v", m[9], m[3], m[4], pct, gflops)
		}
		if pct := 100 * num(5) / gbps; math.Abs(pct-num(6)) > 0.05+100*0.005/gbps {
			t.Errorf("%s: %s GB/s is %s%% of bandwidth, want %.2f%% of the planted %v", m[9], m[5], m[6], pct, gbps)
		}
	}
	if rows < 20 || !layers["conv1"] || !layers["fc"] {
		t.Errorf("%d layer rows (conv1 %v, fc %v), want resnet18's:\n%s", rows, layers["conv1"], layers["fc"], out)
	}
	if folded == 0 {
		t.Errorf("no row folds several dispatches (lavapipe's direct4 packs its input first):\n%s", out)
	}
}
