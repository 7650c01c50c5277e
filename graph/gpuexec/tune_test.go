package gpuexec_test

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strconv"
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
	tu.Runs, tu.Progress, tu.Verbose = 1, &log, true
	v := tu.Kernel(geom)
	if k, ok := shaders.Kernel(v); !ok || !k.Supports(geom) || !slices.Contains(tu.Candidates(geom), v) {
		t.Fatalf("tuner chose %q, not a candidate that supports %s", v, n)
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

// The tuner's candidates include the kernel the adapter runs untuned (on
// lavapipe direct4, which the registry does not mark for tuning), so the
// choice is never slower than that default by the tuner's own timings; a
// compilation with the tuner tunes the graph's shapes first, says how
// many, and a second one times nothing.
func TestTunerIncludesDefault(t *testing.T) {
	dev := gputest.Device(t)
	op := graph.Conv(16, 16, 3, 1, 1)
	g, _, err := graph.Random("conv", op, graph.Shape{1, 16, 8, 8}, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := g.Nodes[0]
	def := gpuexec.New(dev, gpuexec.Options{}).Kernel(n)
	var log bytes.Buffer
	tu := gpuexec.NewTuner(dev, "")
	tu.Runs, tu.Progress, tu.Verbose = 1, &log, true
	cands := tu.Candidates(op.Geom(n.Inputs[0].Shape))
	if def == "" || !slices.Contains(cands, def) {
		t.Fatalf("candidates %v lack the default %q", cands, def)
	}
	p, err := gpuexec.New(dev, gpuexec.Options{Tuner: tu}).CompileGPU(g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out := log.String()
	if !strings.Contains(out, "tuning convolution kernels on "+dev.Info.Name+": 1 shapes, "+strconv.Itoa(len(cands))+" candidates") {
		t.Errorf("no status line counting the shape and its %d candidates: %q", len(cands), out)
	}
	m := regexp.MustCompile(`tuned \S+: (\S+) \([0-9.]+ ms; (.*)\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no line with the candidates' times: %q", out)
	}
	best, times := m[1], map[string]float64{}
	for _, f := range strings.Split(m[2], ", ") {
		name, ms, _ := strings.Cut(f, " ")
		if v, err := strconv.ParseFloat(ms, 64); err == nil {
			times[name] = v
		}
	}
	if len(times) != len(cands) {
		t.Errorf("times of %d candidates, want %d: %q", len(times), len(cands), m[2])
	}
	if _, ok := times[def]; !ok {
		t.Errorf("the default %s was not timed: %q", def, m[2])
	} else if times[best] > times[def] {
		t.Errorf("tuned %s (%.3f ms) is slower than the default %s (%.3f ms)", best, times[best], def, times[def])
	}
	t.Log(out)
	if got := p.Kernels(); !slices.Equal(got, []string{best}) {
		t.Errorf("the program runs %v, the tuner chose %s", got, best)
	}
	log.Reset()
	p2, err := gpuexec.New(dev, gpuexec.Options{Tuner: tu}).CompileGPU(g)
	if err != nil {
		t.Fatal(err)
	}
	p2.Close()
	if log.Len() != 0 {
		t.Errorf("a tuned shape was tuned again: %q", log.String())
	}
}
