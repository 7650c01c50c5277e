package graphtest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestTopK(t *testing.T) {
	v := []float32{0.5, 2, -1, 2, 7}
	if got := TopK(v, 3); !slices.Equal(got, []int{4, 1, 3}) {
		t.Errorf("TopK(%v, 3) = %v, want [4 1 3] (ties by index)", v, got)
	}
	if got := TopK([]float64{1, 3}, 5); !slices.Equal(got, []int{1, 0}) {
		t.Errorf("TopK of 2 values, k 5 = %v, want [1 0]", got)
	}
}

func TestReadF32(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.f32")
	// 1.0, -2.5 little-endian
	if err := os.WriteFile(path, []byte{0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0}, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := ReadF32(t, path); !slices.Equal(got, []float32{1, -2.5}) {
		t.Errorf("ReadF32 = %v, want [1 -2.5]", got)
	}
}
