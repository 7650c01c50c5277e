package imagenet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// pattern fills a w×h image of any settable kind with a fixed,
// non-trivial pattern of colours, some of them translucent.
func pattern[T interface {
	image.Image
	Set(x, y int, c color.Color)
}](m T, alpha bool) T {
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBA{uint8(x * 37), uint8(y * 59), uint8(x*y + 11), 255}
			if alpha {
				c.A = uint8(x*70 + y*30)
			}
			m.Set(x, y, c)
		}
	}
	return m
}

// rgbOf is the reference conversion: color.NRGBAModel pixel by pixel, the
// colour with its alpha dropped.
func rgbOf(m image.Image) []uint8 {
	var out []uint8
	if n, ok := m.(*image.NRGBA64); ok {
		// Going through RGBA() would premultiply and lose precision.
		for i := 0; i < len(n.Pix); i += 8 {
			out = append(out, n.Pix[i], n.Pix[i+2], n.Pix[i+4])
		}
		return out
	}
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
			out = append(out, c.R, c.G, c.B)
		}
	}
	return out
}

type encodeFunc func(io.Writer, image.Image) error

func pngEnc(w io.Writer, m image.Image) error  { return png.Encode(w, m) }
func bmpEnc(w io.Writer, m image.Image) error  { return bmp.Encode(w, m) }
func tiffEnc(w io.Writer, m image.Image) error { return tiff.Encode(w, m, nil) }
func gifEnc(w io.Writer, m image.Image) error  { return gif.Encode(w, m, nil) }
func jpegEnc(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, &jpeg.Options{Quality: 95}) }

// TestDecodeFormats encodes images of each colour model in each format and
// checks the decoded type (8-bit for wide images) and, for lossless
// formats, the RGB pixels.
func TestDecodeFormats(t *testing.T) {
	r := image.Rect(0, 0, 7, 5)
	pal := image.NewPaletted(r, palette.Plan9)
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i * 13)
	}
	gray := image.NewGray(r)
	gray16 := image.NewGray16(r)
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
		gray16.Pix[2*i], gray16.Pix[2*i+1] = uint8(i*7), uint8(i*3)
	}
	opaque := pattern(image.NewRGBA(r), false)
	nrgba := pattern(image.NewNRGBA(r), true)
	rgba64 := pattern(image.NewRGBA64(r), false)
	nrgba64 := pattern(image.NewNRGBA64(r), true)
	smooth := image.NewRGBA(r) // JPEG keeps a gentle gradient within a few levels
	for y := range 5 {
		for x := range 7 {
			smooth.Set(x, y, color.RGBA{uint8(100 + 4*x), uint8(60 + 3*y), uint8(150 - 2*x - 2*y), 255})
		}
	}
	for _, c := range []struct {
		name  string
		enc   encodeFunc
		src   image.Image
		want  string // the decoded type
		lossy bool
	}{
		{"gray.png", pngEnc, gray, "*image.Gray", false},
		{"gray16.png", pngEnc, gray16, "*image.Gray", false},
		{"paletted.png", pngEnc, pal, "*image.Paletted", false},
		{"rgb.png", pngEnc, opaque, "*image.RGBA", false},
		{"rgba.png", pngEnc, nrgba, "*image.NRGBA", false},
		{"rgb48.png", pngEnc, rgba64, "*imagenet.RGB", false},
		{"rgba64.png", pngEnc, nrgba64, "*imagenet.RGB", false},
		{"gray.jpg", jpegEnc, gray, "*image.Gray", true},
		{"rgb.jpg", jpegEnc, smooth, "*image.YCbCr", true},
		{"paletted.gif", gifEnc, pal, "*image.Paletted", false},
		{"rgb.bmp", bmpEnc, opaque, "*image.RGBA", false},
		{"rgba.bmp", bmpEnc, nrgba, "*image.NRGBA", false},
		{"paletted.bmp", bmpEnc, pal, "*image.Paletted", false},
		{"rgb.tiff", tiffEnc, opaque, "*image.RGBA", false},
		{"rgba.tiff", tiffEnc, nrgba, "*image.NRGBA", false},
		{"gray.tiff", tiffEnc, gray, "*image.Gray", false},
		{"gray16.tiff", tiffEnc, gray16, "*image.Gray", false},
		{"paletted.tiff", tiffEnc, pal, "*image.Paletted", false},
		{"rgba64.tiff", tiffEnc, nrgba64, "*imagenet.RGB", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := c.enc(&buf, c.src); err != nil {
				t.Fatal(err)
			}
			m, err := Decode(&buf, c.name)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", m); got != c.want {
				t.Errorf("decoded a %s, want %s", got, c.want)
			}
			rgb := ToRGB(m)
			if rgb.W != 7 || rgb.H != 5 || len(rgb.Pix) != 3*7*5 {
				t.Fatalf("ToRGB gave %dx%d with %d bytes", rgb.W, rgb.H, len(rgb.Pix))
			}
			want := rgbOf(c.src)
			for i := range want {
				d := int(rgb.Pix[i]) - int(want[i])
				if d != 0 && !(c.lossy && d >= -8 && d <= 8) {
					t.Fatalf("byte %d = %d, want %d", i, rgb.Pix[i], want[i])
				}
			}
		})
	}
}

// TestDecodeFixtures decodes the files in testdata/ that Go cannot encode.
func TestDecodeFixtures(t *testing.T) {
	for _, c := range []struct {
		file, want string
		w, h       int
	}{
		{"1x1.lossless.webp", "*image.NRGBA", 1, 1},
		{"lossy.webp", "*image.YCbCr", 0, 0},
		{"cmyk.jpeg", "*imagenet.RGB", 150, 103},
	} {
		m, err := Open(filepath.Join("testdata", c.file))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if got := fmt.Sprintf("%T", m); got != c.want {
			t.Errorf("%s: decoded a %s, want %s", c.file, got, c.want)
		}
		if b := m.Bounds(); c.w != 0 && (b.Dx() != c.w || b.Dy() != c.h) {
			t.Errorf("%s: %dx%d, want %dx%d", c.file, b.Dx(), b.Dy(), c.w, c.h)
		}
		if out := V1.Apply(m); len(out) != 3*224*224 {
			t.Errorf("%s: Apply gave %d values", c.file, len(out))
		}
	}
	// The lossless pixel is non-premultiplied (200, 100, 50, 128): Pillow
	// drops the alpha and keeps the colour.
	m, err := Open("testdata/1x1.lossless.webp")
	if err != nil {
		t.Fatal(err)
	}
	if got := ToRGB(m).Pix; !bytes.Equal(got, []uint8{200, 100, 50}) {
		t.Errorf("1x1.lossless.webp: RGB %v, want [200 100 50]", got)
	}
}

// TestTruncated checks that cut-off files fail with an error that names
// them, on one line.
func TestTruncated(t *testing.T) {
	for _, file := range []string{"chelsea.png", "rocket.jpg"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/images", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 10, 100, len(b) / 2, len(b) - 1} {
			_, err := Decode(bytes.NewReader(b[:n]), file)
			if err == nil {
				t.Errorf("%s cut to %d bytes: no error", file, n)
				continue
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "imagenet: "+file+": ") || strings.Contains(msg, "\n") {
				t.Errorf("%s cut to %d bytes: error %q", file, n, msg)
			}
		}
	}
}

// pngHeader returns a PNG signature and IHDR chunk claiming a w×h 8-bit RGB
// image, and nothing more.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32([]byte("IHDR"), w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // depth, RGB, deflate, filter, no interlace
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, uint32(len(ihdr)-4))
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// bmpHeader returns the headers of a 24-bit w×h BMP and 64 KiB of pixels.
func bmpHeader(w, h int32) []byte {
	b := []byte("BM")
	b = binary.LittleEndian.AppendUint32(b, 0)  // file size, unchecked
	b = binary.LittleEndian.AppendUint32(b, 0)  // reserved
	b = binary.LittleEndian.AppendUint32(b, 54) // pixel offset
	b = binary.LittleEndian.AppendUint32(b, 40) // info header size
	b = binary.LittleEndian.AppendUint32(b, uint32(w))
	b = binary.LittleEndian.AppendUint32(b, uint32(h))
	b = binary.LittleEndian.AppendUint16(b, 1)  // planes
	b = binary.LittleEndian.AppendUint16(b, 24) // bits a pixel
	b = append(b, make([]byte, 24)...)          // no compression, sizes, colours
	return append(b, make([]byte, 64<<10)...)
}

// TestHugeRefused checks that an image whose header claims too many pixels
// is refused before its pixels are allocated.
func TestHugeRefused(t *testing.T) {
	gifHeader := []byte("GIF89a\xff\xff\xff\xff\x00\x00\x00")
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"huge.png", pngHeader(100000, 100000)},
		{"huge.bmp", bmpHeader(100000, 100000)},
		{"huge.gif", gifHeader},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Decode(bytes.NewReader(c.data), c.name)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooLarge) || !strings.HasPrefix(err.Error(), "imagenet: "+c.name+": ") {
			t.Errorf("%s: error %v, want one wrapping ErrTooLarge", c.name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("%s: allocated %d bytes before refusing", c.name, n)
		}
	}
	// Exactly MaxPixels passes the check (and then fails for want of data).
	if _, err := Decode(bytes.NewReader(pngHeader(1<<13, 1<<13)), "max.png"); errors.Is(err, ErrTooLarge) {
		t.Errorf("8192x8192 PNG refused as too large: %v", err)
	}
}

func TestEmptyRefused(t *testing.T) {
	_, err := Decode(strings.NewReader("GIF89a\x00\x00\x05\x00\x00\x00\x00"), "empty.gif")
	if !errors.Is(err, ErrEmpty) {
		t.Errorf("0x5 GIF: error %v, want one wrapping ErrEmpty", err)
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open("testdata/no-such-file.png")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v, want one wrapping fs.ErrNotExist", err)
	}
	if want := "imagenet: testdata/no-such-file.png: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}
}

func TestUnknownFormat(t *testing.T) {
	_, err := Decode(strings.NewReader("not an image"), "notes.txt")
	if !errors.Is(err, image.ErrFormat) || !strings.HasPrefix(err.Error(), "imagenet: notes.txt: ") {
		t.Errorf("error %v, want imagenet: notes.txt: wrapping image.ErrFormat", err)
	}
}

func TestSafelyRecovers(t *testing.T) {
	_, _, err := safely(func() (image.Image, string, error) {
		var m []int
		return nil, "", fmt.Errorf("unreachable %d", m[3])
	})
	if err == nil || !strings.Contains(err.Error(), "decoder panic") {
		t.Errorf("error %v, want a decoder panic", err)
	}
}

// TestOpenConfig checks that the header check agrees with Open on the size
// of every format, passes a file whose pixel data is cut off (which Open
// then refuses, naming it) and refuses what Open refuses from the header.
func TestOpenConfig(t *testing.T) {
	dir := t.TempDir()
	files, err := filepath.Glob("../../testdata/images/*")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "testdata/lossy.webp", "testdata/cmyk.jpeg")
	for i, enc := range []encodeFunc{pngEnc, jpegEnc, gifEnc, bmpEnc, tiffEnc} {
		var buf bytes.Buffer
		if err := enc(&buf, pattern(image.NewNRGBA(image.Rect(0, 0, 7, 5)), true)); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("enc%d", i))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	for _, f := range files {
		cfg, err := OpenConfig(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		m, err := Open(f)
		if err != nil {
			t.Fatal(err)
		}
		if b := m.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
			t.Errorf("%s: header says %dx%d, decoded %v", f, cfg.Width, cfg.Height, b)
		}
	}

	b, err := os.ReadFile("../../testdata/images/rocket.jpg")
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.jpg")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenConfig(cut); err != nil {
		t.Errorf("a JPEG cut in half: its header is refused: %v", err)
	}
	if _, err := Open(cut); err == nil || !strings.HasPrefix(err.Error(), "imagenet: "+cut+": ") {
		t.Errorf("a JPEG cut in half: Open's error %v, want one naming it", err)
	}
	for name, c := range map[string]struct {
		data string
		want error
	}{
		"notes.txt": {"not an image", image.ErrFormat},
		"huge.png":  {string(pngHeader(100000, 100000)), ErrTooLarge},
		"empty.gif": {"GIF89a\x00\x00\x05\x00\x00\x00\x00", ErrEmpty},
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenConfig(p); !errors.Is(err, c.want) || !strings.HasPrefix(err.Error(), "imagenet: "+p+": ") {
			t.Errorf("%s: error %v, want one naming it and wrapping %v", name, err, c.want)
		}
	}
	if _, err := OpenConfig(filepath.Join(dir, "none.png")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: error %v, want one wrapping fs.ErrNotExist", err)
	}
}
