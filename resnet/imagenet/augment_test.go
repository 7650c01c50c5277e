package imagenet

import (
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// CropBox's boxes lie in the image with torchvision's ranges of area and
// aspect ratio (up to the rounding of the sides), spread over them, and the
// same seed gives the same boxes.
func TestCropBox(t *testing.T) {
	a := TrainAugment(V1)
	const w, h, n = 500, 375, 4000
	r := rand.New(rand.NewPCG(1, 2))
	minS, maxS, minR, maxR := math.Inf(1), 0.0, math.Inf(1), 0.0
	var boxes []image.Rectangle
	for range n {
		b := a.CropBox(w, h, r)
		boxes = append(boxes, b)
		if !b.In(image.Rect(0, 0, w, h)) || b.Empty() {
			t.Fatalf("box %v outside %dx%d", b, w, h)
		}
		s := float64(b.Dx()*b.Dy()) / (w * h)
		ratio := float64(b.Dx()) / float64(b.Dy())
		minS, maxS, minR, maxR = min(minS, s), max(maxS, s), min(minR, ratio), max(maxR, ratio)
	}
	// Rounding each side by ½ pixel moves the area and ratio a little.
	slack := 1.0 / 80
	if minS < 0.08-slack || maxS > 1+slack || minR < 0.75*(1-slack) || maxR > 4./3*(1+slack) {
		t.Errorf("area fraction in [%.3f, %.3f], ratio in [%.3f, %.3f]: outside torchvision's", minS, maxS, minR, maxR)
	}
	if minS > 0.1 || maxS < 0.9 || minR > 0.8 || maxR < 1.25 {
		t.Errorf("area fraction in [%.3f, %.3f], ratio in [%.3f, %.3f]: the draws do not cover the ranges", minS, maxS, minR, maxR)
	}
	r = rand.New(rand.NewPCG(1, 2))
	for i := range n {
		if b := a.CropBox(w, h, r); b != boxes[i] {
			t.Fatalf("box %d: %v, then %v with the same seed", i, boxes[i], b)
		}
	}
}

// An image too narrow for any try falls back to the central crop clamped
// to the ratio range, as torchvision's does.
func TestCropBoxFallback(t *testing.T) {
	a := TrainAugment(V1)
	r := rand.New(rand.NewPCG(3, 4))
	if b, want := a.CropBox(1000, 10, r), image.Rect(493, 0, 506, 10); b != want {
		t.Errorf("1000x10: %v, want %v", b, want)
	}
	if b, want := a.CropBox(10, 1000, r), image.Rect(0, 493, 10, 506); b != want {
		t.Errorf("10x1000: %v, want %v", b, want)
	}
}

// With the whole image as the only crop, Apply is the evaluation
// transform at that size, or its mirror image; both happen, and a seed
// repeats its choices.
func TestAugmentApply(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 40, 40))
	for i := range img.Pix {
		img.Pix[i] = uint8(i*7 + i/160)
	}
	a := Augment{Size: 24, Scale: [2]float64{1, 1}, Ratio: [2]float64{1, 1}, Mean: V1.Mean, Std: V1.Std}
	plain := Transform{Resize: 24, Crop: 24, Mean: V1.Mean, Std: V1.Std}.Apply(img)
	mirror := make([]float32, len(plain))
	for c := range 3 {
		for y := range 24 {
			for x := range 24 {
				mirror[(c*24+y)*24+x] = plain[(c*24+y)*24+23-x]
			}
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	var flips []bool
	for range 40 {
		out := a.Apply(img, r)
		switch {
		case slices.Equal(out, plain):
			flips = append(flips, false)
		case slices.Equal(out, mirror):
			flips = append(flips, true)
		default:
			t.Fatal("augmented image is neither the resized image nor its mirror")
		}
	}
	if n := len(slices.DeleteFunc(slices.Clone(flips), func(f bool) bool { return !f })); n < 8 || n > 32 {
		t.Errorf("%d flips in 40", n)
	}
	r = rand.New(rand.NewPCG(5, 6))
	for i := range flips {
		if out := a.Apply(img, r); slices.Equal(out, mirror) != flips[i] {
			t.Fatalf("draw %d differs with the same seed", i)
		}
	}
}
