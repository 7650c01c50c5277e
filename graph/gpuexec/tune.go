package gpuexec

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/progress"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Tuner picks each convolution's kernel by timing, once per shape, every
// candidate that computes it on the device (candidates), and remembers
// the choice in a JSON file per adapter (in the user cache directory) so
// later runs start fast.
//
// A Tuner is safe for concurrent use; tunings take turns.
type Tuner struct {
	Dev  *gpu.Device
	Path string // cache file; "" keeps choices in memory only
	Runs int    // timed runs per candidate (default 5)
	// Progress, if set, receives a status line per tuning ("tuning
	// convolution kernels on …: 27 shapes, 210 candidates") or, on a terminal, a progress bar of the candidates
	// timed (internal/progress).
	Progress io.Writer
	// Verbose adds to Progress a line per tuned shape with every
	// candidate's time.
	Verbose bool
	Choices map[string]string // shape (graph.Name) → kernel

	mu sync.Mutex
}

// cacheVersion changes when the meaning of a cached choice does: 2 when
// the candidates came to include the adapter's default kernel.
const cacheVersion = "2"

// NewTuner returns a tuner for dev whose cache lives in dir (normally
// $XDG_CACHE_HOME/resnet-gpu); an unreadable cache is ignored.
func NewTuner(dev *gpu.Device, dir string) *Tuner {
	t := &Tuner{Dev: dev, Runs: 5, Choices: map[string]string{}}
	if dir != "" {
		h := sha256.Sum256([]byte(dev.Info.Name + "\x00" + dev.Info.Backend + "\x00" + dev.Info.Driver + "\x00" + fmt.Sprint(shaders.KernelNames()) + "\x00" + cacheVersion))
		t.Path = filepath.Join(dir, fmt.Sprintf("tune-%x.json", h[:8]))
		if b, err := os.ReadFile(t.Path); err == nil {
			var c map[string]string
			if json.Unmarshal(b, &c) == nil {
				for k, v := range c {
					t.Choices[k] = v
				}
			}
		}
	}
	return t
}

// Candidates returns the kernels the tuner times for g: the adapter's
// untuned default (the kernel an executor on Dev picks without a tuner)
// first, then the registry's tuning candidates (shaders.Candidates). A
// shape with a single candidate needs no timing.
func (t *Tuner) Candidates(g shaders.ConvGeom) []string {
	cands := shaders.Candidates(g)
	def, _, err := (&Executor{caps: t.Dev.Caps()}).chooseConv(g)
	if err != nil || slices.Contains(cands, def) {
		return cands
	}
	return append([]string{def}, cands...)
}

// Kernel returns the tuned kernel for g, timing the candidates on first
// sight of its shape. A shape whose timing fails, or with fewer than two
// candidates, gets the untuned default ("").
func (t *Tuner) Kernel(g shaders.ConvGeom) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.cached(g); ok {
		return v
	}
	return t.tune(g, t.Candidates(g), nil)
}

// cached returns the remembered choice for g, if it still computes g.
func (t *Tuner) cached(g shaders.ConvGeom) (string, bool) {
	v, ok := t.Choices[graph.Name(graph.ConvOf(g))]
	if k, known := shaders.Kernel(v); ok && known && k.Computes(g) {
		return v, true
	}
	return "", false
}

// Tune times the candidates of every convolution shape of g (as an
// executor on Dev lowers g) that the tuner has no choice for yet,
// reporting to Progress how many there are and how far it got; a
// compilation with the tuner then times nothing. Shapes that only appear
// once kernels are chosen (a fused input stage) are tuned when the
// compilation meets them.
func (t *Tuner) Tune(g *graph.Graph) {
	t.mu.Lock()
	defer t.mu.Unlock()
	type shape struct {
		g     shaders.ConvGeom
		cands []string
	}
	var todo []shape
	seen := map[string]bool{}
	total := 0
	record := func(g shaders.ConvGeom) string {
		if v, ok := t.cached(g); ok {
			return v
		}
		key := graph.Name(graph.ConvOf(g))
		if cands := t.Candidates(g); len(cands) > 1 && !seen[key] {
			seen[key] = true
			todo = append(todo, shape{g, cands})
			total += len(cands)
		}
		return ""
	}
	if _, err := Launches(g, t.Dev.Caps(), Options{ConvKernel: record}); err != nil || len(todo) == 0 {
		return // a graph that does not lower fails its compilation
	}
	ph := progress.Start(t.Progress, total, fmt.Sprintf("tuning convolution kernels on %s: %d shapes, %d candidates", t.Dev.Info.Name, len(todo), total))
	defer ph.Done()
	for _, s := range todo {
		t.tune(s.g, s.cands, ph)
		ph.Add(len(s.cands))
	}
}

// tune times cands for g, remembers and returns the fastest ("" when
// there is nothing to choose or every candidate failed); with Verbose, it
// prints every candidate's time, above ph's bar where there is one.
func (t *Tuner) tune(g shaders.ConvGeom, cands []string, ph *progress.Phase) string {
	if len(cands) < 2 {
		return ""
	}
	op, in := graph.ConvOf(g)
	key := graph.Name(op, in)
	times, errs := t.time(op, in, cands)
	best, bestT := "", time.Duration(math.MaxInt64)
	var all []string // every candidate's time, for the verbose line
	for i, v := range cands {
		if errs[i] != nil {
			all = append(all, v+" failed")
			continue
		}
		all = append(all, fmt.Sprintf("%s %.3f", v, float64(times[i])/1e6))
		if times[i] < bestT {
			best, bestT = v, times[i]
		}
	}
	if best == "" {
		return ""
	}
	if t.Verbose && t.Progress != nil {
		line := fmt.Sprintf("tuned %s: %s (%.3f ms; %s)", key, best, float64(bestT)/1e6, strings.Join(all, ", "))
		if ph != nil {
			ph.Printf("%s", line)
		} else {
			fmt.Fprintln(t.Progress, line)
		}
	}
	t.Choices[key] = best
	t.save()
	return best
}

// time measures variants of one convolution on a one-node graph with
// random parameters: it compiles them all, then runs them in turn, round
// after round, so that every candidate meets the same GPU clocks: rounds
// for at least 50 ms to bring the GPU out of its idle clocks (measured one
// after another, each right after its compilation, candidates ran at
// clocks up to 5× apart on an NVIDIA H200, and the ranking was noise), then
// Runs timed rounds; a candidate's time is its best, from GPU timestamps
// where the adapter has them. A candidate that fails to compile or run
// gets an error.
func (t *Tuner) time(op *graph.Conv2D, in graph.Shape, variants []string) ([]time.Duration, []error) {
	times := make([]time.Duration, len(variants))
	errs := make([]error, len(variants))
	g, _, err := graph.Random("conv", op, in, 1)
	progs := make([]*Program, len(variants))
	for i, v := range variants {
		if err != nil {
			errs[i] = err
			continue
		}
		ex := New(t.Dev, Options{ConvKernel: func(shaders.ConvGeom) string { return v }})
		if progs[i], errs[i] = ex.CompileGPU(g); errs[i] == nil {
			defer progs[i].Close()
		}
	}
	round := func(record bool) bool {
		ran := false
		for i, p := range progs {
			if errs[i] != nil {
				continue
			}
			d, err := p.kernelTime()
			if errs[i] = err; err == nil {
				ran = true
				if record {
					times[i] = min(times[i], d)
				}
			}
		}
		return ran
	}
	for r, start := 0, time.Now(); r < 1000 && (r < 2 || time.Since(start) < 50*time.Millisecond); r++ {
		if !round(false) {
			return times, errs
		}
	}
	for i := range times {
		times[i] = time.Duration(math.MaxInt64)
	}
	runs := t.Runs
	if runs <= 0 {
		runs = 5
	}
	for range runs {
		round(true)
	}
	return times, errs
}

// kernelTime runs the program's dispatches once (one pass) and returns
// their GPU time (timestamps) or, without timestamps, the wall time.
func (p *Program) kernelTime() (time.Duration, error) {
	tm, err := p.e.Dev.Run(p.dispatches(), nil, false)
	return tm.Kernels(), err
}

// save writes the choices to the cache file, if any.
func (t *Tuner) save() {
	if t.Path != "" {
		WriteCache(t.Path, t.Choices)
	}
}

// WriteCache writes v as indented JSON to the cache file path atomically
// (a temporary file, then a rename), making its folder; a cache that
// cannot be written is not an error, so it returns nothing. The tuner's
// and graph/perf's ceilings caches are written by it.
func WriteCache(path string, v any) {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil || os.MkdirAll(filepath.Dir(path), 0o755) != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), path) != nil {
		os.Remove(f.Name())
	}
}
