package shaders_test

import (
	"math"
	"testing"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// benchShape is one convolution layer: a Cin × H × W input at batch N.
type benchShape struct {
	N, Cin, H, Cout, K, S, P int
	Residual                 bool
}

// The distinct convolutions of ResNet-50 at 224², batch 1: the stem, then
// per stage (L1 56², L2 28², L3 14², L4 7²) the bottleneck's 1×1 reduce
// (a: first block, b: the others), its 3×3 (s2: the strided one of the
// first block), its 1×1 expand and the downsample shortcut (ds).
var (
	stem       = benchShape{1, 3, 224, 64, 7, 2, 3, false}
	l1a1x1     = benchShape{1, 64, 56, 64, 1, 1, 0, false}
	l1b1x1     = benchShape{1, 256, 56, 64, 1, 1, 0, false}
	l1_3x3     = benchShape{1, 64, 56, 64, 3, 1, 1, false}
	l1c1x1     = benchShape{1, 64, 56, 256, 1, 1, 0, true}
	l2a1x1     = benchShape{1, 256, 56, 128, 1, 1, 0, false}
	l2b1x1     = benchShape{1, 512, 28, 128, 1, 1, 0, false}
	l2s2_3x3   = benchShape{1, 128, 56, 128, 3, 2, 1, false}
	l2_3x3     = benchShape{1, 128, 28, 128, 3, 1, 1, false}
	l2c1x1     = benchShape{1, 128, 28, 512, 1, 1, 0, true}
	l2ds       = benchShape{1, 256, 56, 512, 1, 2, 0, false}
	l3a1x1     = benchShape{1, 512, 28, 256, 1, 1, 0, false}
	l3b1x1     = benchShape{1, 1024, 14, 256, 1, 1, 0, false}
	l3s2_3x3   = benchShape{1, 256, 28, 256, 3, 2, 1, false}
	l3_3x3     = benchShape{1, 256, 14, 256, 3, 1, 1, false}
	l3c1x1     = benchShape{1, 256, 14, 1024, 1, 1, 0, true}
	l3ds       = benchShape{1, 512, 28, 1024, 1, 2, 0, false}
	l4a1x1     = benchShape{1, 1024, 14, 512, 1, 1, 0, false}
	l4b1x1     = benchShape{1, 2048, 7, 512, 1, 1, 0, false}
	l4s2_3x3   = benchShape{1, 512, 14, 512, 3, 2, 1, false}
	l4_3x3     = benchShape{1, 512, 7, 512, 3, 1, 1, false}
	l4c1x1     = benchShape{1, 512, 7, 2048, 1, 1, 0, true}
	l4ds       = benchShape{1, 1024, 14, 2048, 1, 2, 0, false}
	l1_3x3_b64 = benchShape{64, 64, 56, 64, 3, 1, 1, false} // a large batch
)

func BenchmarkConv_Stem_7x7(b *testing.B)   { benchConv(b, stem) }
func BenchmarkConv_L1a_1x1(b *testing.B)    { benchConv(b, l1a1x1) }
func BenchmarkConv_L1b_1x1(b *testing.B)    { benchConv(b, l1b1x1) }
func BenchmarkConv_L1_3x3(b *testing.B)     { benchConv(b, l1_3x3) }
func BenchmarkConv_L1c_1x1(b *testing.B)    { benchConv(b, l1c1x1) }
func BenchmarkConv_L2a_1x1(b *testing.B)    { benchConv(b, l2a1x1) }
func BenchmarkConv_L2b_1x1(b *testing.B)    { benchConv(b, l2b1x1) }
func BenchmarkConv_L2s2_3x3(b *testing.B)   { benchConv(b, l2s2_3x3) }
func BenchmarkConv_L2_3x3(b *testing.B)     { benchConv(b, l2_3x3) }
func BenchmarkConv_L2c_1x1(b *testing.B)    { benchConv(b, l2c1x1) }
func BenchmarkConv_L2ds_1x1(b *testing.B)   { benchConv(b, l2ds) }
func BenchmarkConv_L3a_1x1(b *testing.B)    { benchConv(b, l3a1x1) }
func BenchmarkConv_L3b_1x1(b *testing.B)    { benchConv(b, l3b1x1) }
func BenchmarkConv_L3s2_3x3(b *testing.B)   { benchConv(b, l3s2_3x3) }
func BenchmarkConv_L3_3x3(b *testing.B)     { benchConv(b, l3_3x3) }
func BenchmarkConv_L3c_1x1(b *testing.B)    { benchConv(b, l3c1x1) }
func BenchmarkConv_L3ds_1x1(b *testing.B)   { benchConv(b, l3ds) }
func BenchmarkConv_L4a_1x1(b *testing.B)    { benchConv(b, l4a1x1) }
func BenchmarkConv_L4b_1x1(b *testing.B)    { benchConv(b, l4b1x1) }
func BenchmarkConv_L4s2_3x3(b *testing.B)   { benchConv(b, l4s2_3x3) }
func BenchmarkConv_L4_3x3(b *testing.B)     { benchConv(b, l4_3x3) }
func BenchmarkConv_L4c_1x1(b *testing.B)    { benchConv(b, l4c1x1) }
func BenchmarkConv_L4ds_1x1(b *testing.B)   { benchConv(b, l4ds) }
func BenchmarkConv_L1_3x3_B64(b *testing.B) { benchConv(b, l1_3x3_b64) }

// benchConv times every registry kernel that supports s, one
// sub-benchmark each, and reports GFLOP/s; each iteration replays the
// dispatch and waits for the GPU. Untimed runs first let the driver finish
// compiling (lavapipe compiles at the first dispatch) and a GPU's clocks
// rise. On a GPU (not a CPU adapter such as lavapipe) with timestamps,
// kernel-GFLOP/s is reported too, from the GPU time of the dispatch alone
// (the best of ten), without the submission's overhead.
func benchConv(b *testing.B, s benchShape) { benchGroupedConv(b, s, 1) }

// benchGroupedConv is benchConv for a convolution in groups.
func benchGroupedConv(b *testing.B, s benchShape, groups int) {
	op := graph.Conv(s.Cin, s.Cout, s.K, s.S, s.P)
	op.Residual, op.ReLU, op.Groups = s.Residual, true, groups
	benchConvOp(b, op, graph.Shape{s.N, s.Cin, s.H, s.H})
}

// benchConvOp is benchConv for convolution op (its weights zeros) on an
// input of shape in.
func benchConvOp(b *testing.B, op *graph.Conv2D, in graph.Shape) {
	dev := gputest.Device(b)
	cpu := dev.Caps().CPU // lavapipe: slow, no submission overhead to speak of
	if in[0] > 1 && cpu {
		b.Skip("a batch too large for a CPU adapter")
	}
	op.Weight = make([]float32, op.Cout*op.Cin/op.Groups*op.KH*op.KW)
	geom := op.Geom(in)
	out := graph.Shape{in[0], op.Cout, geom.OH(), geom.OW()}
	flops := 2 * float64(out.Numel()) * float64(geom.K())
	var gb graph.Builder
	ins := []*graph.Value{gb.Input("x", in)}
	if op.Residual {
		ins = append(ins, gb.Input("res", out))
	}
	gb.Output(gb.Apply("conv", op, ins...))
	g, err := gb.Graph()
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range shaders.ConvKernels {
		if !k.Supports(geom) {
			continue
		}
		b.Run(k.Name, func(b *testing.B) {
			ex := gpuexec.New(dev, gpuexec.Options{ConvKernel: func(shaders.ConvGeom) string { return k.Name }})
			p, err := ex.CompileGPU(g)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			warmUp(b, p)
			b.ResetTimer()
			var gpu time.Duration
			for i := 0; i < b.N; i++ {
				d, err := p.Time()
				if err != nil {
					b.Fatal(err)
				}
				gpu += d
			}
			b.ReportMetric(flops*float64(b.N)/gpu.Seconds()/1e9, "GFLOP/s")
			if dev.HasTimestamps && !cpu {
				b.StopTimer()
				b.ReportMetric(flops/kernelTime(b, p, g).Seconds()/1e9, "kernel-GFLOP/s")
			}
		})
	}
}

// kernelTime is the shortest GPU time of p's dispatches (one pass) over
// ten runs on zero inputs.
func kernelTime(b *testing.B, p *gpuexec.Program, g *graph.Graph) time.Duration {
	var in [][]float32
	for _, v := range g.Inputs {
		in = append(in, make([]float32, v.Shape.Numel()))
	}
	best := time.Duration(math.MaxInt64)
	for i := 0; i < 10; i++ {
		_, t, err := p.RunTimed(in...)
		if err != nil {
			b.Fatal(err)
		}
		if t.GPU == 0 {
			b.Fatal("no GPU time from the timestamps")
		}
		best = min(best, t.GPU)
	}
	return best
}

// warmUp replays p at least once and for at least 100 ms (at most 1000
// times), so that the GPU leaves its idle clocks before the timing.
func warmUp(b *testing.B, p *gpuexec.Program) {
	start := time.Now()
	for i := 0; i < 1000 && time.Since(start) < 100*time.Millisecond; i++ {
		if _, err := p.Time(); err != nil {
			b.Fatal(err)
		}
	}
}
