package imagenet

import (
	"image"
	"math"
	"math/rand/v2"
)

// Augment is torchvision's standard ImageNet training preprocessing:
//
//	Compose([RandomResizedCrop(Size, Scale, Ratio), RandomHorizontalFlip(),
//	         ToTensor(), Normalize(Mean, Std)])
//
// with RandomResizedCrop's bilinear, antialiased resize (Pillow's).
type Augment struct {
	// Size is the side of the square output.
	Size int
	// Scale is the range of the crop's area as a fraction of the image's;
	// Ratio the range of its aspect ratio (width/height).
	Scale, Ratio [2]float64
	// Mean and Std are the per-channel normalisation constants.
	Mean, Std [3]float32
}

// TrainAugment returns torchvision's defaults around t's crop size and
// normalisation: scale (0.08, 1), ratio (3/4, 4/3).
func TrainAugment(t Transform) Augment {
	return Augment{Size: t.Crop, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3. / 4, 4. / 3}, Mean: t.Mean, Std: t.Std}
}

// CropBox is torchvision's RandomResizedCrop.get_params for a w×h image:
// up to ten tries of an area drawn uniformly from Scale·w·h and an aspect
// ratio drawn log-uniformly from Ratio, the crop's width and height
// rounded (half to even, as Python's round) and kept if it fits, at a
// uniformly drawn position; else the central crop of the whole image
// clamped to Ratio. The draws come from r.
func (a Augment) CropBox(w, h int, r *rand.Rand) image.Rectangle {
	area := float64(w * h)
	lo, hi := math.Log(a.Ratio[0]), math.Log(a.Ratio[1])
	for range 10 {
		target := area * (a.Scale[0] + (a.Scale[1]-a.Scale[0])*r.Float64())
		aspect := math.Exp(lo + (hi-lo)*r.Float64())
		cw := int(math.RoundToEven(math.Sqrt(target * aspect)))
		ch := int(math.RoundToEven(math.Sqrt(target / aspect)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			y := r.IntN(h - ch + 1)
			x := r.IntN(w - cw + 1)
			return image.Rect(x, y, x+cw, y+ch)
		}
	}
	cw, ch := w, h
	switch in := float64(w) / float64(h); {
	case in < a.Ratio[0]:
		ch = int(math.RoundToEven(float64(w) / a.Ratio[0]))
	case in > a.Ratio[1]:
		cw = int(math.RoundToEven(float64(h) * a.Ratio[1]))
	}
	x, y := (w-cw)/2, (h-ch)/2
	return image.Rect(x, y, x+cw, y+ch)
}

// Apply returns one random augmentation of img, drawn from r, as a
// 3×Size×Size float32 CHW tensor: the crop CropBox picks, resized to
// Size×Size, mirrored left to right with probability ½, normalised as
// Transform.Apply does. The same r state gives the same tensor.
// Apply panics if img is empty or a.Size is not positive.
func (a Augment) Apply(img image.Image, r *rand.Rand) []float32 {
	if a.Size <= 0 {
		panic("imagenet: Augment with non-positive Size")
	}
	if img.Bounds().Empty() {
		panic("imagenet: Augment on an empty image")
	}
	src := ToRGB(img)
	box := a.CropBox(src.W, src.H, r)
	crop := newRGB(box.Dx(), box.Dy())
	for y := range crop.H {
		copy(crop.Pix[y*crop.W*3:(y+1)*crop.W*3], src.Pix[((box.Min.Y+y)*src.W+box.Min.X)*3:])
	}
	out := resize(crop, a.Size, a.Size, image.Rect(0, 0, a.Size, a.Size))
	if r.Float64() < 0.5 {
		for y := range out.H {
			row := out.Pix[y*out.W*3 : (y+1)*out.W*3]
			for i, j := 0, out.W-1; i < j; i, j = i+1, j-1 {
				for c := range 3 {
					row[3*i+c], row[3*j+c] = row[3*j+c], row[3*i+c]
				}
			}
		}
	}
	return Transform{Resize: a.Size, Crop: a.Size, Mean: a.Mean, Std: a.Std}.normalize(out, 0, 0)
}
