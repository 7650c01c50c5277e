package imagenet

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"

	// Register the decoders that Decode accepts.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// MaxPixels is the largest width×height that Decode and Open accept. Larger
// images are refused from their header, before any pixel memory is
// allocated.
var MaxPixels = 64 << 20

// ErrTooLarge is wrapped by the error for an image whose header claims more
// than MaxPixels pixels.
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
// MaxPixels pixels is refused from its header alone.
func Decode(r io.Reader, name string) (image.Image, error) {
	// Keep what DecodeConfig reads so that the full decoder sees the
	// whole stream again.
	var head bytes.Buffer
	cfg, _, err := safely(func() (image.Config, string, error) {
		return image.DecodeConfig(io.TeeReader(r, &head))
	})
	if err != nil {
		return nil, fmt.Errorf("imagenet: %s: %w", name, err)
	}
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return nil, fmt.Errorf("imagenet: %s: %w", name, err)
	}
	img, _, err := safely(func() (image.Image, string, error) {
		return image.Decode(io.MultiReader(&head, r))
	})
	if err != nil {
		return nil, fmt.Errorf("imagenet: %s: %w", name, err)
	}
	// A GIF's first frame may be smaller than the screen in its header;
	// anything else is checked again as decoded.
	if b := img.Bounds(); b.Empty() || int64(b.Dx())*int64(b.Dy()) > int64(MaxPixels) {
		return nil, fmt.Errorf("imagenet: %s: decoded a %dx%d image", name, b.Dx(), b.Dy())
	}
	return img, nil
}

// Open decodes the image file at path with Decode, naming the file by path
// in errors.
func Open(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in our message
		}
		return nil, fmt.Errorf("imagenet: %s: %w", path, err)
	}
	defer f.Close()
	return Decode(f, path)
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
