package graph

import (
	"fmt"
	"slices"
	"strings"
)

// Shape is a tensor shape of any rank, row-major: images are
// [N, C, H, W], feature vectors and logits [N, K].
type Shape []int

// Numel is the number of elements (1 for rank 0).
func (s Shape) Numel() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether s and t have the same rank and dimensions.
func (s Shape) Equal(t Shape) bool { return slices.Equal(s, t) }

// Clone returns a copy of s that shares no memory with it.
func (s Shape) Clone() Shape { return slices.Clone(s) }

// String formats s as 1x3x224x224.
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}

// image checks that s is an NCHW shape and returns its dimensions.
func (s Shape) image(what string) (n, c, h, w int, err error) {
	if len(s) != 4 {
		return 0, 0, 0, 0, fmt.Errorf("%s: input has shape %v, want rank 4 (NCHW)", what, s)
	}
	return s[0], s[1], s[2], s[3], nil
}
