package imagenet

import (
	"bytes"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// TestToRGBValues checks single pixels of each colour model against the
// values Pillow's convert("RGB") gives for the same stored colour.
func TestToRGBValues(t *testing.T) {
	r := image.Rect(0, 0, 1, 1)
	one := func(m image.Image) []uint8 { return ToRGB(m).Pix }
	gray := image.NewGray(r)
	gray.Pix[0] = 77
	gray16 := image.NewGray16(r)
	gray16.Pix[0], gray16.Pix[1] = 0x12, 0xff // high byte kept
	nrgba := image.NewNRGBA(r)
	copy(nrgba.Pix, []uint8{10, 20, 30, 128})
	rgba := image.NewRGBA(r)
	copy(rgba.Pix, []uint8{5, 10, 15, 128}) // premultiplied (10, 20, 30, 128), rounded
	clear := image.NewRGBA(r)
	copy(clear.Pix, []uint8{0, 0, 0, 0})
	rgba64 := image.NewRGBA64(r)
	copy(rgba64.Pix, []uint8{0xab, 0xcd, 0x12, 0x34, 0x00, 0xff, 0xff, 0xff})
	nrgba64 := image.NewNRGBA64(r)
	copy(nrgba64.Pix, []uint8{0xab, 0xcd, 0x12, 0x34, 0x00, 0xff, 0x00, 0x01})
	cmyk := image.NewCMYK(r)
	copy(cmyk.Pix, []uint8{1, 0, 255, 128})
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
	ycc.Y[0], ycc.Cb[0], ycc.Cr[0] = 120, 90, 200
	yr, yg, yb := color.YCbCrToRGB(120, 90, 200)
	for _, c := range []struct {
		name string
		m    image.Image
		want []uint8
	}{
		{"gray", gray, []uint8{77, 77, 77}},
		{"gray16", gray16, []uint8{0x12, 0x12, 0x12}},
		{"nrgba", nrgba, []uint8{10, 20, 30}},
		// color.NRGBAModel: c·0xffff/a >> 8.
		{"rgba", rgba, []uint8{9, 19, 29}},
		{"rgba transparent", clear, []uint8{0, 0, 0}},
		{"rgba64", rgba64, []uint8{0xab, 0x12, 0x00}},
		{"nrgba64", nrgba64, []uint8{0xab, 0x12, 0x00}},
		// Pillow's cmyk2rgb: 127 - round(1·127/255) = 127 (Go's
		// color.CMYKToRGB gives 126), 127 - 0, 127 - 127.
		{"cmyk", cmyk, []uint8{127, 127, 0}},
		{"ycbcr", ycc, []uint8{yr, yg, yb}},
	} {
		if got := one(c.m); !bytes.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}

	pal := image.NewPaletted(image.Rect(0, 0, 4, 1), color.Palette{
		color.RGBA{10, 20, 30, 255},
		color.NRGBA{200, 100, 50, 0}, // PNG tRNS: transparent but coloured
		color.Gray{99},
	})
	copy(pal.Pix, []uint8{0, 1, 2, 7}) // 7 is past the palette: black
	want := []uint8{10, 20, 30, 200, 100, 50, 99, 99, 99, 0, 0, 0}
	if got := ToRGB(pal).Pix; !bytes.Equal(got, want) {
		t.Errorf("paletted: %v, want %v", got, want)
	}
}

func TestCMYKExtremes(t *testing.T) {
	for _, c := range []struct{ c, m, y, k, r, g, b uint8 }{
		{0, 0, 0, 0, 255, 255, 255},
		{255, 255, 255, 0, 0, 0, 0},
		{0, 0, 0, 255, 0, 0, 0},
		{100, 50, 200, 30, 137, 181, 49},
	} {
		r, g, b := cmykToRGB(c.c, c.m, c.y, c.k)
		if r != c.r || g != c.g || b != c.b {
			t.Errorf("cmykToRGB(%d, %d, %d, %d) = %d, %d, %d, want %d, %d, %d",
				c.c, c.m, c.y, c.k, r, g, b, c.r, c.g, c.b)
		}
	}
	// Pillow's rounding and Go's truncation differ by at most one.
	for c := range 256 {
		for k := range 256 {
			p, _, _ := cmykToRGB(uint8(c), 0, 0, uint8(k))
			g, _, _ := color.CMYKToRGB(uint8(c), 0, 0, uint8(k))
			if d := int(p) - int(g); d < -1 || d > 1 {
				t.Fatalf("c=%d k=%d: Pillow's %d, Go's %d", c, k, p, g)
			}
		}
	}
}

// opaqueType hides an image's concrete type, so that ToRGB takes its
// generic color.NRGBAModel path.
type opaqueType struct{ image.Image }

// TestToRGBFastPaths checks that every per-type path of ToRGB, on
// sub-images with a non-zero origin, agrees with the generic path.
func TestToRGBFastPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := image.Rect(-3, 2, 14, 11)
	fill := func(p []uint8) {
		for i := range p {
			p[i] = uint8(rng.Uint32())
		}
	}
	rgba := image.NewRGBA(r)
	fill(rgba.Pix)
	for i := 0; i < len(rgba.Pix); i += 4 { // keep it validly premultiplied
		for j := range 3 {
			rgba.Pix[i+j] = min(rgba.Pix[i+j], rgba.Pix[i+3])
		}
	}
	rgba64 := image.NewRGBA64(r)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			a := uint16(rng.Uint32())
			if x%3 == 0 {
				a = 0xffff
			}
			v := func() uint16 { return uint16(rng.Uint32() % (uint32(a) + 1)) }
			rgba64.SetRGBA64(x, y, color.RGBA64{v(), v(), v(), a})
		}
	}
	nrgba, nrgba64 := image.NewNRGBA(r), image.NewNRGBA64(r)
	gray, gray16 := image.NewGray(r), image.NewGray16(r)
	pal := image.NewPaletted(r, color.Palette{color.RGBA{1, 2, 3, 255}, color.NRGBA{9, 8, 7, 6}, color.Gray16{0x1234}})
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	nycca := image.NewNYCbCrA(r, image.YCbCrSubsampleRatio422)
	for _, p := range [][]uint8{nrgba.Pix, nrgba64.Pix, gray.Pix, gray16.Pix, ycc.Y, ycc.Cb, ycc.Cr, nycca.Y, nycca.Cb, nycca.Cr, nycca.A} {
		fill(p)
	}
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	// Non-premultiplied alpha is dropped, not applied: the reference for
	// those is the same colours made opaque.
	nrgba64Opaque := image.NewNRGBA64(r)
	copy(nrgba64Opaque.Pix, nrgba64.Pix)
	for i := 6; i < len(nrgba64Opaque.Pix); i += 8 {
		nrgba64Opaque.Pix[i], nrgba64Opaque.Pix[i+1] = 0xff, 0xff
	}
	sub := image.Rect(-1, 3, 12, 10)
	type subImager interface {
		image.Image
		SubImage(image.Rectangle) image.Image
	}
	for _, c := range []struct{ m, ref subImager }{
		{rgba, rgba}, {rgba64, rgba64}, {nrgba, nrgba}, {nrgba64, nrgba64Opaque},
		{gray, gray}, {gray16, gray16}, {pal, pal}, {ycc, ycc}, {nycca, &nycca.YCbCr},
	} {
		for _, sr := range []image.Rectangle{r, sub} {
			s := c.m.SubImage(sr)
			got, want := ToRGB(s), ToRGB(opaqueType{c.ref.SubImage(sr)})
			if got.W != sr.Dx() || got.H != sr.Dy() || !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("%T %v: fast path differs from color.NRGBAModel", c.m, sr)
			}
		}
	}
}
