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
	op := &graph.Conv2D{Cin: 8, Cout: 16, KH: 3, KW: 3, Stride: 1, Pad: 1, ReLU: true}
	g, _, err := graph.Random("conv", op, graph.Shape{1, 8, 6, 6}, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := g.Nodes[0]
	dir := t.TempDir()
	var log bytes.Buffer
	tu := gpuexec.NewTuner(dev, dir)
	tu.Runs, tu.Progress = 1, &log
	v := tu.Variant(n)
	if !shaders.ConvSupports(v, op, n.Inputs[0].Shape) {
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
	if got := tu2.Variant(n); got != v {
		t.Errorf("cached choice %q, want %q", got, v)
	}
	if log.Len() != 0 {
		t.Errorf("the cached shape was tuned again: %q", log.String())
	}
}
