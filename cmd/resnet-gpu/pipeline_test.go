package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

var (
	folderImages = flag.Int("folder-images", 200, "BenchmarkClassifyFolder: images in the generated folder")
	folderBatch  = flag.Int("folder-batch", 8, "BenchmarkClassifyFolder: batch size")
	folderArch   = flag.String("folder-arch", "resnet18", "BenchmarkClassifyFolder: architecture (synthetic weights)")
)

// folderSizes are the image sizes of the generated folder, from a
// thumbnail to a 2-megapixel photo.
var folderSizes = []image.Point{{320, 240}, {640, 480}, {500, 500}, {1024, 768}, {800, 1200}, {1600, 1200}}

// makeFolder writes n images of folderSizes, JPEG and PNG in turn: smooth
// gradients with a little deterministic noise, so that they decode like
// photos rather than like flat colour.
func makeFolder(tb testing.TB, n int) string {
	tb.Helper()
	dir := tb.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sz := folderSizes[i%len(folderSizes)]
			img := image.NewRGBA(image.Rect(0, 0, sz.X, sz.Y))
			s := uint32(i*2654435761 + 1)
			for y := range sz.Y {
				for x := range sz.X {
					s ^= s << 13
					s ^= s >> 17
					s ^= s << 5
					img.SetRGBA(x, y, color.RGBA{uint8(x*255/sz.X) ^ uint8(s&15), uint8(y*255/sz.Y) + uint8(s>>8&7), uint8(i * 37), 255})
				}
			}
			name := filepath.Join(dir, fmt.Sprintf("img%05d", i))
			var err error
			if i%2 == 0 {
				err = writeImage(name+".jpg", func(f *os.File) error { return jpeg.Encode(f, img, &jpeg.Options{Quality: 90}) })
			} else {
				err = writeImage(name+".png", func(f *os.File) error { return png.Encode(f, img) })
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func writeImage(path string, enc func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := enc(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// BenchmarkClassifyFolder measures images/s over a generated folder of
// -folder-images JPEGs and PNGs of mixed sizes at -folder-batch, four
// ways interleaved each iteration (run it with -benchtime Nx for N
// rounds; the medians are reported): classify's pipeline (read on a pool
// while the model runs), the sequential loop (read a batch, then run it),
// the model alone on synthetic inputs (what bench measures) and the reads
// alone on the pool.
func BenchmarkClassifyFolder(b *testing.B) {
	n, batch := *folderImages, *folderBatch
	m, err := resnet.Load(context.Background(), *folderArch, "synthetic:0", resnet.Options{})
	if err != nil {
		if errors.Is(err, gpu.ErrNoAdapter) && os.Getenv("CI") == "" {
			b.Skip(err)
		}
		b.Fatal(err)
	}
	defer m.Close()
	list, err := expandInputs([]string{makeFolder(b, n)}, "", true, nil)
	if err != nil || list.readable() != n {
		b.Fatalf("%d inputs, %v", list.readable(), err)
	}
	in := weights.SyntheticInput(batch, 3, m.Transform.Crop, m.Transform.Crop, 0)
	synth := make([][]float32, batch)
	for i := range synth {
		synth[i] = in[i*m.InputSize() : (i+1)*m.InputSize()]
	}
	if _, _, err := m.Forward(synth); err != nil { // compile before timing
		b.Fatal(err)
	}
	ways := []struct {
		name string
		run  func() error
	}{
		{"pipeline", func() error {
			return classifyInputs(m, list.inputs, batch, func(o outcome) error { return o.err })
		}},
		{"sequential", func() error {
			for start := 0; start < n; start += batch {
				var xs [][]float32
				for _, in := range list.inputs[start:min(n, start+batch)] {
					x, err := readInput(m, in.path)
					if err != nil {
						return err
					}
					xs = append(xs, x)
				}
				if _, _, err := m.Forward(xs); err != nil {
					return err
				}
			}
			return nil
		}},
		{"forward", func() error {
			for start := 0; start < n; start += batch {
				if _, _, err := m.Forward(synth[:min(batch, n-start)]); err != nil {
					return err
				}
			}
			return nil
		}},
		{"read", func() error {
			jobs := make(chan string)
			errs := make(chan error, runtime.GOMAXPROCS(0))
			for range cap(errs) {
				go func() {
					var first error
					for p := range jobs {
						if _, err := readInput(m, p); err != nil && first == nil {
							first = err
						}
					}
					errs <- first
				}()
			}
			for _, in := range list.inputs {
				jobs <- in.path
			}
			close(jobs)
			var first error
			for range cap(errs) {
				if err := <-errs; err != nil && first == nil {
					first = err
				}
			}
			return first
		}},
	}
	rates := make([][]float64, len(ways))
	for b.Loop() {
		for i, w := range ways {
			t := time.Now()
			if err := w.run(); err != nil {
				b.Fatalf("%s: %v", w.name, err)
			}
			rates[i] = append(rates[i], float64(n)/time.Since(t).Seconds())
		}
	}
	for i, w := range ways {
		sort.Float64s(rates[i])
		b.ReportMetric(rates[i][len(rates[i])/2], w.name+"-img/s")
		b.Logf("%s: %.2f img/s over %d images at batch %d (rounds: %.2f)", w.name, rates[i][len(rates[i])/2], n, batch, rates[i])
	}
	b.ReportMetric(0, "ns/op")
}
