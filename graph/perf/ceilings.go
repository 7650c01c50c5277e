package perf

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/progress"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Ceilings are what the device attains at best: the roofs the kernels are
// measured against.
type Ceilings struct {
	// GFLOPS is the best GFLOP/s of any convolution kernel of the registry
	// on a square GEMM posed as a 1×1 convolution and on a 3×3
	// convolution, so on every adapter the kernel it runs fastest sets it
	// (on CPU adapters direct4, which the GEMM kernels trail there by far).
	GFLOPS float64
	GBps   float64 // GB/s of a vec4 copy (bytes read plus bytes written)
	// GEMM and Copy say what was measured, e.g.
	// "conv 3x3 c256→256 14² via conv2d/direct4 (wall clock)".
	GEMM, Copy string
}

// CeilingSize chooses the problem sizes of MeasureCeilings.
type CeilingSize int

const (
	// Small is a 256³ GEMM, a 3×3 convolution of 256 channels at 14² and
	// a 4 MiB copy: for CPU adapters such as Mesa's lavapipe, which run at
	// tens of GFLOP/s.
	Small CeilingSize = iota
	// Large is a 4096³ GEMM, a 3×3 convolution of 512 channels at 56² and
	// a 1 GiB copy (less where the adapter's buffer limits are lower):
	// for real GPUs, large enough to fill them.
	Large
)

// String names the size: "small" or "large".
func (s CeilingSize) String() string {
	if s == Small {
		return "small"
	}
	return "large"
}

// SizeFor returns Small for a CPU adapter and Large for any other.
func SizeFor(dev *gpu.Device) CeilingSize {
	if dev.Caps().CPU {
		return Small
	}
	return Large
}

// sizes returns the problem sizes of s, GEMM M = N = K, the channels and
// side of the 3×3 convolution and the copy's bytes, and the number of
// timed runs of each kernel after its warm-up.
func (s CeilingSize) sizes() (gemm, c3, hw3 int, copyBytes uint64, runs int) {
	if s == Small {
		return 256, 256, 14, 4 << 20, 5
	}
	return 4096, 512, 56, 1 << 30, 10
}

// MeasureCeilings measures the device's attainable GFLOP/s and GB/s at the
// given size (see Ceilings), reporting its progress to w (nil: quiet): one
// line, or a bar on a terminal. Each kernel is warmed up, then timed a few
// times; the fastest run counts.
func MeasureCeilings(dev *gpu.Device, size CeilingSize, w io.Writer) (Ceilings, error) {
	n, c3, hw3, bytes, runs := size.sizes()
	gemm := graph.Conv(n, n, 1, 1, 0)
	h := 1 // H·W = N with H ≤ W as close as possible
	for d := 1; d*d <= n; d++ {
		if n%d == 0 {
			h = d
		}
	}
	shapes := []computeShape{
		{fmt.Sprintf("gemm %dx%dx%d", n, n, n), gemm, graph.Shape{1, n, h, n / h}},
		{"", graph.Conv(c3, c3, 3, 1, 1), graph.Shape{1, c3, hw3, hw3}},
	}
	var c Ceilings
	var err error
	if c.GFLOPS, c.GEMM, err = measureCompute(dev, shapes, runs, w); err != nil {
		return Ceilings{}, err
	}
	if c.GBps, c.Copy, err = measureCopy(dev, bytes, runs); err != nil {
		return Ceilings{}, err
	}
	return c, nil
}

// clock names how times are taken on dev.
func clock(dev *gpu.Device) string {
	if dev.HasTimestamps {
		return "timestamps"
	}
	return "wall clock"
}

// computeShape is a convolution the compute ceiling is measured on; name
// "" is its Label.
type computeShape struct {
	name string
	op   *graph.Conv2D
	in   graph.Shape
}

// ceilingKernels returns the registry's kernels that compute s on dev as
// a measure of its compute roof: every one whose launches build and fit,
// except Winograd's, which does fewer multiplications than the FLOPs it is
// credited with.
func ceilingKernels(dev *gpu.Device, s computeShape) []string {
	var out []string
	geom := s.op.Geom(s.in)
	for _, v := range shaders.KernelNames() {
		l, err := shaders.Conv2D(geom, v, dev.Caps())
		if err == nil && l.WeightsTag != "wino" && gpuexec.Fits(l, dev.Caps()) {
			out = append(out, v)
		}
	}
	return out
}

// measureCompute returns the best GFLOP/s of the registry's kernels
// (ceilingKernels) over shapes, timed runs times each, and what it
// measured.
func measureCompute(dev *gpu.Device, shapes []computeShape, runs int, w io.Writer) (float64, string, error) {
	total := 0
	for _, s := range shapes {
		total += len(ceilingKernels(dev, s))
	}
	ph := progress.Start(w, total, fmt.Sprintf("measuring the compute ceiling of %s: %d kernel runs", dev.Info.Name, total))
	defer ph.Done()
	best, what := 0.0, ""
	var lastErr error
	for i, s := range shapes {
		rng := rand.New(rand.NewPCG(uint64(i+1), 0x6365696c))
		op := *s.op
		b := 1 / math.Sqrt(float64(op.Cin*op.KH*op.KW))
		op.Weight = uniform(rng, op.Cout*op.Cin*op.KH*op.KW, -b, b)
		var gb graph.Builder
		gb.Output(gb.Apply("conv", &op, gb.Input("x", s.in)))
		g, err := gb.Graph()
		if err != nil {
			return 0, "", err
		}
		name := s.name
		if name == "" {
			name = Label(g.Nodes[0].String())
		}
		data := [][]float32{uniform(rng, s.in.Numel(), -1, 1)}
		flops := float64(g.Nodes[0].FLOPs())
		for _, v := range ceilingKernels(dev, s) {
			ex := gpuexec.New(dev, gpuexec.Options{ConvKernel: func(shaders.ConvGeom) string { return v }})
			ts, _, err := timeGraph(ex, g, data, runs)
			ph.Add(1)
			if err != nil {
				lastErr = fmt.Errorf("perf: %s via conv2d/%s: %w", name, v, err)
				continue
			}
			if gf := flops / Summarize(ts).Min.Seconds() / 1e9; gf > best {
				best, what = gf, fmt.Sprintf("%s via conv2d/%s (%s)", name, v, clock(dev))
			}
		}
	}
	if what == "" {
		if lastErr != nil {
			return 0, "", lastErr
		}
		return 0, "", fmt.Errorf("perf: no convolution kernel computes the ceiling's shapes")
	}
	return best, what, nil
}

// measureCopy returns the GB/s of a vec4 copy of up to bytes bytes (less
// where the adapter's buffer limits are lower), timed runs times, and what
// it measured.
func measureCopy(dev *gpu.Device, bytes uint64, runs int) (float64, string, error) {
	bytes = min(bytes, dev.Limits.MaxStorageBufferBinding, dev.Limits.MaxBufferSize) &^ 15
	n := int(bytes / 4)
	l, err := shaders.Copy(n, dev.Limits.MaxWorkgroupsPerDimension)
	if err != nil {
		return 0, "", err
	}
	src, err := dev.NewBuffer("copy.src", shaders.CopyBytes(n))
	if err != nil {
		return 0, "", err
	}
	defer src.Release()
	dst, err := dev.NewBuffer("copy.dst", shaders.CopyBytes(n))
	if err != nil {
		return 0, "", err
	}
	defer dst.Release()
	p, err := dev.Pipeline(l.Key, l.Source)
	if err != nil {
		return 0, "", err
	}
	ds, err := dev.Bind("copy", p, l.Params, l.Groups, gpu.Binds{"src": src, "dst": dst})
	if err != nil {
		return 0, "", err
	}
	defer ds.Release()
	ts, err := repeat(dev, []*gpu.Dispatch{ds}, runs)
	if err != nil {
		return 0, "", fmt.Errorf("perf: copy: %w", err)
	}
	gbps := 2 * float64(bytes) / Summarize(ts).Min.Seconds() / 1e9
	return gbps, fmt.Sprintf("copy %s via copy/vec4 (%s)", mib(bytes), clock(dev)), nil
}

// mib formats a byte count in MiB or GiB.
func mib(b uint64) string {
	if b >= 1<<30 && b%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", b>>30)
	}
	return fmt.Sprintf("%.4g MiB", float64(b)/(1<<20))
}

// warmUp is how long repeat runs a kernel untimed first, at least once, so
// that a lazy driver finishes compiling and a GPU leaves its idle clocks.
const warmUp = 100 * time.Millisecond

// repeat replays ds untimed for warmUp (at least once), then returns the
// times of runs timed replays (Timing.Kernels: one pass between two GPU
// timestamps where the device records them, else the wall time of the
// submission).
func repeat(dev *gpu.Device, ds []*gpu.Dispatch, runs int) ([]time.Duration, error) {
	run := func() (time.Duration, error) {
		t, err := dev.Run(ds, nil, false)
		return t.Kernels(), err
	}
	start := time.Now()
	for i := 0; i < 1000 && (i == 0 || time.Since(start) < warmUp); i++ {
		if _, err := run(); err != nil {
			return nil, err
		}
	}
	ts := make([]time.Duration, runs)
	for i := range ts {
		t, err := run()
		if err != nil {
			return nil, err
		}
		ts[i] = t
	}
	return ts, nil
}

// uniform returns n values drawn uniformly from [lo, hi).
func uniform(rng *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return v
}
