package gpu_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
)

// axpbSrc computes dst = src * p.mul + p.add over p.n floats.
const axpbSrc = `
struct Params { n: u32, mul: f32, add: f32, _pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
	if (id.x < p.n) { dst[id.x] = src[id.x] * p.mul + p.add; }
}`

type axpbParams struct {
	N        uint32
	Mul, Add float32
	_        uint32
}

// iterations returns n, or fewer under the race detector or -short.
func iterations(n int) int {
	if raceEnabled || testing.Short() {
		return max(n/4, 2)
	}
	return n
}

// axpb is one goroutine's kernel: its own buffers, dispatch and replay.
type axpb struct {
	n        int
	mul, add float32
	in, out  *gpu.Buffer
	ds       *gpu.Dispatch
	replay   *gpu.Replay
}

// newAxpb prepares n elements of dst = src*mul + add on d.
func newAxpb(d *gpu.Device, label string, n int, mul, add float32) (*axpb, error) {
	p, err := d.Pipeline(gpu.Key{Kernel: "test-axpb"}, func() string { return axpbSrc })
	if err != nil {
		return nil, err
	}
	k := &axpb{n: n, mul: mul, add: add}
	if k.in, err = d.NewBuffer(label+".in", uint64(4*n)); err != nil {
		return nil, err
	}
	if k.out, err = d.NewBuffer(label+".out", uint64(4*n)); err != nil {
		return nil, err
	}
	k.ds, err = d.Bind(label, p, axpbParams{N: uint32(n), Mul: mul, Add: add}, gpu.Groups{uint32(n+63) / 64, 1, 1}, gpu.Binds{"src": k.in, "dst": k.out})
	if err != nil {
		return nil, err
	}
	k.replay, err = d.NewReplay([]*gpu.Dispatch{k.ds}, []gpu.Upload{{Buf: k.in, Data: make([]byte, 4*n)}}, []gpu.ReadBack{{Buf: k.out, Dst: make([]byte, 4*n)}})
	return k, err
}

func (k *axpb) release() {
	k.replay.Release()
	k.ds.Release()
	k.in.Release()
	k.out.Release()
}

// input returns seeded inputs, small integers that the kernel maps exactly.
func (k *axpb) input(seed int) []float32 {
	x := make([]float32, k.n)
	for i := range x {
		x[i] = float32((seed*31 + i*7) % 1000)
	}
	return x
}

// check compares y with the kernel applied to x.
func (k *axpb) check(what string, x, y []float32) error {
	for i := range x {
		if want := x[i]*k.mul + k.add; y[i] != want {
			return fmt.Errorf("%s: out[%d] = %v, want %v", what, i, y[i], want)
		}
	}
	return nil
}

// step runs one iteration of every way to use the device and checks each
// result.
func (k *axpb) step(d *gpu.Device, it int) error {
	x := k.input(it)
	if err := d.Write(k.in, 0, gpu.Bytes(x)); err != nil {
		return err
	}
	y := make([]float32, k.n)
	if _, err := d.Run([]*gpu.Dispatch{k.ds}, []gpu.ReadBack{{Buf: k.out, Dst: gpu.Bytes(y)}}, it%2 == 0); err != nil {
		return err
	}
	if err := k.check("Write+Run", x, y); err != nil {
		return err
	}
	x = k.input(it + 1)
	clear(y)
	if _, err := d.RunWith([]*gpu.Dispatch{k.ds}, []gpu.Upload{{Buf: k.in, Data: gpu.Bytes(x)}}, []gpu.ReadBack{{Buf: k.out, Dst: gpu.Bytes(y)}}, false); err != nil {
		return err
	}
	if err := k.check("RunWith", x, y); err != nil {
		return err
	}
	raw, err := d.Read(k.out, 0, uint64(4*k.n))
	if err != nil {
		return err
	}
	for i := range y {
		y[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	if err := k.check("Read", x, y); err != nil {
		return err
	}
	x = k.input(it + 2)
	clear(y)
	if _, err := k.replay.Run([]gpu.Upload{{Buf: k.in, Data: gpu.Bytes(x)}}, []gpu.ReadBack{{Buf: k.out, Dst: gpu.Bytes(y)}}); err != nil {
		return err
	}
	if err := k.check("Replay.Run", x, y); err != nil {
		return err
	}
	// A short-lived buffer, created and released between the others' runs.
	tmp, err := d.NewBuffer("tmp", 64)
	if err != nil {
		return err
	}
	tmp.Release()
	return nil
}

// Many goroutines, each with its own buffers, dispatch and replay, share
// one device and its pipeline; every result must be exact.
func TestConcurrentDevice(t *testing.T) {
	d := gputest.Device(t)
	const workers = 8
	iters := iterations(20)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	pipes := make([]*gpu.Pipeline, workers)
	for g := range workers {
		wg.Go(func() {
			label := fmt.Sprintf("worker%d", g)
			k, err := newAxpb(d, label, 200+37*g, float32(g+2), 0.5)
			if err != nil {
				errs <- fmt.Errorf("%s: %v", label, err)
				return
			}
			defer k.release()
			pipes[g] = k.ds.Pipeline
			for it := range iters {
				if err := k.step(d, it); err != nil {
					errs <- fmt.Errorf("%s iteration %d: %v", label, it, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for g, p := range pipes {
		if p != nil && p != pipes[0] {
			t.Errorf("worker %d compiled its own pipeline for one key", g)
		}
	}
	if err := d.Err(); err != nil {
		t.Errorf("device error: %v", err)
	}
}

// Goroutines that share one Replay take turns: each run sees its own input.
func TestConcurrentReplay(t *testing.T) {
	d := gputest.Device(t)
	k, err := newAxpb(d, "shared", 300, 3, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer k.release()
	const workers = 4
	iters := iterations(20)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Go(func() {
			for it := range iters {
				x, y := k.input(100*g+it), make([]float32, k.n)
				if _, err := k.replay.Run([]gpu.Upload{{Buf: k.in, Data: gpu.Bytes(x)}}, []gpu.ReadBack{{Buf: k.out, Dst: gpu.Bytes(y)}}); err != nil {
					errs <- err
					return
				}
				if err := k.check(fmt.Sprintf("goroutine %d run %d", g, it), x, y); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
