package imagenet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"

	// Register the decoders that Decode accepts.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// MaxPixels is the largest width×height that Decode and Open accept. Larger
// images are refused from their header, before any pixel memory is
// allocated.
var MaxPixels = 64 << 20

// MaxBytes is the most memory that Decode and Open let the decoding of one
// image take: the pixels the decoder fills, the buffers it keeps beside
// them and the 8-bit copy of a wide image, as estimated from the header
// (see decodeCost). Costlier images are refused from their header, before
// any pixel memory is allocated. At the default, every image of up to
// MaxPixels pixels is accepted except TIFFs stored as one compressed strip
// (beyond 22 to 61 million pixels, by depth) and progressive CMYK JPEGs
// (beyond 40 million).
var MaxBytes int64 = 1 << 30

// Extensions are the file-name extensions of the formats Decode reads.
var Extensions = []string{".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"}

// ErrTooLarge is wrapped by the error for an image whose header claims more
// than MaxPixels pixels, or whose decoding would take more than MaxBytes.
var ErrTooLarge = errors.New("image too large")

// ErrEmpty is wrapped by the error for an image whose header claims a zero
// width or height.
var ErrEmpty = errors.New("image has no pixels")

// Decode reads one image in JPEG, PNG, GIF, BMP, TIFF or WebP format from r.
// Name is used only in error messages, which are one line of the form
// "imagenet: NAME: reason". Of a GIF, Decode returns the first frame with
// its own bounds, as image/gif does; Pillow would paste it on a canvas of
// the GIF's screen size, which differs when the frame is smaller.
//
// Malformed input yields an error, never a panic, and an image of more than
// MaxPixels pixels, or whose decoding would take more than MaxBytes, is
// refused from its header alone.
//
// Wide images come back in 8 bits, converted as ToRGB converts them, so
// that only the narrow copy outlives Decode: 16-bit grey as an
// *image.Gray of the high bytes, and 16-bit colour (RGBA64, NRGBA64) and
// CMYK as an *RGB.
//
// A TIFF's strips may lie anywhere in the file, so its decoder needs random
// access: Decode reads a TIFF through r's ReadAt where r has one (an
// *os.File, a *bytes.Reader), and otherwise reads the file into memory
// first, refusing one larger than MaxBytes.
func Decode(r io.Reader, name string) (image.Image, error) {
	img, err := decode(r)
	if err != nil {
		return nil, fmt.Errorf("imagenet: %s: %w", name, err)
	}
	// A GIF's first frame may be smaller than the screen in its header;
	// anything else is checked again as decoded.
	if b := img.Bounds(); b.Empty() || int64(b.Dx())*int64(b.Dy()) > int64(MaxPixels) {
		return nil, fmt.Errorf("imagenet: %s: decoded a %dx%d image", name, b.Dx(), b.Dy())
	}
	return narrow(img), nil
}

// DecodeConfig reads the header of the image r holds, as Decode would,
// and returns the image's width, height and colour model as its header
// gives them. It refuses what Decode refuses from the header alone (an
// unknown format, no pixels, more than MaxPixels, or a decoding that
// would take more than MaxBytes), with errors of the same form; an image
// it accepts can still fail Decode if its pixel data is damaged.
func DecodeConfig(r io.Reader, name string) (image.Config, error) {
	cfg, _, err := header(r)
	if err != nil {
		return image.Config{}, fmt.Errorf("imagenet: %s: %w", name, err)
	}
	return cfg, nil
}

// readSeekerAt is a reader with random access, such as *os.File.
type readSeekerAt interface {
	io.ReaderAt
	io.Seeker
}

// decode is Decode without the name in errors, the last check and narrow.
func decode(r io.Reader) (image.Image, error) {
	_, pixels, err := header(r)
	if err != nil {
		return nil, err
	}
	return pixels()
}

// header reads and checks the header of the image r holds and returns its
// configuration and a function that decodes the image from there on.
func header(r io.Reader) (image.Config, func() (image.Image, error), error) {
	if ra, ok := r.(readSeekerAt); ok {
		if start, err := ra.Seek(0, io.SeekCurrent); err == nil {
			var magic [4]byte
			if n, _ := ra.ReadAt(magic[:], start); isTIFF(magic[:n]) {
				return tiffHeader(io.NewSectionReader(ra, start, math.MaxInt64-start))
			}
		}
	}
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(4); isTIFF(magic) {
		data, err := io.ReadAll(io.LimitReader(br, MaxBytes+1))
		if err != nil {
			return image.Config{}, nil, err
		}
		if int64(len(data)) > MaxBytes {
			return image.Config{}, nil, fmt.Errorf("%w: a TIFF file of more than %d MiB", ErrTooLarge, MaxBytes>>20)
		}
		return tiffHeader(bytes.NewReader(data))
	}
	// Keep what DecodeConfig reads so that the full decoder sees the
	// whole stream again.
	var head bytes.Buffer
	cfg, format, err := safely(func() (image.Config, string, error) {
		return image.DecodeConfig(io.TeeReader(br, &head))
	})
	if err != nil {
		return image.Config{}, nil, err
	}
	if err := checkCost(cfg, format, bytes.NewReader(head.Bytes())); err != nil {
		return image.Config{}, nil, err
	}
	return cfg, func() (image.Image, error) {
		img, _, err := safely(func() (image.Image, string, error) {
			return image.Decode(io.MultiReader(&head, br))
		})
		return img, err
	}, nil
}

// tiffHeader is header for the TIFF that starts at offset 0 of ra. The
// TIFF decoder is called directly, since image.Decode would hide ReadAt
// behind a buffer and the decoder would then hold the whole file in
// memory.
func tiffHeader(ra io.ReaderAt) (image.Config, func() (image.Image, error), error) {
	all := func() io.Reader { return io.NewSectionReader(ra, 0, math.MaxInt64) }
	cfg, _, err := safely(func() (image.Config, string, error) {
		cfg, err := tiff.DecodeConfig(all())
		return cfg, "tiff", err
	})
	if err != nil {
		return image.Config{}, nil, err
	}
	if err := checkCost(cfg, "tiff", ra); err != nil {
		return image.Config{}, nil, err
	}
	return cfg, func() (image.Image, error) {
		img, _, err := safely(func() (image.Image, string, error) {
			img, err := tiff.Decode(all())
			return img, "tiff", err
		})
		return img, err
	}, nil
}

// isTIFF reports whether magic begins a TIFF file.
func isTIFF(magic []byte) bool {
	return bytes.HasPrefix(magic, []byte("II*\x00")) || bytes.HasPrefix(magic, []byte("MM\x00*"))
}

// checkCost returns an error for an image that is empty, has more than
// MaxPixels pixels or would take more than MaxBytes to decode; head reads
// the file from its start.
func checkCost(cfg image.Config, format string, head io.ReaderAt) error {
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return err
	}
	if n := decodeCost(cfg, format, head); n > MaxBytes {
		return fmt.Errorf("%w: decoding this %dx%d %s would take about %d MiB, more than %d MiB",
			ErrTooLarge, cfg.Width, cfg.Height, strings.ToUpper(format), n>>20, MaxBytes>>20)
	}
	return nil
}

// narrow returns a wide image in 8 bits, as ToRGB would convert it: 16-bit
// grey as its high bytes, 16-bit colour and CMYK as RGB. Other images are
// returned as they are.
func narrow(img image.Image) image.Image {
	switch m := img.(type) {
	case *image.Gray16:
		b := m.Bounds()
		g := image.NewGray(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			s, d := m.Pix[(y-b.Min.Y)*m.Stride:], g.Pix[(y-b.Min.Y)*g.Stride:]
			for x := range b.Dx() {
				d[x] = s[2*x]
			}
		}
		return g
	case *image.RGBA64, *image.NRGBA64, *image.CMYK:
		return ToRGB(img)
	}
	return img
}

// Open decodes the image file at path with Decode, naming the file by path
// in errors.
func Open(path string) (image.Image, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Decode(f, path)
}

// OpenConfig reads the header of the image file at path with
// DecodeConfig, naming the file by path in errors: a cheap check that a
// file is an image Open will decode, short of damaged pixel data.
func OpenConfig(path string) (image.Config, error) {
	f, err := open(path)
	if err != nil {
		return image.Config{}, err
	}
	defer f.Close()
	return DecodeConfig(f, path)
}

// open opens the file at path, with an error of the form
// "imagenet: PATH: reason".
func open(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in our message
		}
		return nil, fmt.Errorf("imagenet: %s: %w", path, err)
	}
	return f, nil
}

// checkSize returns nil when a w×h image is non-empty and within MaxPixels.
func checkSize(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: header says %dx%d", ErrEmpty, w, h)
	}
	if int64(w)*int64(h) > int64(MaxPixels) {
		return fmt.Errorf("%w: header says %dx%d, more than %d pixels", ErrTooLarge, w, h, MaxPixels)
	}
	return nil
}

// safely calls f, turning a panic inside it into an error.
func safely[T any](f func() (T, string, error)) (v T, format string, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, format, err = zero, "", fmt.Errorf("decoder panic: %v", p)
		}
	}()
	return f()
}
