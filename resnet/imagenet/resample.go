package imagenet

import (
	"image"
	"math"
)

// This file is a transcription of Pillow's libImaging/Resample.c for the
// bilinear filter on 8-bit images: ImagingResample(im, w, h,
// IMAGING_TRANSFORM_BILINEAR, box=(0, 0, im.w, im.h)), which is what
// PIL.Image.resize((w, h), Image.BILINEAR) and therefore torchvision's
// antialiased bilinear Resize run on an RGB image.

// precisionBits is Pillow's PRECISION_BITS: the fixed-point fraction bits of
// the 8-bit resampling coefficients.
const precisionBits = 32 - 8 - 2

// coeffs holds, for a run of output pixels lo, lo+1, … of one axis, the
// input pixels each reads and their fixed-point weights.
type coeffs struct {
	// first[i] is the first input pixel of output pixel lo+i, and n[i] the
	// number of input pixels it reads.
	first, n []int
	// k[i*size : i*size+n[i]] are the weights of output pixel lo+i, scaled
	// by 1<<precisionBits.
	k    []int32
	size int
}

// bilinear is Pillow's bilinear_filter: a triangle of support 1.
func bilinear(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// newCoeffs is Pillow's precompute_coeffs followed by normalize_coeffs_8bpc,
// for inSize input pixels, of which the span [in0, in1) is resampled to
// outSize pixels, computed for output pixels lo … hi-1 only. The float32
// box edges and float64 arithmetic follow Pillow's C; explicit conversions
// keep Go from fusing multiply-adds.
func newCoeffs(inSize int, in0, in1 float32, outSize, lo, hi int) coeffs {
	scale := float64(in1-in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := 1 * filterscale // bilinear support is 1
	size := int(math.Ceil(support))*2 + 1
	c := coeffs{
		first: make([]int, hi-lo),
		n:     make([]int, hi-lo),
		k:     make([]int32, (hi-lo)*size),
		size:  size,
	}
	w := make([]float64, size)
	for xx := lo; xx < hi; xx++ {
		center := float64(in0) + float64((float64(xx)+0.5)*scale)
		ss := 1 / filterscale
		xmin := int(center - support + 0.5) // C's (int): truncation
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w[x] = bilinear(float64(float64(x+xmin)-center+0.5) * ss)
			ww += w[x]
		}
		i := xx - lo
		k := c.k[i*size : i*size+size]
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				k[x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		c.first[i], c.n[i] = xmin, max(xmax, 0)
	}
	return c
}

// span returns the input pixels [first, end) that c's outputs read.
func (c coeffs) span() (first, end int) {
	first, end = math.MaxInt, 0
	for i := range c.first {
		first = min(first, c.first[i])
		end = max(end, c.first[i]+c.n[i])
	}
	return first, end
}

// clip8 is Pillow's clip8: the fixed-point sum ss as a byte, saturated.
func clip8(ss int32) uint8 {
	v := ss >> precisionBits
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return uint8(v)
}

// resampleH is ImagingResampleHorizontal_8bpc: it fills dst, whose columns
// are the outputs of c, from rows offset … offset+dst.H-1 of src.
func resampleH(dst, src *RGB, offset int, c coeffs) {
	for yy := 0; yy < dst.H; yy++ {
		row := src.Pix[(yy+offset)*src.W*3 : (yy+offset+1)*src.W*3]
		out := dst.Pix[yy*dst.W*3 : (yy+1)*dst.W*3]
		for xx := 0; xx < dst.W; xx++ {
			k := c.k[xx*c.size : xx*c.size+c.n[xx]]
			in := row[c.first[xx]*3:]
			var s0, s1, s2 int32 = 1 << (precisionBits - 1), 1 << (precisionBits - 1), 1 << (precisionBits - 1)
			for x, kx := range k {
				s0 += int32(in[3*x]) * kx
				s1 += int32(in[3*x+1]) * kx
				s2 += int32(in[3*x+2]) * kx
			}
			out[3*xx], out[3*xx+1], out[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
}

// resampleV is ImagingResampleVertical_8bpc: it fills dst, whose rows are
// the outputs of c, from src, whose row 0 is input row shift.
func resampleV(dst, src *RGB, shift int, c coeffs) {
	w3 := src.W * 3
	for yy := 0; yy < dst.H; yy++ {
		k := c.k[yy*c.size : yy*c.size+c.n[yy]]
		in := src.Pix[(c.first[yy]-shift)*w3:]
		out := dst.Pix[yy*w3 : (yy+1)*w3]
		for i := range out {
			var s int32 = 1 << (precisionBits - 1)
			for y, ky := range k {
				s += int32(in[y*w3+i]) * ky
			}
			out[i] = clip8(s)
		}
	}
}

// resize returns the pixels within r of src resized to w×h exactly as
// Pillow's Image.resize((w, h), Image.BILINEAR) resamples an RGB image: a
// separable triangle filter whose support widens by the downscaling factor
// (antialiasing), with 8-bit rounding between the horizontal pass, done
// first, and the vertical one; a pass whose size does not change is
// skipped. Every output pixel depends only on its own coefficients, so
// computing the pixels within r alone gives the same values as Pillow's
// whole image, at a cost that does not grow with w×h. r must lie within
// (0, 0)-(w, h).
func resize(src *RGB, w, h int, r image.Rectangle) *RGB {
	if r.Empty() {
		return newRGB(0, 0)
	}
	// Pillow's box is (0, 0, src.W, src.H) as float32.
	y0, y1 := r.Min.Y, r.Max.Y // rows of src the vertical pass reads
	var vert coeffs
	if h != src.H {
		vert = newCoeffs(src.H, 0, float32(src.H), h, r.Min.Y, r.Max.Y)
		y0, y1 = vert.span()
	}
	tmp := newRGB(r.Dx(), y1-y0)
	if w != src.W {
		resampleH(tmp, src, y0, newCoeffs(src.W, 0, float32(src.W), w, r.Min.X, r.Max.X))
	} else {
		for y := y0; y < y1; y++ {
			copy(tmp.Pix[(y-y0)*tmp.W*3:], src.Pix[(y*src.W+r.Min.X)*3:(y*src.W+r.Max.X)*3])
		}
	}
	if h == src.H {
		return tmp
	}
	out := newRGB(r.Dx(), r.Dy())
	resampleV(out, tmp, y0, vert)
	return out
}
