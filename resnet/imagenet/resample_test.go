package imagenet

import (
	"bytes"
	"image"
	"math/rand/v2"
	"testing"
)

// gray1 returns a one-row RGB image whose pixels are grey levels v.
func gray1(v ...uint8) *RGB {
	m := newRGB(len(v), 1)
	for i, x := range v {
		m.Pix[3*i], m.Pix[3*i+1], m.Pix[3*i+2] = x, x, x
	}
	return m
}

func full(src *RGB, w, h int) *RGB { return resize(src, w, h, image.Rect(0, 0, w, h)) }

// TestResizeValues checks small cases worked by hand through Pillow's
// Resample.c.
func TestResizeValues(t *testing.T) {
	for _, c := range []struct {
		in   []uint8
		w    int
		want []uint8
	}{
		// Halving: support 2 around centre 1 weighs both pixels 1/2;
		// 15.5 rounds up.
		{[]uint8{10, 21}, 1, []uint8{16}},
		// Doubling: the edge pixels read one input each (weight 1), the
		// inner ones weigh 3/4, 1/4 and 1/4, 3/4.
		{[]uint8{0, 100}, 4, []uint8{0, 25, 75, 100}},
		{[]uint8{7, 7, 7}, 3, []uint8{7, 7, 7}},
		// Halving with support 2, clipped at the edges: weights
		// (3/4, 3/4, 1/4)/1.75 → 109.3; (1/4, 3/4, 3/4, 1/4)/2 → 127.5,
		// rounded up; (1/4, 3/4, 3/4)/1.75 → 145.7.
		{[]uint8{0, 255, 0, 255, 0, 255}, 3, []uint8{109, 128, 146}},
	} {
		got := full(gray1(c.in...), c.w, 1)
		for i, v := range c.want {
			if got.Pix[3*i] != v {
				t.Errorf("%v to %d: got %v, want %v", c.in, c.w, got.Pix, c.want)
				break
			}
		}
	}
}

// TestResizeCropped checks that resizing only a window gives the same
// pixels as resizing the whole image, for downscaling, upscaling and
// passes that are skipped.
func TestResizeCropped(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := newRGB(37, 23)
	for i := range src.Pix {
		src.Pix[i] = uint8(rng.Uint32())
	}
	for _, s := range [][2]int{{37, 23}, {37, 11}, {12, 23}, {10, 7}, {80, 50}, {80, 9}, {5, 60}} {
		w, h := s[0], s[1]
		whole := full(src, w, h)
		for _, r := range []image.Rectangle{
			image.Rect(0, 0, w, h),
			image.Rect(w/3, h/4, w-w/5, h-1),
			image.Rect(w-1, 0, w, 1),
		} {
			got := resize(src, w, h, r)
			if got.W != r.Dx() || got.H != r.Dy() {
				t.Fatalf("%dx%d %v: got %dx%d", w, h, r, got.W, got.H)
			}
			for y := range r.Dy() {
				a := got.Pix[y*got.W*3 : (y+1)*got.W*3]
				b := whole.Pix[((r.Min.Y+y)*w+r.Min.X)*3 : ((r.Min.Y+y)*w+r.Max.X)*3]
				if !bytes.Equal(a, b) {
					t.Fatalf("%dx%d %v: row %d differs from the whole resize", w, h, r, y)
				}
			}
		}
	}
	// No change in size is a copy.
	if got := full(src, 37, 23); !bytes.Equal(got.Pix, src.Pix) {
		t.Error("resize to the same size is not a copy")
	}
}

// TestApplyPadding checks torchvision's zero padding when Crop exceeds the
// resized image.
func TestApplyPadding(t *testing.T) {
	m := image.NewGray(image.Rect(0, 0, 3, 2))
	for i := range m.Pix {
		m.Pix[i] = 255
	}
	tr := Transform{Resize: 2, Crop: 5, Mean: V1.Mean, Std: V1.Std}
	// Resized to 3×2; padded by 1 left, 1 right, 1 top, 2 bottom.
	out := tr.Apply(m)
	if len(out) != 3*5*5 {
		t.Fatalf("got %d values", len(out))
	}
	for ch := range 3 {
		white := (1 - tr.Mean[ch]) / tr.Std[ch]
		black := (0 - tr.Mean[ch]) / tr.Std[ch]
		for y := range 5 {
			for x := range 5 {
				want := black
				if x >= 1 && x < 4 && y >= 1 && y < 3 {
					want = white
				}
				if got := out[(ch*5+y)*5+x]; got != want {
					t.Fatalf("channel %d (%d, %d) = %v, want %v", ch, x, y, got, want)
				}
			}
		}
	}
}

// TestApplyExtremeAspect checks that a very long, thin image is
// preprocessed without building its whole resized image (here 256 ×
// 25,600,000 pixels).
func TestApplyExtremeAspect(t *testing.T) {
	m := image.NewGray(image.Rect(0, 0, 1, 100000))
	for i := range m.Pix {
		m.Pix[i] = uint8(i)
	}
	allocs := testing.AllocsPerRun(1, func() {
		if out := V2.Apply(m); len(out) != 3*224*224 {
			t.Fatalf("got %d values", len(out))
		}
	})
	if allocs > 100 {
		t.Errorf("%v allocations", allocs)
	}
	if out := V1.Apply(m.SubImage(image.Rect(0, 0, 1, 1))); len(out) != 3*224*224 {
		t.Errorf("1x1: got %d values", len(out))
	}
}
