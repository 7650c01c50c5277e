package finetune

import (
	"fmt"
	"image"
	"sync"

	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

// ImageStats is what decoding the image files took over a Run.
type ImageStats struct {
	Decodes int // image files decoded
	// Cached is the most bytes of decoded images the cache held.
	Cached int64
	// Peak is the most bytes of decoded images held at once: the cache's
	// and those being preprocessed, each counted from the end of its
	// decoding to the end of its preprocessing.
	Peak int64
}

// images decodes the samples' files as the batches of a pass need them,
// and keeps decoded images for the later passes in a cache of at most
// limit bytes. The cache keeps the first images that fit and never evicts
// one: every pass reads the samples in the same order, which would make a
// least-recently-used cache smaller than the data miss every time. It is
// safe for concurrent use.
type images struct {
	limit int64 // the cache's bound, in bytes
	ahead int   // batches read beyond the one in use

	mu     sync.Mutex
	cache  map[string]image.Image
	cached int64 // bytes in cache
	held   int64 // bytes in cache and in preprocessing
	stats  ImageStats
}

// newImages returns a loader with a cache of limit bytes (0: none) that
// reads ahead batches beyond the one in use.
func newImages(limit int64, ahead int) *images {
	return &images{limit: limit, ahead: ahead, cache: map[string]image.Image{}}
}

// open returns s's decoded image, from the cache or its file, and a
// function to call when done with it. With keep a decoded image goes into
// the cache if it has room.
func (c *images) open(s Sample, keep bool) (image.Image, func(), error) {
	c.mu.Lock()
	img, ok := c.cache[s.Path]
	c.mu.Unlock()
	if ok {
		return img, func() {}, nil
	}
	img, err := imagenet.Open(s.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("finetune: %w", err)
	}
	n := imageBytes(img)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Decodes++
	c.held += n
	c.stats.Peak = max(c.stats.Peak, c.held)
	if keep && c.cached+n <= c.limit {
		c.cache[s.Path] = img
		c.cached += n
		c.stats.Cached = c.cached
		return img, func() {}, nil
	}
	return img, func() {
		c.mu.Lock()
		c.held -= n
		c.mu.Unlock()
	}, nil
}

// imageBytes is the size of img's pixel buffers (4 bytes a pixel for a
// kind of image the decoders do not return).
func imageBytes(img image.Image) int64 {
	switch m := img.(type) {
	case *image.YCbCr:
		return int64(len(m.Y) + len(m.Cb) + len(m.Cr))
	case *image.NYCbCrA:
		return int64(len(m.Y) + len(m.Cb) + len(m.Cr) + len(m.A))
	case *image.RGBA:
		return int64(len(m.Pix))
	case *image.NRGBA:
		return int64(len(m.Pix))
	case *image.Gray:
		return int64(len(m.Pix))
	case *image.Paletted:
		return int64(len(m.Pix) + 4*len(m.Palette))
	case *imagenet.RGB:
		return int64(len(m.Pix))
	}
	b := img.Bounds()
	return 4 * int64(b.Dx()) * int64(b.Dy())
}

// batches turns samples into inputs a batch of up to size at a time and
// calls use with each batch's inputs, in order, lo being the index of the
// batch's first sample. input makes sample i's input from its decoded
// image; keep says whether the decoded images are to be cached. The
// inputs are made on resnet.ReadGroups' pool, up to c.ahead batches
// beyond the one use has, so at most c.ahead+1 batches of inputs are
// held, and as many decoded images as goroutines besides the cache. The
// first error, of the batch's first failed sample or of use, stops the
// pass and is returned.
func (c *images) batches(samples []Sample, size int, keep bool, input func(img image.Image, i int) ([]float32, error), use func(lo int, in [][]float32) error) error {
	var groups [][]int
	for lo := 0; lo < len(samples); lo += size {
		var items []int
		for i := lo; i < min(lo+size, len(samples)); i++ {
			items = append(items, i)
		}
		groups = append(groups, items)
	}
	read := func(i int) ([]float32, error) { return c.input(samples[i], i, keep, input) }
	return resnet.ReadGroups(groups, c.ahead, read, func(g int, in [][]float32, errs []error) error {
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return use(groups[g][0], in)
	})
}

// input is sample i's input: input of its decoded image.
func (c *images) input(s Sample, i int, keep bool, input func(image.Image, int) ([]float32, error)) ([]float32, error) {
	img, done, err := c.open(s, keep)
	if err != nil {
		return nil, err
	}
	defer done()
	x, err := input(img, i)
	if err != nil {
		return nil, fmt.Errorf("finetune: %s: %w", s.Path, err)
	}
	return x, nil
}
