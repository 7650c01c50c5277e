package gpuexec_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// The tuner times the variants of a shape once, picks one that supports
// it, and a second tuner on the same cache directory reuses the choice
// without timing anything.
func TestTunerCache(t *testing.T) {
	dev := gputest.Device(t)
	op := graph.Conv(8, 16, 3, 1, 1)
	op.ReLU = true
	g, _, err := graph.Random("conv", op, graph.Shape{1, 8, 6, 6}, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := g.Nodes[0]
	geom := op.Geom(n.Inputs[0].Shape)
	dir := t.TempDir()
	var log bytes.Buffer
	tu := gpuexec.NewTuner(dev, dir)
	tu.Runs, tu.Progress = 1, &log
	v := tu.Kernel(geom)
	if k, ok := shaders.Kernel(v); !ok || !k.Supports(geom) || !k.Tune {
		t.Fatalf("tuner chose %q, which does not support %s", v, n)
	}
	if !strings.Contains(log.String(), "tuned "+n.String()+": "+v) {
		t.Errorf("progress %q does not name the tuned shape and its choice %s", log.String(), v)
	}
	if _, err := os.Stat(tu.Path); err != nil {
		t.Fatalf("no cache file: %v", err)
	}
	log.Reset()
	tu2 := gpuexec.NewTuner(dev, dir)
	tu2.Progress = &log
	if got := tu2.Kernel(geom); got != v {
		t.Errorf("cached choice %q, want %q", got, v)
	}
	if log.Len() != 0 {
		t.Errorf("the cached shape was tuned again: %q", log.String())
	}
}
