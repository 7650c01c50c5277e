package perf

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

func TestProbe(t *testing.T) {
	dev := gputest.Device(t)
	for _, mb := range []int{1, 4, 16, 64} {
		n := mb << 18
		l, _ := shaders.Copy(n, dev.Limits.MaxWorkgroupsPerDimension)
		src, _ := dev.NewBuffer("s", shaders.CopyBytes(n))
		dst, _ := dev.NewBuffer("d", shaders.CopyBytes(n))
		p, err := dev.Pipeline(l.Key, l.Source)
		if err != nil {
			t.Fatal(err)
		}
		ds, _ := dev.NewDispatch("copy", p, l.Params, l.Groups, src, dst)
		for i := 0; i < 4; i++ {
			tw, _ := dev.Run([]*gpu.Dispatch{ds}, nil, false)
			ts, _ := dev.Run([]*gpu.Dispatch{ds}, nil, true)
			t.Logf("%d MiB: wall %v, stamped wall %v spans %v", mb, tw.Wall, ts.Wall, ts.Spans)
		}
	}
}
