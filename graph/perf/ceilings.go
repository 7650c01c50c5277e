package perf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Ceilings are what the device attains at best: the roofs the kernels are
// measured against.
type Ceilings struct {
	GFLOPS float64 // best GFLOP/s of any convolution kernel on a square GEMM
	GBps   float64 // GB/s of a vec4 copy (bytes read plus bytes written)
	// GEMM and Copy say what was measured, e.g.
	// "gemm 4096x4096x4096 via conv2d/gemm1x1_128 (timestamps)".
	GEMM, Copy string
}

// CeilingSize chooses the problem sizes of MeasureCeilings.
type CeilingSize int

const (
	// Small is a 256³ GEMM and a 4 MiB copy: for CPU adapters such as
	// Mesa's lavapipe, which run at about a GFLOP/s.
	Small CeilingSize = iota
	// Large is a 4096³ GEMM and a 1 GiB copy (less where the adapter's
	// buffer limits are lower): for real GPUs, large enough to fill them.
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

// sizes returns the problem sizes of s, GEMM M = N = K and the copy's
// bytes, and the number of timed runs of each kernel after its warm-up.
func (s CeilingSize) sizes() (gemm int, copyBytes uint64, runs int) {
	if s == Small {
		return 256, 4 << 20, 3
	}
	return 4096, 1 << 30, 10
}

// MeasureCeilings measures the device's attainable GFLOP/s and GB/s at the
// given size. GFLOP/s is that of the fastest one-launch convolution kernel
// (the kernels of shaders.ConvKernels that support the shape) on a square GEMM
// posed as a 1×1 convolution (Cin = K, Cout = M, H·W = N, batch 1); GB/s is
// that of a vec4 copy, counting the bytes read and written. Each kernel is
// warmed up, then timed a few times; the fastest run counts.
func MeasureCeilings(dev *gpu.Device, size CeilingSize) (Ceilings, error) {
	n, bytes, runs := size.sizes()
	var c Ceilings
	var err error
	if c.GFLOPS, c.GEMM, err = measureGEMM(dev, n, runs); err != nil {
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

// measureGEMM returns the best GFLOP/s over the conv variants on an n³
// GEMM, timed runs times each, and what it measured.
func measureGEMM(dev *gpu.Device, n, runs int) (float64, string, error) {
	h := 1 // H·W = N with H ≤ W as close as possible
	for d := 1; d*d <= n; d++ {
		if n%d == 0 {
			h = d
		}
	}
	in := graph.Shape{1, n, h, n / h}
	rng := rand.New(rand.NewPCG(uint64(n), 0x6365696c))
	b := 1 / math.Sqrt(float64(n))
	op := graph.Conv(n, n, 1, 1, 0)
	op.Weight = uniform(rng, n*n, -b, b)
	var gb graph.Builder
	gb.Output(gb.Apply("gemm", op, gb.Input("x", in)))
	g, err := gb.Graph()
	if err != nil {
		return 0, "", err
	}
	data := [][]float32{uniform(rng, in.Numel(), -1, 1)}
	flops := float64(g.Nodes[0].FLOPs())
	best, bestVariant := 0.0, ""
	var lastErr error
	for _, v := range shaders.KernelNames() {
		// One-launch kernels only: the K-split and Winograd variants are
		// not plain GEMMs (and their scratch may exceed the buffer limits).
		if l, err := shaders.Conv2D(op.Geom(in), v, dev.Caps()); err != nil || l.Pre != nil || l.Post != nil {
			continue
		}
		ex := gpuexec.New(dev, gpuexec.Options{ConvKernel: func(shaders.ConvGeom) string { return v }})
		ts, _, err := timeGraph(ex, g, data, runs)
		if err != nil {
			lastErr = fmt.Errorf("perf: gemm %d³ via conv2d/%s: %w", n, v, err)
			continue
		}
		if gf := flops / Summarize(ts).Min.Seconds() / 1e9; gf > best {
			best, bestVariant = gf, v
		}
	}
	if bestVariant == "" {
		if lastErr != nil {
			return 0, "", lastErr
		}
		return 0, "", fmt.Errorf("perf: no conv2d variant supports %s", graph.Name(op, in))
	}
	return best, fmt.Sprintf("gemm %dx%dx%d via conv2d/%s (%s)", n, n, n, bestVariant, clock(dev)), nil
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
