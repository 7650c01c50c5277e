// Package graphtest holds what the tests of several packages need to
// compare a network's outputs with stored references: reading raw
// little-endian float32 files (the fixtures' .f32 tensors and logits) and
// the top-k classes of an output.
package graphtest

import (
	"encoding/binary"
	"math"
	"os"
	"slices"
	"testing"
)

// ReadF32 reads a file of little-endian float32s, failing t if it cannot
// be read or its length is no multiple of 4.
func ReadF32(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%4 != 0 {
		t.Fatalf("%s: %d bytes, not whole float32s", path, len(b))
	}
	return F32(b)
}

// F32 decodes little-endian float32s (len(b) a multiple of 4).
func F32(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// TopK returns the indices of the k largest values (all of them if
// there are fewer), largest first, ties in index order.
func TopK[T float32 | float64](v []T, k int) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case v[a] > v[b]:
			return -1
		case v[a] < v[b]:
			return 1
		}
		return 0
	})
	return idx[:min(k, len(v))]
}
