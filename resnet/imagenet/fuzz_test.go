package imagenet

import (
	"bytes"
	"image"
	"image/color/palette"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode, seeded with the fixture
// images of this package and of the repository and with small encodings of
// every format Go can write. Decode must return an error or an image that
// ToRGB and Apply accept, and never panic; DecodeConfig must not panic
// either, and must accept the header of every image Decode decodes.
//
// Minimising a new input grown from the large repository images takes up to
// -fuzzminimizetime (60 s by default) of slow runs; -fuzzminimizetime=5s
// keeps a short fuzzing session fuzzing.
func FuzzDecode(f *testing.F) {
	for _, pattern := range []string{"testdata/*", "../../testdata/images/*"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "-bad") || strings.HasSuffix(file, ".md") {
				continue
			}
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	small := pattern(image.NewNRGBA(image.Rect(0, 0, 5, 3)), true)
	pal := image.NewPaletted(image.Rect(0, 0, 5, 3), palette.WebSafe)
	for _, enc := range []encodeFunc{pngEnc, jpegEnc, gifEnc, bmpEnc, tiffEnc} {
		for _, m := range []image.Image{small, pal} {
			var buf bytes.Buffer
			if err := enc(&buf, m); err != nil {
				f.Fatal(err)
			}
			f.Add(buf.Bytes())
		}
	}
	f.Add(pngHeader(100000, 100000))

	// Keep each run's memory small; the check itself is what is fuzzed.
	defer func(n int, b int64) { MaxPixels, MaxBytes = n, b }(MaxPixels, MaxBytes)
	MaxPixels, MaxBytes = 1<<20, 64<<20
	f.Fuzz(func(t *testing.T, data []byte) {
		_, cerr := DecodeConfig(bytes.NewReader(data), "fuzz")
		if cerr != nil {
			if msg := cerr.Error(); !strings.HasPrefix(msg, "imagenet: fuzz: ") || strings.Contains(msg, "\n") {
				t.Fatalf("DecodeConfig's error %q is not one line naming the input", msg)
			}
		}
		m, err := Decode(bytes.NewReader(data), "fuzz")
		if err == nil && cerr != nil {
			t.Fatalf("Decode decodes what DecodeConfig refuses: %v", cerr)
		}
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "imagenet: fuzz: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error %q is not one line naming the input", msg)
			}
			return
		}
		b := m.Bounds()
		if b.Empty() || b.Dx()*b.Dy() > MaxPixels {
			t.Fatalf("decoded a %v image", b)
		}
		if rgb := ToRGB(m); rgb.W != b.Dx() || rgb.H != b.Dy() || len(rgb.Pix) != 3*b.Dx()*b.Dy() {
			t.Fatalf("ToRGB of a %v image gave %dx%d, %d bytes", b, rgb.W, rgb.H, len(rgb.Pix))
		}
		if out := V1.Apply(m); len(out) != 3*224*224 {
			t.Fatalf("Apply gave %d values", len(out))
		}
	})
}
