package gpuexec

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Winograd's scratch grows with the batch: at batch 64 on 56² it is
// 205 MB per buffer, past a 128 MiB binding limit but within 1 GiB; the
// one-launch kernels need none.
func TestFits(t *testing.T) {
	g := graph.Conv(64, 64, 3, 1, 1).Geom(graph.Shape{64, 64, 56, 56})
	small := gpu.Caps{Limits: gpu.Limits{MaxBufferSize: 256 << 20, MaxStorageBufferBinding: 128 << 20, MaxWorkgroupsPerDimension: 65535, MaxWorkgroupStorageSize: 32 << 10}}
	big := small
	big.MaxBufferSize, big.MaxStorageBufferBinding = 1<<30, 1<<30
	for _, c := range []struct {
		variant string
		lim     gpu.Caps
		want    bool
	}{
		{"wino", small, false},
		{"wino", big, true},
		{"tiled64", small, true},
	} {
		l, err := shaders.Conv2D(g, c.variant, c.lim)
		if err != nil {
			t.Fatal(err)
		}
		if got := Fits(l, c.lim); got != c.want {
			t.Errorf("Fits(%s, %+v) = %v, want %v (scratch %v elements)", c.variant, c.lim, got, c.want, l.Scratch)
		}
	}
}
