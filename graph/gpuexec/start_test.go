package gpuexec_test

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
)

// Runs started back to back, with guarded buffers, give each input the
// CPU reference's outputs, in order, though three are started before the
// first is waited for; a run in flight when the program closes reports an
// error from Wait.
func TestStart(t *testing.T) {
	dev := gputest.Device(t)
	g := denseNet(t, 2, 9, 11, false)
	rp, err := ref.Executor{}.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gpuexec.New(dev, gpuexec.Options{Guard: 64}).Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	const runs = 3
	var want [runs][][]float32
	var pending [runs]graph.Pending
	for i := range runs {
		in := graph.NewRand(uint64(20+i)).Uniform(2*3*9*11, -1, 1)
		if want[i], err = rp.Run(in); err != nil {
			t.Fatal(err)
		}
		if pending[i], err = p.Start(in); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		clear(in) // Start has uploaded it
	}
	for i, w := range pending {
		got, err := w.Wait()
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		for k := range want[i] {
			if e := resnet.RelErr(got[k], want[i][k]); e > 1e-5 {
				t.Errorf("run %d: output %d differs from the reference by %.2e", i, k, e)
			}
		}
	}
	if _, err := p.Start(make([]float32, 5)); err == nil {
		t.Error("Start took an input of the wrong size")
	}
	w, err := p.Start(make([]float32, 2*3*9*11))
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := w.Wait(); err == nil {
		t.Error("a run in flight when its program closed reported no error")
	}
	if _, err := p.Start(make([]float32, 2*3*9*11)); err == nil {
		t.Error("Start on a closed program reported no error")
	}
}
