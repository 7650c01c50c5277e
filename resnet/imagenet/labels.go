package imagenet

import (
	_ "embed"
	"strings"
)

// NumClasses is the number of ImageNet-1K classes.
const NumClasses = 1000

// categoriesTxt is a copy of testdata/imagenet/categories.txt: torchvision's
// class names, one a line, in class-index order.
//
//go:embed categories.txt
var categoriesTxt string

// wnidsTxt is a copy of testdata/imagenet/wnids.txt: the WordNet ids of the
// classes, one a line, in class-index order.
//
//go:embed wnids.txt
var wnidsTxt string

var (
	labels = lines(categoriesTxt)
	wnids  = lines(wnidsTxt)
)

// lines splits s into its lines, without the final empty one.
func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// Label returns the human-readable name of ImageNet-1K class i, as
// torchvision names it ("sports car" for 817), or "" when i is not in
// [0, NumClasses).
func Label(i int) string {
	if i < 0 || i >= len(labels) {
		return ""
	}
	return labels[i]
}

// WNID returns the WordNet id of ImageNet-1K class i ("n04285008" for 817),
// or "" when i is not in [0, NumClasses).
func WNID(i int) string {
	if i < 0 || i >= len(wnids) {
		return ""
	}
	return wnids[i]
}
