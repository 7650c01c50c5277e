// Package opcheck is the op checker, the heart of the test suite (like
// ggml's test-backend-ops): a table of cases, each a single op on a given
// input shape with a readable name, run on any graph.Executor and on the
// CPU reference over seeded random inputs and parameters (never zeros), and
// compared by normalised mean squared error against a per-op threshold.
// NaN or Inf fail; executors that poison their outputs and guard them (the
// GPU executor with Guard > 0) turn unwritten elements and out-of-bounds
// writes into failures.
package opcheck

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
)

// Case is one op on one input shape.
type Case struct {
	Op graph.Op    // attributes; parameters are replaced by seeded random values
	In graph.Shape // the first input's shape
	// Sliced makes the op's output the middle part of a concatenation
	// along axis 1, between two ReLUs' results, which is the graph's
	// output: an executor that writes it in place (a Strided op, see
	// graph.NewPlan) writes at an offset and, at batch > 1, a batch stride
	// larger than the output's image, and any element it writes out of
	// its slice spoils a neighbour.
	Sliced bool
	// SlicedIn makes the op's first input the middle part of a
	// concatenation along axis 1, between two ReLUs' results, which is a
	// second graph output; the input passes through a Clip to [-1, 1]
	// first (the identity on the drawn inputs), which writes it there. An
	// executor that reads it in place (an op Strided for input 0) reads at
	// an offset and, at batch > 1, a batch stride larger than the input's
	// image.
	SlicedIn bool
}

// String names the case, e.g. conv2d(n=1,c=64,h=56,w=56,o=64,k=3x3,s=1,p=1,relu),
// with ",sliced" before the closing parenthesis for a Sliced case and
// ",sliced-in" for a SlicedIn one.
func (c Case) String() string {
	s := graph.Name(c.Op, c.In)
	if c.Sliced {
		s = strings.TrimSuffix(s, ")") + ",sliced)"
	}
	if c.SlicedIn {
		s = strings.TrimSuffix(s, ")") + ",sliced-in)"
	}
	return s
}

// Graph returns the case's graph and inputs for seed: the op alone
// (graph.Random) or, Sliced, inside its concatenation, and SlicedIn,
// reading its first input from one; its inputs come first, then the
// ReLUs' (uniform in [-1, 1)), those around the input first.
func (c Case) Graph(seed uint64) (*graph.Graph, [][]float32, error) {
	if !c.Sliced && !c.SlicedIn {
		return graph.Random(c.Op.Kind(), c.Op, c.In, seed)
	}
	r := graph.NewRand(seed)
	op, shapes := c.Op.Random(r, c.In)
	out, err := op.OutShape(shapes)
	if err != nil {
		return nil, nil, err
	}
	if c.Sliced && len(out) < 2 {
		return nil, nil, fmt.Errorf("opcheck: %s: output %v has no axis 1 to concatenate along", c, out)
	}
	if c.SlicedIn && len(shapes[0]) < 2 {
		return nil, nil, fmt.Errorf("opcheck: %s: input %v has no axis 1 to concatenate along", c, shapes[0])
	}
	var b graph.Builder
	var ins []*graph.Value
	var data [][]float32
	input := func(name string, s graph.Shape) *graph.Value {
		data = append(data, r.Uniform(s.Numel(), -1, 1))
		return b.Input(name, s)
	}
	for i, s := range shapes {
		ins = append(ins, input(fmt.Sprint("in", i), s))
	}
	side := func(name string, like graph.Shape, ch int) *graph.Value {
		s := like.Clone()
		s[1] = ch
		return b.Apply(name, graph.ReLU{}, input(name+".in", s))
	}
	var in0 *graph.Value // SlicedIn: the concatenation the op's input lies in
	if c.SlicedIn {
		before, after := side("in0.before", shapes[0], 2), side("in0.after", shapes[0], 3)
		ins[0] = b.Apply("in0.clip", graph.Clip{Min: -1, Max: 1}, ins[0])
		in0 = b.Apply("in0.concat", graph.Concat{Axis: 1, N: 3}, before, ins[0], after)
	}
	var before, after *graph.Value
	if c.Sliced {
		before, after = side("before", out, 2), side("after", out, 3)
	}
	y := b.Apply(c.Op.Kind(), op, ins...)
	if c.Sliced {
		y = b.Apply("concat", graph.Concat{Axis: 1, N: 3}, before, y, after)
	}
	b.Output(y)
	if in0 != nil {
		b.Output(in0)
	}
	g, err := b.Graph()
	return g, data, err
}

// Threshold is the largest NMSE the case may show. fp32 kernels summing
// thousands of products land near 1e-13..1e-11; the thresholds leave room
// for the summation order only, not for a wrong element.
func (c Case) Threshold() float64 {
	switch c.Op.(type) {
	case *graph.Conv2D, *graph.Linear:
		return 1e-9
	}
	return 1e-10
}

// Result is the outcome of one case.
type Result struct {
	Case   Case
	NMSE   float64 // Σ(got-want)² / Σ want²
	MaxAbs float64 // max |got-want|
	Err    error   // execution error, NaN/Inf, or nil
	// Kernels are the convolution kernels that ran, where the executor's
	// programs say (gpuexec), in order.
	Kernels []string
}

// Pass reports whether the case met its threshold without error.
func (r Result) Pass() bool { return r.Err == nil && r.NMSE <= r.Case.Threshold() }

func (r Result) String() string {
	status := "ok"
	if !r.Pass() {
		status = "FAIL"
	}
	s := fmt.Sprintf("%-4s %-70s nmse=%.3e max|Δ|=%.3e", status, r.Case, r.NMSE, r.MaxAbs)
	if r.Err != nil {
		s += "  " + r.Err.Error()
	}
	return s
}

// Run runs case c with seed on ex and on the CPU reference and compares.
func Run(c Case, ex graph.Executor, seed uint64) Result {
	r := Result{Case: c}
	g, in, err := c.Graph(seed)
	if err != nil {
		r.Err = err
		return r
	}
	want, err := reference(c, seed, g, in)
	if err != nil {
		r.Err = fmt.Errorf("reference: %w", err)
		return r
	}
	got, kernels, err := runOn(ex, g, in)
	r.Kernels = kernels
	if err != nil {
		r.Err = err
		return r
	}
	r.NMSE, r.MaxAbs, r.Err = Compare(got, want)
	return r
}

// refs memoises the reference output per case and seed (graph.Random
// draws the same parameters and inputs for both): the variant suite and
// check-ops --variant all run each case on every kernel, and the float64
// reference costs more than the GPU run. It holds at most refsMax bytes;
// past that, outputs are computed again.
var refs = struct {
	sync.Mutex
	out   map[string][]float32
	bytes int
}{out: map[string][]float32{}}

const refsMax = 1 << 30

// reference returns the CPU reference's output for case c with seed's
// graph g and inputs in.
func reference(c Case, seed uint64, g *graph.Graph, in [][]float32) ([]float32, error) {
	key := fmt.Sprintf("%s#%d", c, seed)
	refs.Lock()
	want, ok := refs.out[key]
	refs.Unlock()
	if ok {
		return want, nil
	}
	want, _, err := runOn(ref.Executor{}, g, in)
	if err != nil {
		return nil, err
	}
	refs.Lock()
	defer refs.Unlock()
	if refs.bytes+4*len(want) <= refsMax {
		refs.out[key] = want
		refs.bytes += 4 * len(want)
	}
	return want, nil
}

// runOn compiles and runs g on ex: its first output and, for programs
// that say (the GPU executor's), the convolution kernels that ran.
func runOn(ex graph.Executor, g *graph.Graph, in [][]float32) ([]float32, []string, error) {
	p, err := ex.Compile(g)
	if err != nil {
		return nil, nil, err
	}
	defer p.Close()
	var kernels []string
	if k, ok := p.(interface{ Kernels() []string }); ok {
		kernels = k.Kernels()
	}
	out, err := p.Run(in...)
	if err != nil {
		return nil, kernels, err
	}
	return out[0], kernels, nil
}

// Compare returns the NMSE Σ(got-want)²/Σwant² and max |got-want|, and an
// error for a length mismatch or a NaN/Inf in got (naming the first).
func Compare(got, want []float32) (nmse, maxAbs float64, err error) {
	if len(got) != len(want) {
		return math.Inf(1), math.Inf(1), fmt.Errorf("%d elements, want %d", len(got), len(want))
	}
	var num, den float64
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1), math.Inf(1), fmt.Errorf("element %d is %v (unwritten or overflow), want %v", i, g, w)
		}
		d := g - w
		num += d * d
		den += w * w
		maxAbs = math.Max(maxAbs, math.Abs(d))
	}
	if den == 0 {
		den = 1
	}
	return num / den, maxAbs, nil
}
