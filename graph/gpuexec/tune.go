package gpuexec

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Tuner picks each convolution's kernel by timing every variant that
// supports its shape on the device, once per shape, and remembers the
// choice in a JSON file per adapter (in the user cache directory) so later
// runs start fast.
//
// A Tuner is safe for concurrent use; tunings take turns.
type Tuner struct {
	Dev      *gpu.Device
	Path     string            // cache file; "" keeps choices in memory only
	Runs     int               // timed runs per candidate (default 5)
	Progress io.Writer         // a line per tuned shape; nil = quiet
	Choices  map[string]string // shape (graph.Name) → kernel

	mu sync.Mutex
}

// NewTuner returns a tuner for dev whose cache lives in dir (normally
// $XDG_CACHE_HOME/resnet-gpu); an unreadable cache is ignored.
func NewTuner(dev *gpu.Device, dir string) *Tuner {
	t := &Tuner{Dev: dev, Runs: 5, Choices: map[string]string{}}
	if dir != "" {
		h := sha256.Sum256([]byte(dev.Info.Name + "\x00" + dev.Info.Backend + "\x00" + dev.Info.Driver + "\x00" + fmt.Sprint(shaders.KernelNames())))
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

// Kernel returns the tuned kernel for g, timing the candidates
// (shaders.Candidates) on first sight of its shape. It is meant for
// Options.ConvKernel; a shape whose timing fails, or that no tuned kernel
// supports, gets the untuned default ("").
func (t *Tuner) Kernel(g shaders.ConvGeom) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	op, in := graph.ConvOf(g)
	key := graph.Name(op, in)
	if v, ok := t.Choices[key]; ok {
		if k, ok := shaders.Kernel(v); ok && k.Computes(g) {
			return v
		}
	}
	cands := shaders.Candidates(g)
	if len(cands) == 0 {
		return ""
	}
	times, errs := t.time(op, in, cands)
	best, bestT := "", time.Duration(math.MaxInt64)
	var all []string // every candidate's time, for the progress line
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
	if t.Progress != nil {
		fmt.Fprintf(t.Progress, "tuned %s: %s (%.3f ms; %s)\n", key, best, float64(bestT)/1e6, strings.Join(all, ", "))
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

// save writes the choices atomically (temporary file, then rename).
func (t *Tuner) save() {
	if t.Path == "" {
		return
	}
	b, err := json.MarshalIndent(t.Choices, "", " ")
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(t.Path), 0o755); err != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(t.Path), filepath.Base(t.Path)+".*.tmp")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), t.Path) != nil {
		os.Remove(f.Name())
	}
}
