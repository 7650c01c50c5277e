package shaders_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// TestCopy copies seeded random floats, including lengths that end in a
// partial vec4, into a poisoned buffer with a guard region after it: every
// element below n must arrive, none at or past n may be written.
func TestCopy(t *testing.T) {
	dev := gputest.Device(t)
	const poison = 0x7fc0dead
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 255 * 4, 1021, 256*4 + 3, 70001} {
		size := shaders.CopyBytes(n) + 64 // a guard of 16 floats
		l, err := shaders.Copy(n, dev.Limits.MaxWorkgroupsPerDimension)
		if err != nil {
			t.Fatal(err)
		}
		src, err := dev.NewBuffer("copy.src", size)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := dev.NewBuffer("copy.dst", size)
		if err != nil {
			t.Fatal(err)
		}
		in := make([]byte, size)
		for i := 0; i < len(in); i += 4 {
			binary.LittleEndian.PutUint32(in[i:], math.Float32bits(float32(rng.NormFloat64())))
		}
		bad := make([]byte, size)
		for i := 0; i < len(bad); i += 4 {
			binary.LittleEndian.PutUint32(bad[i:], poison)
		}
		if err := dev.Write(src, 0, in); err != nil {
			t.Fatal(err)
		}
		if err := dev.Write(dst, 0, bad); err != nil {
			t.Fatal(err)
		}
		p, err := dev.Pipeline(l.Key, l.Source)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := dev.Bind("copy", p, l.Params, l.Groups, gpu.Binds{"src": src, "dst": dst})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, size)
		if _, err := dev.Run([]*gpu.Dispatch{ds}, []gpu.ReadBack{{Buf: dst, Dst: out}}, false); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(size/4); i++ {
			got := binary.LittleEndian.Uint32(out[4*i:])
			want := uint32(poison)
			if i < n {
				want = binary.LittleEndian.Uint32(in[4*i:])
			}
			if got != want {
				t.Errorf("n=%d: element %d = %#x, want %#x", n, i, got, want)
				break
			}
		}
		ds.Release()
		src.Release()
		dst.Release()
	}
}

func TestCopyParams(t *testing.T) {
	for _, c := range []struct {
		n         int
		full, wgs uint32
		bytes     uint64
	}{
		{0, 0, 0, 0}, {1, 0, 1, 16}, {4, 1, 1, 16}, {5, 1, 1, 32}, {1024, 256, 1, 4096}, {1025, 256, 2, 4112},
	} {
		l, err := shaders.Copy(c.n, 65535)
		if err != nil {
			t.Fatal(err)
		}
		p := l.Params.(*shaders.CopyParams)
		if p.N != uint32(c.n) || p.Full != c.full || l.Groups != (gpu.Groups{c.wgs, 1, 1}) || shaders.CopyBytes(c.n) != c.bytes {
			t.Errorf("Copy(%d) = %+v over %v with %d bytes, want full=%d over %d groups with %d bytes", c.n, *p, l.Groups, shaders.CopyBytes(c.n), c.full, c.wgs, c.bytes)
		}
	}
	if _, err := shaders.Copy(-1, 65535); err == nil {
		t.Error("Copy(-1) accepted")
	}
}
