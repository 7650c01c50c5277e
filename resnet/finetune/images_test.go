package finetune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

// batches hands use every sample's input in order, a batch at a time, with
// at most ahead+1 batches of inputs made and not yet used, and stops at
// the first failed sample of a batch.
func TestBatches(t *testing.T) {
	d := loadData(t)
	const size, ahead = 4, 1
	c := newImages(0, ahead)
	var mu sync.Mutex
	made, used := 0, 0
	input := func(img image.Image, i int) ([]float32, error) {
		if img.Bounds().Empty() {
			return nil, errors.New("empty image")
		}
		mu.Lock()
		made++
		mu.Unlock()
		return []float32{float32(i)}, nil
	}
	var next int
	err := c.batches(d.Samples, size, false, input, func(lo int, in [][]float32) error {
		mu.Lock()
		defer mu.Unlock()
		if lo != next || len(in) != min(size, len(d.Samples)-lo) {
			return fmt.Errorf("batch at %d of %d inputs, want one at %d", lo, len(in), next)
		}
		for i, x := range in {
			if x[0] != float32(lo+i) {
				return fmt.Errorf("input %d of the batch at %d is sample %v's", i, lo, x[0])
			}
		}
		if made-used > (ahead+1)*size {
			return fmt.Errorf("%d inputs made and %d used: more than %d batches ahead", made, used, ahead)
		}
		next, used = lo+len(in), used+len(in)
		return nil
	})
	if err != nil || next != len(d.Samples) {
		t.Fatalf("%v after %d of %d samples", err, next, len(d.Samples))
	}
	if c.stats.Decodes != len(d.Samples) || c.stats.Cached != 0 {
		t.Errorf("%d decodes, %d bytes cached; want %d and none", c.stats.Decodes, c.stats.Cached, len(d.Samples))
	}

	bad := errors.New("bad sample")
	calls := 0
	err = c.batches(d.Samples, size, false, func(img image.Image, i int) ([]float32, error) {
		if i == 9 || i == 10 {
			return nil, bad
		}
		return []float32{0}, nil
	}, func(lo int, in [][]float32) error {
		if lo >= 8 {
			t.Errorf("the batch at %d, holding a failed sample, was used", lo)
		}
		calls++
		return nil
	})
	if !errors.Is(err, bad) || !strings.Contains(err.Error(), d.Samples[9].Path) || calls != 2 {
		t.Errorf("error %v after %d batches, want sample 9's after 2", err, calls)
	}
}

// writeImages writes a folder of two classes of n w×w PNGs each, no two
// alike.
func writeImages(t *testing.T, n, w int) string {
	t.Helper()
	dir := t.TempDir()
	for c, class := range []string{"dark", "light"} {
		if err := os.Mkdir(filepath.Join(dir, class), 0o755); err != nil {
			t.Fatal(err)
		}
		for k := range n {
			m := image.NewNRGBA(image.Rect(0, 0, w, w))
			for y := range w {
				for x := range w {
					v := uint8(40 + 150*c + (x*y+k*7)%60)
					m.Set(x, y, color.NRGBA{v, uint8(x * 5), uint8(y*3 + k), 255})
				}
			}
			var b bytes.Buffer
			if err := png.Encode(&b, m); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, class, fmt.Sprintf("%02d.png", k)), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// With a cache smaller than the decoded dataset, the cache stays within
// its bound, the decoded images held at once stay within it plus one
// image a decoding goroutine (fewer than the dataset's), the images that
// did not fit are decoded again every epoch, and the .pth bytes are those
// of a run that caches every image.
func TestRunBoundedMemory(t *testing.T) {
	const w, fit = 48, 5
	workers := runtime.GOMAXPROCS(0)
	d, err := LoadDir(writeImages(t, workers+fit, w))
	if err != nil {
		t.Fatal(err)
	}
	img, err := imagenet.Open(d.Samples[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	one := int64(4 * w * w) // an opaque PNG decodes as RGBA
	if n := imageBytes(img); n != one {
		t.Fatalf("a %dx%d PNG decodes to %d bytes (a %T), want %d", w, w, n, img, one)
	}
	all := int64(len(d.Samples)) * one
	base := tinyBase(t, resnet.Options{Device: "cpu"})
	o := opts()
	o.Epochs, o.Val, o.Cache = 2, 0, fit*one+one/2
	r, err := Run(context.Background(), base, d, o)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Images
	t.Logf("%d images, %d bytes decoded: %+v", len(d.Samples), all, s)
	if s.Cached != fit*one {
		t.Errorf("the cache held %d bytes, want %d (%d images within its %d)", s.Cached, fit*one, fit, o.Cache)
	}
	if bound := o.Cache + int64(workers)*one; s.Peak > bound || s.Peak >= all {
		t.Errorf("held %d bytes of decoded images at once, want at most %d and fewer than all %d", s.Peak, bound, all)
	}
	if want := o.Epochs*len(d.Samples) - fit; s.Decodes != want {
		t.Errorf("%d decodes, want %d (all in epoch 1, all but the %d cached in epoch 2)", s.Decodes, want, fit)
	}
	o.Cache = all
	full, err := Run(context.Background(), base, d, o)
	if err != nil {
		t.Fatal(err)
	}
	if full.Images.Decodes != len(d.Samples) || full.Images.Cached != all {
		t.Errorf("with room for all: %+v, want %d decodes and %d bytes cached", full.Images, len(d.Samples), all)
	}
	if !bytes.Equal(save(t, r), save(t, full)) {
		t.Error("the bounded cache changes the .pth bytes")
	}
}

// A file whose header is sound but whose pixels are cut off passes
// LoadDir and stops Run, as the epoch reaches it, with an error naming it.
func TestRunCorruptImage(t *testing.T) {
	dir := writeImages(t, 4, 24)
	bad := filepath.Join(dir, "light", "02.png")
	b, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir refused a file with a sound header: %v", err)
	}
	base := tinyBase(t, resnet.Options{Device: "cpu"})
	o := opts()
	o.Val = 0
	epochs := 0
	o.Epoch = func(Epoch) { epochs++ }
	_, err = Run(context.Background(), base, d, o)
	if err == nil || !strings.Contains(err.Error(), bad) || strings.Count(err.Error(), bad) != 1 || strings.Contains(err.Error(), "\n") || epochs != 0 {
		t.Errorf("error %v after %d epochs, want one line naming %s once, before any epoch ends", err, epochs, bad)
	}
	t.Log(err)
	if !slices.ContainsFunc(d.Samples, func(s Sample) bool { return s.Path == bad }) {
		t.Errorf("%s is not among the samples", bad)
	}
}
