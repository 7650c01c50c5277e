package finetune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

// Sample is one labelled image file.
type Sample struct {
	Path  string
	Label int // index into Dataset.Classes
}

// Dataset is a folder of labelled images.
type Dataset struct {
	// Classes are the sub-folders' names, sorted; a class's index is its
	// position.
	Classes []string
	// Samples are every image, by class, then by file name.
	Samples []Sample
}

// LoadDir reads dir as torchvision's ImageFolder does: every sub-folder is
// a class, named by the folder, indexed in sorted order, holding its images
// (files with an image extension; others are skipped). It reads only the
// images' headers (Run decodes the images as it needs them); a folder with
// fewer than two classes, a class without images or a file whose header
// imagenet.OpenConfig refuses is an error.
func LoadDir(dir string) (*Dataset, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	d := &Dataset{}
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			d.Classes = append(d.Classes, e.Name())
		}
	}
	slices.Sort(d.Classes)
	if len(d.Classes) < 2 {
		return nil, fmt.Errorf("finetune: %s has %d class folders, want at least 2 (one folder of images per class)", dir, len(d.Classes))
	}
	for label, c := range d.Classes {
		files, err := os.ReadDir(filepath.Join(dir, c))
		if err != nil {
			return nil, fmt.Errorf("finetune: %w", err)
		}
		n := 0
		for _, f := range files {
			if f.IsDir() || !slices.Contains(imagenet.Extensions, strings.ToLower(filepath.Ext(f.Name()))) {
				continue
			}
			p := filepath.Join(dir, c, f.Name())
			if _, err := imagenet.OpenConfig(p); err != nil {
				return nil, fmt.Errorf("finetune: %w", err)
			}
			d.Samples = append(d.Samples, Sample{Path: p, Label: label})
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("finetune: class %q (%s) has no images", c, filepath.Join(dir, c))
		}
	}
	return d, nil
}

// Split returns the training and validation samples: from each class,
// round(frac·n) of its n images (at least one if frac > 0, at most n−1)
// drawn with a generator seeded by seed, so that the split is stratified
// and the same seed gives the same split. frac must lie in [0, 1).
func (d *Dataset) Split(frac float64, seed uint64) (train, val []Sample, err error) {
	if !(frac >= 0 && frac < 1) {
		return nil, nil, fmt.Errorf("finetune: validation fraction %v, want 0 ≤ v < 1", frac)
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for label := range d.Classes {
		var idx []int
		for i, s := range d.Samples {
			if s.Label == label {
				idx = append(idx, i)
			}
		}
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		k := int(math.RoundToEven(frac * float64(len(idx))))
		if frac > 0 {
			k = max(k, 1)
		}
		k = min(k, len(idx)-1)
		held := idx[:k]
		slices.Sort(held)
		for _, i := range held {
			val = append(val, d.Samples[i])
		}
		rest := idx[k:]
		slices.Sort(rest)
		for _, i := range rest {
			train = append(train, d.Samples[i])
		}
	}
	return train, val, nil
}
