package imagenet

import (
	"image"
	"image/color"
)

// RGB is an 8-bit RGB image: row-major, three bytes (R, G, B) a pixel,
// W×H pixels, with no padding between rows. It is an image.Image whose
// bounds start at (0, 0).
type RGB struct {
	W, H int
	Pix  []uint8
}

// ColorModel returns color.RGBAModel: every pixel is opaque.
func (m *RGB) ColorModel() color.Model { return color.RGBAModel }

// Bounds returns the rectangle from (0, 0) to (W, H).
func (m *RGB) Bounds() image.Rectangle { return image.Rect(0, 0, m.W, m.H) }

// At returns the colour of pixel (x, y), opaque, or transparent black
// outside the bounds.
func (m *RGB) At(x, y int) color.Color {
	if x < 0 || y < 0 || x >= m.W || y >= m.H {
		return color.RGBA{}
	}
	p := m.Pix[3*(y*m.W+x):]
	return color.RGBA{p[0], p[1], p[2], 0xff}
}

// newRGB returns a black w×h RGB image.
func newRGB(w, h int) *RGB {
	return &RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)}
}

// ToRGB converts img to 8-bit RGB as Pillow's Image.convert("RGB") does for
// the image Pillow would have opened from the same file:
//
//   - grey levels are copied to all three channels;
//   - a paletted pixel becomes its palette entry's colour;
//   - alpha is dropped from the non-premultiplied colour: an NRGBA pixel
//     keeps its R, G, B bytes, and a premultiplied pixel (image.RGBA,
//     image.RGBA64, …) is first un-premultiplied as color.NRGBAModel does
//     (a fully transparent pixel becomes black, since Go has lost its colour);
//   - 16-bit samples keep their high byte, as Pillow's PNG reader does for
//     16-bit RGB and RGBA. Pillow opens 16-bit grey as mode "I;16" and its
//     convert("RGB") clips that to 255; ToRGB takes the high byte instead;
//   - CMYK uses Pillow's cmyk2rgb: R = 255-K - round(C·(255-K)/255), and so
//     on for G and B, which differs from Go's color.CMYKToRGB by at most one;
//   - Y'CbCr (JPEG, lossy WebP) uses Go's color.YCbCrToRGB, with chroma
//     replicated from the subsampled planes. libjpeg-turbo, behind Pillow,
//     interpolates chroma and rounds differently, so JPEG pixels may differ
//     from Pillow's by a few levels.
//
// An *RGB (as Decode returns for wide images) is returned as it is, not
// copied. Any other image goes through color.NRGBAModel pixel by pixel.
func ToRGB(img image.Image) *RGB {
	if m, ok := img.(*RGB); ok {
		return m
	}
	b := img.Bounds()
	out := newRGB(b.Dx(), b.Dy())
	switch m := img.(type) {
	case *image.RGBA:
		rows(out, m.Pix, m.Stride, m.Rect, b, 4, func(d, s []uint8) {
			d[0], d[1], d[2] = unpremul8(s[0], s[3]), unpremul8(s[1], s[3]), unpremul8(s[2], s[3])
		})
	case *image.NRGBA:
		rows(out, m.Pix, m.Stride, m.Rect, b, 4, func(d, s []uint8) {
			d[0], d[1], d[2] = s[0], s[1], s[2]
		})
	case *image.RGBA64:
		rows(out, m.Pix, m.Stride, m.Rect, b, 8, func(d, s []uint8) {
			a := uint32(s[6])<<8 | uint32(s[7])
			d[0] = unpremul16(uint32(s[0])<<8|uint32(s[1]), a)
			d[1] = unpremul16(uint32(s[2])<<8|uint32(s[3]), a)
			d[2] = unpremul16(uint32(s[4])<<8|uint32(s[5]), a)
		})
	case *image.NRGBA64:
		rows(out, m.Pix, m.Stride, m.Rect, b, 8, func(d, s []uint8) {
			d[0], d[1], d[2] = s[0], s[2], s[4]
		})
	case *image.Gray:
		rows(out, m.Pix, m.Stride, m.Rect, b, 1, func(d, s []uint8) {
			d[0], d[1], d[2] = s[0], s[0], s[0]
		})
	case *image.Gray16:
		rows(out, m.Pix, m.Stride, m.Rect, b, 2, func(d, s []uint8) {
			d[0], d[1], d[2] = s[0], s[0], s[0]
		})
	case *image.CMYK:
		rows(out, m.Pix, m.Stride, m.Rect, b, 4, func(d, s []uint8) {
			d[0], d[1], d[2] = cmykToRGB(s[0], s[1], s[2], s[3])
		})
	case *image.Paletted:
		var pal [256][3]uint8
		for i, c := range m.Palette {
			if i < len(pal) && c != nil {
				n := color.NRGBAModel.Convert(c).(color.NRGBA)
				pal[i] = [3]uint8{n.R, n.G, n.B}
			}
		}
		rows(out, m.Pix, m.Stride, m.Rect, b, 1, func(d, s []uint8) {
			c := pal[s[0]] // out-of-range indices read black, as Pillow's zeroed palette does
			d[0], d[1], d[2] = c[0], c[1], c[2]
		})
	case *image.YCbCr:
		ycbcr(out, m, b)
	case *image.NYCbCrA:
		ycbcr(out, &m.YCbCr, b)
	default:
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = c.R, c.G, c.B
				i += 3
			}
		}
	}
	return out
}

// rows calls f for every pixel of bounds b (within rect), with the three
// bytes of out and the n bytes of pix that hold the pixel.
func rows(out *RGB, pix []uint8, stride int, rect, b image.Rectangle, n int, f func(d, s []uint8)) {
	b = b.Intersect(rect)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		s := pix[(y-rect.Min.Y)*stride+(b.Min.X-rect.Min.X)*n:]
		d := out.Pix[(y-b.Min.Y)*out.W*3:]
		for x := 0; x < b.Dx(); x++ {
			f(d[3*x:3*x+3], s[n*x:n*x+n])
		}
	}
}

// ycbcr converts the pixels of m within b with color.YCbCrToRGB.
func ycbcr(out *RGB, m *image.YCbCr, b image.Rectangle) {
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			i += 3
		}
	}
}

// unpremul8 returns the 8-bit non-premultiplied value of premultiplied
// channel c with alpha a, as color.NRGBAModel computes it.
func unpremul8(c, a uint8) uint8 {
	switch a {
	case 0xff:
		return c
	case 0:
		return 0
	}
	// color.NRGBAModel works on c·0x101 and a·0x101; the factor cancels.
	return uint8((uint32(c) * 0xffff / uint32(a)) >> 8)
}

// unpremul16 is unpremul8 for 16-bit channel c and alpha a.
func unpremul16(c, a uint32) uint8 {
	switch a {
	case 0xffff:
		return uint8(c >> 8)
	case 0:
		return 0
	}
	return uint8((c * 0xffff / a) >> 8)
}

// cmykToRGB is Pillow's cmyk2rgb (libImaging/Convert.c).
func cmykToRGB(c, m, y, k uint8) (r, g, b uint8) {
	nk := 255 - int(k)
	f := func(v uint8) uint8 {
		t := int(v)*nk + 128 // Pillow's MULDIV255: a rounded v·nk/255
		return uint8(nk - ((t>>8)+t)>>8)
	}
	return f(c), f(m), f(y)
}
