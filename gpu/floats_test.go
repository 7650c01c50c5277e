package gpu

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// Bytes is the little-endian encoding the device expects.
func TestBytes(t *testing.T) {
	v := []float32{1, -2.5, float32(math.Inf(1)), 3e-39}
	got := Bytes(v)
	want := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(want[4*i:], math.Float32bits(x))
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Bytes(%v) = %x, want %x", v, got, want)
	}
	if Bytes(nil) != nil {
		t.Error("Bytes(nil) is not nil")
	}
}

// parallelCopy copies every byte, at sizes below, at and above its split
// threshold and when dst is longer than src.
func TestParallelCopy(t *testing.T) {
	for _, n := range []int{0, 5, 8<<20 - 1, 8 << 20, 37<<20 + 3} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i*7 + i>>13)
		}
		dst := make([]byte, n+9)
		parallelCopy(dst, src)
		if !bytes.Equal(dst[:n], src) || !bytes.Equal(dst[n:], make([]byte, 9)) {
			t.Errorf("n=%d: copy differs", n)
		}
	}
}
