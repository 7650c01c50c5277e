package main

import (
	"regexp"
	"strings"
	"testing"
)

// bench --profile prints one row per layer, its dispatches (a packing
// pass, a K-split reduction) folded in, with GFLOP/s and their share of
// the measured ceiling, over several passes (about 35 s on lavapipe, most
// of it measuring the ceilings).
func TestBenchProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("short: measuring the ceilings takes half a minute on lavapipe")
	}
	out, e, c := cli(t, nil, "bench", "--arch", "resnet18", "--crop", "32", "--profile")
	if c != 0 {
		t.Fatalf("exit %d: %s\n%s", c, e, out)
	}
	if !strings.Contains(out, "median of 5 profiled passes; ceilings ") || !strings.Contains(e, "measuring the compute ceiling") {
		t.Fatalf("no passes and ceilings line:\n%s\nstderr: %s", out, e)
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
	}
	if rows < 20 || !layers["conv1"] || !layers["fc"] {
		t.Errorf("%d layer rows (conv1 %v, fc %v), want resnet18's:\n%s", rows, layers["conv1"], layers["fc"], out)
	}
	if folded == 0 {
		t.Errorf("no row folds several dispatches (lavapipe's direct4 packs its input first):\n%s", out)
	}
}
