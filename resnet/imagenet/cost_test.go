package imagenet

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/tiff"
)

// wideTIFF returns a w×h 16-bit RGB TIFF with one strip, deflated: of zeros,
// or of garbage if zeros is false (for a header that is refused anyway).
func wideTIFF(t testing.TB, w, h int, zeros bool) []byte {
	var strip bytes.Buffer
	if zeros {
		z := zlib.NewWriter(&strip)
		row := make([]byte, 6*w)
		for range h {
			z.Write(row)
		}
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
	} else {
		strip.WriteString("not deflate")
	}
	le := binary.LittleEndian
	b := le.AppendUint32([]byte("II*\x00"), 8)
	const entries = 10
	bps := uint32(8 + 2 + entries*12 + 4) // BitsPerSample's values follow the IFD
	for i, e := range [entries][3]uint32{
		{256, 4, uint32(w)}, {257, 4, uint32(h)}, {258, 3, bps}, {259, 3, 8}, // deflate
		{262, 3, 2}, {273, 4, bps + 6}, {277, 3, 3}, {278, 4, uint32(h)}, // RGB, one strip
		{279, 4, uint32(strip.Len())}, {284, 3, 1},
	} {
		if i == 0 {
			b = le.AppendUint16(b, entries)
		}
		n := uint32(1)
		if e[0] == 258 {
			n = 3
		}
		b = le.AppendUint16(b, uint16(e[0]))
		b = le.AppendUint16(b, uint16(e[1]))
		b = le.AppendUint32(b, n)
		b = le.AppendUint32(b, e[2])
	}
	b = le.AppendUint32(b, 0)
	b = append(b, 16, 0, 16, 0, 16, 0)
	return append(b, strip.Bytes()...)
}

// TestWideRefused checks that a small file that would decode into much
// memory (an 8192×8192 16-bit TIFF: 0.4 MB of deflated zeros, 64 Mi
// pixels, within MaxPixels) is refused from its header, by MaxBytes.
func TestWideRefused(t *testing.T) {
	data := wideTIFF(t, 8192, 8192, false)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(bytes.NewReader(data), "wide.tiff")
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) || !strings.HasPrefix(err.Error(), "imagenet: wide.tiff: image too large: decoding this 8192x8192 TIFF would take about ") {
		t.Errorf("error %v, want one wrapping ErrTooLarge that gives the size", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("allocated %d bytes before refusing", n)
	}
}

// TestDecodeCost checks decodeCost against what the decoders allocate: for
// each format and colour model, decoding takes no more than the estimate
// plus a fixed allowance.
func TestDecodeCost(t *testing.T) {
	const w, h = 640, 480
	r := image.Rect(0, 0, w, h)
	gray16 := image.NewGray16(r)
	nrgba64 := pattern(image.NewNRGBA64(r), true)
	rgba := pattern(image.NewRGBA(r), false)
	var jpg, jpgGray bytes.Buffer
	if err := jpeg.Encode(&jpg, rgba, nil); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jpgGray, image.NewGray(r), nil); err != nil {
		t.Fatal(err)
	}
	enc := func(f encodeFunc, m image.Image) []byte {
		var buf bytes.Buffer
		if err := f(&buf, m); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tiffDeflate := func(m image.Image) []byte {
		var buf bytes.Buffer
		if err := tiff.Encode(&buf, m, &tiff.Options{Compression: tiff.Deflate}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"gray16.png", enc(pngEnc, gray16)},
		{"rgba.png", enc(pngEnc, rgba)},
		{"nrgba64.png", enc(pngEnc, nrgba64)},
		{"rgb.jpg", jpg.Bytes()},
		{"gray.jpg", jpgGray.Bytes()},
		{"rgba.tiff", enc(tiffEnc, rgba)},
		{"rgba.deflate.tiff", tiffDeflate(rgba)},
		{"nrgba64.deflate.tiff", tiffDeflate(nrgba64)},
		{"gray16.tiff", enc(tiffEnc, gray16)},
		{"rgb48.strip.tiff", wideTIFF(t, w, h, true)},
		{"rgba.bmp", enc(bmpEnc, rgba)},
		{"rgba.gif", enc(gifEnc, rgba)},
	} {
		cfg, format, err := image.DecodeConfig(bytes.NewReader(c.data))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		est := decodeCost(cfg, format, bytes.NewReader(c.data))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := Decode(bytes.NewReader(c.data), c.name); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		runtime.ReadMemStats(&after)
		got := int64(after.TotalAlloc - before.TotalAlloc)
		t.Logf("%-22s %s: estimate %5.2f bytes a pixel, allocated %5.2f", c.name, colorName(cfg.ColorModel), float64(est)/(w*h), float64(got)/(w*h))
		// The estimate leaves out the decoders' fixed buffers (inflate
		// windows, rows, the sniffed start of the file).
		if got > est+512<<10 {
			t.Errorf("%s: decoding allocated %d bytes, more than the %d estimated", c.name, got, est)
		}
	}
}

// colorName names the colour models of TestDecodeCost.
func colorName(m color.Model) string {
	switch m {
	case color.GrayModel:
		return "gray"
	case color.Gray16Model:
		return "gray16"
	case color.RGBAModel:
		return "rgba"
	case color.NRGBAModel:
		return "nrgba"
	case color.RGBA64Model:
		return "rgba64"
	case color.NRGBA64Model:
		return "nrgba64"
	case color.YCbCrModel:
		return "ycbcr"
	}
	return "other"
}

// TestJPEGFrame checks the frame header reader on real and broken files.
func TestJPEGFrame(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 16, 16)), nil); err != nil {
		t.Fatal(err)
	}
	if s, p, ok := jpegFrame(buf.Bytes()); !ok || s != 1.5 || p {
		t.Errorf("Go's 4:2:0 baseline JPEG: %v samples, progressive %v, ok %v", s, p, ok)
	}
	sof2 := []byte{0xff, 0xd8, 0xff, 0xc2, 0, 17, 8, 0, 16, 0, 16, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0}
	if s, p, ok := jpegFrame(sof2); !ok || s != 3 || !p {
		t.Errorf("progressive 4:4:4: %v samples, progressive %v, ok %v", s, p, ok)
	}
	for _, bad := range [][]byte{nil, {0xff, 0xd8}, {0xff, 0xd8, 0xff, 0xe0, 0, 0}, {0xff, 0xd8, 0xff, 0xe0, 0, 1, 0, 0}, sof2[:12], {0xff, 0xd8, 0xff, 0xc0, 0, 8, 8, 0, 1, 0, 1, 0}, {0xff, 0xd8, 0xff, 0xc0, 0, 0, 0, 0}} {
		if _, _, ok := jpegFrame(bad); ok {
			t.Errorf("jpegFrame(% x) is ok", bad)
		}
	}
}
