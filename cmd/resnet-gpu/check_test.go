package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// check runs the kernels classify runs: with --tune on, the tuner's
// cached choices (here planted: direct, which no adapter picks untuned,
// for the 1×1 convolutions), with --tune off the built-in
// choice; it names them in one line.
func TestCheckTuned(t *testing.T) {
	dev := gputest.Device(t)
	a, err := resnet.Lookup("resnet18")
	if err != nil {
		t.Fatal(err)
	}
	g, err := resnet.Build(a, a.ShapeWeights(), resnet.BuildOptions{Batch: 1, Height: 32, Width: 32})
	if err != nil {
		t.Fatal(err)
	}
	graph.Optimize(g)
	planted := map[string]string{}
	plant := func(geom shaders.ConvGeom) string {
		key := graph.Name(graph.ConvOf(geom))
		if k, _ := shaders.Kernel("direct"); k.Computes(geom) && geom.Is1x1() { // few: lavapipe runs direct slowly
			planted[key] = k.Name
		} else {
			planted[key] = shaders.Defaults(geom, dev.Caps())[0] // cached too: nothing is tuned
		}
		return planted[key]
	}
	cache := t.TempDir()
	tu := gpuexec.NewTuner(dev, filepath.Join(cache, "resnet-gpu"))
	want := map[string]string{}
	for mode, opt := range map[string]gpuexec.Options{"on": {ConvKernel: plant}, "off": {}} {
		ls, err := gpuexec.Launches(g, dev.Caps(), opt)
		if err != nil {
			t.Fatal(err)
		}
		var lk []layerKernel
		for _, l := range ls {
			lk = append(lk, layerKernel{l.Node, l.Variant})
		}
		want[mode] = kernelCounts(lk)
	}
	if want["on"] == want["off"] {
		t.Fatalf("planted choices run the defaults' kernels: %s", want["on"])
	}
	b, err := json.Marshal(planted)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(tu.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tu.Path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"on", "off"} {
		out, e, c := cli(t, []string{"XDG_CACHE_HOME=" + cache}, "check", "--arch", "resnet18", "--crop", "32", "--tune", mode)
		if c != 0 {
			t.Fatalf("--tune %s: exit %d: %s\n%s", mode, c, e, out)
		}
		if strings.Contains(e, "tuning") {
			t.Errorf("--tune %s: tuned although every shape is cached: %s", mode, e)
		}
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "convolution kernels,") {
				line = l
			}
		}
		if !strings.HasSuffix(line, ": "+want[mode]) {
			t.Errorf("--tune %s: %q, want the kernels %s", mode, line, want[mode])
		}
		if mode == "on" && !strings.Contains(line, "tuned (--tune on, cache "+tu.Path+")") {
			t.Errorf("--tune on: %q does not say the choice is tuned, from %s", line, tu.Path)
		}
	}
	_, e, c := cli(t, nil, "check", "--device", "cpu")
	oneErrorLine(t, e, c, 2, "--device cpu: check compares the GPU")
}
