package resnet_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

var (
	pipeArch   = flag.String("pipe-arch", "resnet18", "BenchmarkPipelined: architecture (synthetic weights)")
	pipeBatch  = flag.Int("pipe-batch", 8, "BenchmarkPipelined: batch size")
	pipePasses = flag.Int("pipe-passes", 4, "BenchmarkPipelined: forward passes per way and round")
)

// BenchmarkPipelined measures images/s of -pipe-passes forward passes at
// -pipe-batch on the GPU two ways, interleaved each round (run it with
// -benchtime Nx for N rounds; the medians are reported): Forward in a
// loop, and pipelined, each pass started before the one before is waited
// for, so that its upload overlaps the device's run.
func BenchmarkPipelined(b *testing.B) {
	m, err := resnet.Load(context.Background(), *pipeArch, "synthetic:0", resnet.Options{})
	if err != nil {
		if errors.Is(err, gpu.ErrNoAdapter) && os.Getenv("CI") == "" {
			b.Skip(err)
		}
		b.Fatal(err)
	}
	defer m.Close()
	batch, passes := *pipeBatch, *pipePasses
	in := weights.SyntheticInput(batch, 3, m.Transform.Crop, m.Transform.Crop, 0)
	xs := make([][]float32, batch)
	for i := range xs {
		xs[i] = in[i*m.InputSize() : (i+1)*m.InputSize()]
	}
	want, _, err := m.Forward(xs) // compiles before timing
	if err != nil {
		b.Fatal(err)
	}
	ways := []struct {
		name string
		run  func() ([][]float32, error)
	}{
		{"loop", func() (last [][]float32, err error) {
			for range passes {
				if last, _, err = m.Forward(xs); err != nil {
					return nil, err
				}
			}
			return last, nil
		}},
		{"pipelined", func() ([][]float32, error) {
			var prev *resnet.Pass
			var last [][]float32
			for i := range passes + 1 {
				var cur *resnet.Pass
				if i < passes {
					var err error
					if cur, err = m.Start(xs); err != nil {
						return nil, err
					}
				}
				if prev != nil {
					var err error
					if last, _, err = prev.Wait(); err != nil {
						return nil, err
					}
				}
				prev = cur
			}
			return last, nil
		}},
	}
	rates := make([][]float64, len(ways))
	for b.Loop() {
		for i, w := range ways {
			t := time.Now()
			got, err := w.run()
			if err != nil {
				b.Fatalf("%s: %v", w.name, err)
			}
			rates[i] = append(rates[i], float64(passes*batch)/time.Since(t).Seconds())
			if e := resnet.RelErr(got[batch-1], want[batch-1]); e != 0 {
				b.Fatalf("%s: the last image's logits differ from Forward's by %.2e", w.name, e)
			}
		}
	}
	for i, w := range ways {
		sort.Float64s(rates[i])
		b.ReportMetric(rates[i][len(rates[i])/2], w.name+"-img/s")
		b.Logf("%s: %.2f img/s, %d passes at batch %d (rounds: %.2f)", w.name, rates[i][len(rates[i])/2], passes, batch, rates[i])
	}
	b.ReportMetric(0, "ns/op")
}
