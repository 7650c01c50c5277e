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

// classifyInputs calls done in input order with each input's own logits
// (those of a forward pass of it alone) or its error, reading ahead or
// not, and stops at done's first error.
func TestClassifyInputs(t *testing.T) {
	m, err := resnet.Load(context.Background(), "", tinyPth, resnet.Options{Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	checkClassifyInputs(t, m, 0)
}

// On the GPU (lavapipe in CI), where reading ahead keeps a batch in flight
// while the next one uploads, classifyInputs gives the same outcomes, the
// logits to 1e-5 where batch 3's program chose other kernels than batch
// 1's.
func TestClassifyInputsGPU(t *testing.T) {
	m, err := resnet.Load(context.Background(), "", tinyPth, resnet.Options{})
	if err != nil {
		if errors.Is(err, gpu.ErrNoAdapter) && os.Getenv("CI") == "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	defer m.Close()
	checkClassifyInputs(t, m, 1e-5)
}

// checkClassifyInputs is TestClassifyInputs on m, with logits equal to
// those of each input alone, or within tol of them.
func checkClassifyInputs(t *testing.T, m *resnet.Model, tol float64) {
	dir, images := photoFolder(t)
	bad := errors.New("named nothing")
	var ins []input
	for i := range 5 {
		ins = append(ins, input{path: images[i%len(images)]}, input{path: filepath.Join(dir, "b-cut.png")})
		if i == 2 {
			ins = append(ins, input{path: "x", err: bad})
		}
	}
	want := map[string][]float32{}
	for _, p := range images {
		x, err := readInput(m, p)
		if err != nil {
			t.Fatal(err)
		}
		lg, _, err := m.Forward([][]float32{x})
		if err != nil {
			t.Fatal(err)
		}
		want[p] = lg[0]
	}
	for _, ahead := range []int{0, 2} {
		var got []outcome
		err := classifyInputs(m, ins, 3, ahead, func(o outcome) error { got = append(got, o); return nil })
		if err != nil || len(got) != len(ins) {
			t.Fatalf("ahead %d: %d outcomes, %v", ahead, len(got), err)
		}
		for i, o := range got {
			switch {
			case o.in != ins[i]:
				t.Errorf("ahead %d: outcome %d is for %v, want %v", ahead, i, o.in, ins[i])
			case o.in.err != nil:
				if o.err != bad {
					t.Errorf("ahead %d: %v, want %v", ahead, o.err, bad)
				}
			case filepath.Base(o.in.path) == "b-cut.png":
				if o.err == nil || o.logits != nil {
					t.Errorf("ahead %d: the truncated PNG gave %v, %v", ahead, o.logits, o.err)
				}
			case o.err != nil || fmt.Sprint(o.logits) != fmt.Sprint(want[o.in.path]) && resnet.RelErr(o.logits, want[o.in.path]) > tol:
				t.Errorf("ahead %d: %s: logits %v, %v; alone %v", ahead, o.in.path, o.logits, o.err, want[o.in.path])
			}
		}
		stop := errors.New("stop")
		n := 0
		err = classifyInputs(m, ins, 2, ahead, func(outcome) error { n++; return stop })
		if err != stop || n != 1 {
			t.Errorf("ahead %d: done's error gave %v after %d calls", ahead, err, n)
		}
	}
}

// BenchmarkClassifyFolder measures images/s over a generated folder of
// -folder-images JPEGs and PNGs of mixed sizes at -folder-batch, five
// ways interleaved each iteration (run it with -benchtime Nx for N
// rounds; the medians are reported): classify's pipeline (reads on a
// pool, ReadAhead batches ahead), the pipeline reading 2 batches ahead
// whatever the adapter, the sequential loop (read a batch one input at a
// time, then run it), the model alone on synthetic inputs (what bench
// measures) and the reads alone on the pool.
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
			return classifyInputs(m, list.inputs, batch, m.ReadAhead(batch), func(o outcome) error { return o.err })
		}},
		{"overlapped", func() error { // the read-ahead of a GPU, whatever the adapter
			return classifyInputs(m, list.inputs, batch, 2, func(o outcome) error { return o.err })
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
