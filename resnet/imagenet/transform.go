package imagenet

import (
	"image"
	"math"
)

// Transform is torchvision's ImageNet evaluation preprocessing for a PIL
// image:
//
//	Compose([Resize(Resize), CenterCrop(Crop), ToTensor(), Normalize(Mean, Std)])
//
// with Resize's default bilinear interpolation and antialiasing.
type Transform struct {
	// Resize is the length the shorter image side is scaled to.
	Resize int
	// Crop is the side of the square taken from the centre.
	Crop int
	// Mean and Std are the per-channel (R, G, B) normalisation constants.
	Mean, Std [3]float32
}

// V1 is the preprocessing of torchvision's IMAGENET1K_V1 weights.
var V1 = Transform{
	Resize: 256,
	Crop:   224,
	Mean:   [3]float32{0.485, 0.456, 0.406},
	Std:    [3]float32{0.229, 0.224, 0.225},
}

// V2 is the preprocessing of torchvision's IMAGENET1K_V2 weights: V1 with
// the shorter side resized to 232.
var V2 = Transform{
	Resize: 232,
	Crop:   224,
	Mean:   V1.Mean,
	Std:    V1.Std,
}

// Apply returns img preprocessed as torchvision does it with Pillow, as a
// 3×Crop×Crop float32 tensor in CHW order (R plane, G plane, B plane):
//
//  1. ToRGB, as PIL's convert("RGB");
//  2. resize so that the shorter side is Resize and the longer one
//     int(Resize·long/short), with Pillow's antialiased bilinear filter
//     (Pillow's ImagingResample);
//  3. take the Crop×Crop square at top int(round((h-Crop)/2)) and left
//     int(round((w-Crop)/2)), Python rounding half to even; where the image
//     is smaller than Crop, torchvision's zero padding is reproduced;
//  4. v/255 in float32, then (v - Mean[c]) / Std[c] in float32.
//
// Apply panics if img is empty or t.Resize or t.Crop is not positive.
func (t Transform) Apply(img image.Image) []float32 {
	if t.Resize <= 0 || t.Crop <= 0 {
		panic("imagenet: Transform with non-positive Resize or Crop")
	}
	if img.Bounds().Empty() {
		panic("imagenet: Apply on an empty image")
	}
	src := ToRGB(img)
	w, h := resizedSize(src.W, src.H, t.Resize)
	left, top := cropOrigin(w, t.Crop), cropOrigin(h, t.Crop)
	// Only the part of the resized image inside the crop is computed.
	r := image.Rect(left, top, left+t.Crop, top+t.Crop).Intersect(image.Rect(0, 0, w, h))
	return t.normalize(resize(src, w, h, r), r.Min.X-left, r.Min.Y-top)
}

// resizedSize is torchvision's _compute_resized_output_size for an int size
// and no max_size: the shorter side becomes size, the longer one
// int(size * long / short) in float64.
func resizedSize(w, h, size int) (int, int) {
	if w <= h {
		return size, int(float64(size) * float64(h) / float64(w))
	}
	return int(float64(size) * float64(w) / float64(h)), size
}

// cropOrigin is torchvision's center_crop offset along one axis of length n
// for a crop of length c: int(round((n - c) / 2.0)), rounding half to even.
// When c > n, torchvision first pads the axis with (c-n)/2 zeros before and
// the rest after, making the offset -(c-n)/2.
func cropOrigin(n, c int) int {
	if c > n {
		return -((c - n) / 2)
	}
	return int(math.RoundToEven(float64(n-c) / 2))
}

// normalize applies ToTensor and Normalize to the Crop×Crop square whose
// pixels at (x0, y0) onwards are img and whose other pixels are zero
// (torchvision's padding), returning CHW float32.
func (t Transform) normalize(img *RGB, x0, y0 int) []float32 {
	c := t.Crop
	out := make([]float32, 3*c*c)
	for ch := range 3 {
		mean, std := t.Mean[ch], t.Std[ch]
		plane := out[ch*c*c : (ch+1)*c*c]
		for y := range c {
			sy := y - y0
			for x := range c {
				sx := x - x0
				var v uint8
				if sx >= 0 && sx < img.W && sy >= 0 && sy < img.H {
					v = img.Pix[(sy*img.W+sx)*3+ch]
				}
				f := float32(v) / 255
				plane[y*c+x] = (f - mean) / std
			}
		}
	}
	return out
}
