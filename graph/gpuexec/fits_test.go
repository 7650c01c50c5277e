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
	op := &graph.Conv2D{Cin: 64, Cout: 64, KH: 3, KW: 3, Stride: 1, Pad: 1, Weight: make([]float32, 64*64*9)}
	in := graph.Shape{64, 64, 56, 56}
	small := gpu.Limits{MaxBufferSize: 256 << 20, MaxStorageBufferBinding: 128 << 20}
	big := gpu.Limits{MaxBufferSize: 1 << 30, MaxStorageBufferBinding: 1 << 30}
	for _, c := range []struct {
		variant string
		lim     gpu.Limits
		want    bool
	}{
		{shaders.ConvWino, small, false},
		{shaders.ConvWino, big, true},
		{shaders.ConvTiled64, small, true},
	} {
		l, err := shaders.Conv2D(op, in, c.variant, 65535)
		if err != nil {
			t.Fatal(err)
		}
		if got := fits(l, c.lim); got != c.want {
			t.Errorf("fits(%s, %+v) = %v, want %v (scratch %v elements)", c.variant, c.lim, got, c.want, l.Scratch)
		}
	}
}
