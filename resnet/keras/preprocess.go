package keras

import (
	"image"

	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

// Size is the side of the square images Keras' ResNets take (target_size
// (224, 224)).
const Size = 224

// Mode is a preprocess_input mode.
type Mode int

// The modes of Keras' ResNets.
const (
	Caffe Mode = iota // V1: RGB → BGR, minus the ImageNet channel means, no scaling
	TF                // V2: x/127.5 − 1, channels R, G, B
)

// Mode is the architecture's preprocess_input mode.
func (a Arch) Mode() Mode {
	if a.V2 {
		return TF
	}
	return Caffe
}

// caffeMean is the mean Keras subtracts from B, G and R in caffe mode.
var caffeMean = [3]float64{103.939, 116.779, 123.68}

// Preprocess returns what Keras feeds its ResNets for an image, as a
// 3×size×size CHW tensor: load_img(path, target_size=(size, size)) (Pillow's
// convert("RGB"), imagenet.ToRGB, and its NEAREST resize, Resize), img_to_array,
// then preprocess_input in the given mode. Channels are B, G, R in caffe
// mode and R, G, B in tf mode.
func Preprocess(img image.Image, size int, mode Mode) []float32 {
	src := imagenet.ToRGB(img)
	if src.W != size || src.H != size {
		src = Resize(src, size, size)
	}
	return Input(src, mode)
}

// Preprocess is Preprocess(img, Size, m.Arch.Mode()).
func (m *Model) Preprocess(img image.Image) []float32 { return Preprocess(img, Size, m.Arch.Mode()) }

// Input is preprocess_input on an 8-bit RGB image, in float32 as Keras
// computes it, as a CHW tensor.
func Input(src *imagenet.RGB, mode Mode) []float32 {
	n := src.W * src.H
	out := make([]float32, 3*n)
	for i := 0; i < n; i++ {
		r, g, b := float32(src.Pix[3*i]), float32(src.Pix[3*i+1]), float32(src.Pix[3*i+2])
		if mode == TF {
			out[i], out[n+i], out[2*n+i] = r/127.5-1, g/127.5-1, b/127.5-1
			continue
		}
		out[i] = b - float32(caffeMean[0])
		out[n+i] = g - float32(caffeMean[1])
		out[2*n+i] = r - float32(caffeMean[2])
	}
	return out
}

// Resize is Pillow's Image.resize((w, h), Image.NEAREST) of an RGB image
// (ImagingScaleAffine): output column x takes the source column int(xo),
// where xo starts at s/2 and grows by s = in/out per column as a running
// float64 sum, which is not always floor((x + 0.5)·s); rows likewise.
func Resize(src *imagenet.RGB, w, h int) *imagenet.RGB {
	out := &imagenet.RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)}
	xs, ys := nearest(src.W, w), nearest(src.H, h)
	for y, sy := range ys {
		if sy < 0 {
			continue
		}
		row := src.Pix[3*sy*src.W:]
		dst := out.Pix[3*y*w:]
		for x, sx := range xs {
			if sx >= 0 {
				copy(dst[3*x:3*x+3], row[3*sx:3*sx+3])
			}
		}
	}
	return out
}

// nearest returns the source index of each of out positions over in, or
// −1 where Pillow's sum runs outside the source (the pixel stays black).
func nearest(in, out int) []int {
	s := float64(in) / float64(out)
	idx := make([]int, out)
	xo := s * 0.5
	for i := range idx {
		idx[i] = int(xo)
		if xo < 0 || idx[i] >= in {
			idx[i] = -1
		}
		xo += s
	}
	return idx
}
