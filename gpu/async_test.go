package gpu_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
)

// start starts a run of k's replay on x with y as its output.
func (k *axpb) start(x, y []float32) (*gpu.Pending, error) {
	return k.replay.Start([]gpu.Upload{{Buf: k.in, Data: gpu.Bytes(x)}}, []gpu.ReadBack{{Buf: k.out, Dst: gpu.Bytes(y)}})
}

// Runs started back to back, two and then three in flight, each see their
// own input, even when the caller overwrites it after Start; the third
// Start waits for the first run, whose Wait then returns at once.
func TestReplayStart(t *testing.T) {
	d := gputest.Device(t)
	k, err := newAxpb(d, "async", 500, 3, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	defer k.release()
	const runs = 5
	var xs, ys [runs][]float32
	var ps [runs]*gpu.Pending
	for i := range runs {
		xs[i], ys[i] = k.input(i), make([]float32, k.n)
		x := append([]float32(nil), xs[i]...)
		if ps[i], err = k.start(x, ys[i]); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		clear(x) // Start has copied the input
		if i%2 == 0 {
			continue // leave two in flight, and a third Start waiting for the oldest
		}
		for j := i - 1; j <= i; j++ {
			tm, err := ps[j].Wait()
			if err != nil {
				t.Fatalf("wait %d: %v", j, err)
			}
			if err := k.check(fmt.Sprintf("run %d", j), xs[j], ys[j]); err != nil {
				t.Error(err)
			}
			if tm.Wall <= 0 || d.HasTimestamps && tm.GPU <= 0 {
				t.Errorf("run %d: timing %+v", j, tm)
			}
		}
	}
	if _, err := ps[runs-1].Wait(); err != nil {
		t.Fatal(err)
	}
	if err := k.check("last run", xs[runs-1], ys[runs-1]); err != nil {
		t.Error(err)
	}
	if _, err := ps[0].Wait(); err != nil {
		t.Errorf("a second Wait of a finished run: %v", err)
	}
}

// Release with runs in flight waits for the GPU, then their Waits and
// later Starts report the release.
func TestReplayReleasePending(t *testing.T) {
	d := gputest.Device(t)
	k, err := newAxpb(d, "released", 300, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer k.release() // releases the replay a second time, which is a no-op
	var ps []*gpu.Pending
	for i := range 2 {
		p, err := k.start(k.input(i), make([]float32, k.n))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	k.replay.Release()
	for i, p := range ps {
		if _, err := p.Wait(); err == nil {
			t.Errorf("run %d: Wait after Release reported no error", i)
		}
	}
	if _, err := k.start(k.input(3), make([]float32, k.n)); err == nil {
		t.Error("Start after Release reported no error")
	}
	if err := d.Err(); err != nil {
		t.Errorf("device error: %v", err)
	}
}

// Goroutines that share one Replay each keep two runs in flight; every
// run sees its own input.
func TestConcurrentStart(t *testing.T) {
	d := gputest.Device(t)
	k, err := newAxpb(d, "shared-async", 400, 5, -2)
	if err != nil {
		t.Fatal(err)
	}
	defer k.release()
	const workers = 4
	iters := iterations(16)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Go(func() {
			type run struct {
				x, y []float32
				p    *gpu.Pending
			}
			var prev *run
			for it := range iters + 1 {
				var cur *run
				if it < iters {
					cur = &run{x: k.input(100*g + it), y: make([]float32, k.n)}
					var err error
					if cur.p, err = k.start(cur.x, cur.y); err != nil {
						errs <- err
						return
					}
				}
				if prev != nil {
					if _, err := prev.p.Wait(); err != nil {
						errs <- err
						return
					}
					if err := k.check(fmt.Sprintf("goroutine %d run %d", g, it-1), prev.x, prev.y); err != nil {
						errs <- err
						return
					}
				}
				prev = cur
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
