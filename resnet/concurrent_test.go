package resnet_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// inputs returns n synthetic 3×224×224 tensors, one per seed.
func inputs(n int) [][]float32 {
	var out [][]float32
	for i := range n {
		out = append(out, weights.SyntheticInput(1, 3, 224, 224, uint64(10+i)))
	}
	return out
}

// forwardAll runs every batch in turn and returns the logits.
func forwardAll(t *testing.T, m *resnet.Model, batches [][][]float32) [][][]float32 {
	var out [][][]float32
	for _, b := range batches {
		l, _, err := m.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// concurrently runs batch i on goroutine i, rounds times, and checks each
// result against want[i] exactly.
func concurrently(t *testing.T, m *resnet.Model, batches [][][]float32, want [][][]float32, rounds int) {
	var wg sync.WaitGroup
	errs := make(chan error, len(batches)*rounds)
	for i, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				l, _, err := m.Forward(b)
				if err != nil {
					errs <- err
					return
				}
				for k := range l {
					if !slices.Equal(l[k], want[i][k]) {
						errs <- fmt.Errorf("goroutine %d round %d item %d: logits differ from the sequential run (rel. %.2e)", i, r, k, resnet.RelErr(l[k], want[i][k]))
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Four goroutines classifying on one GPU model, with batch sizes 1, 2 and
// 1 (two programs, one shared), get exactly the sequential results; the
// second batch size reuses the first's weights on the device.
func TestConcurrentGPU(t *testing.T) {
	dev := gputest.Device(t)
	ex := gpuexec.New(dev, gpuexec.Options{})
	m, err := resnet.Load(context.Background(), "resnet18", "synthetic:0", resnet.Options{Exec: ex})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	in := inputs(4)
	batches := [][][]float32{in[:1], in[1:3], in[3:4]}
	if _, _, err := m.Forward(batches[0]); err != nil {
		t.Fatal(err)
	}
	shared := ex.WeightBuffers()
	want := forwardAll(t, m, batches)
	if n := ex.WeightBuffers(); n != shared {
		t.Errorf("batch 2 added weight buffers: %d after batch 1, %d after batch 2", shared, n)
	}
	concurrently(t, m, batches, want, 2)
}

// countingExec is the CPU reference that counts compilations; the race
// test runs it (the reference's own runs are too slow under -race at
// 224²) on a stand-in whose programs return zeros.
type countingExec struct {
	mu       sync.Mutex
	compiles int
}

func (e *countingExec) Name() string { return "counting" }

func (e *countingExec) Compile(g *graph.Graph) (graph.Program, error) {
	e.mu.Lock()
	e.compiles++
	e.mu.Unlock()
	return zeroProgram{g}, nil
}

type zeroProgram struct{ g *graph.Graph }

func (p zeroProgram) Run(in ...[]float32) ([][]float32, error) {
	out := make([][]float32, len(p.g.Outputs))
	for i, v := range p.g.Outputs {
		out[i] = make([]float32, v.Shape.Numel())
		copy(out[i], in[0]) // something input-dependent
	}
	return out, nil
}

func (p zeroProgram) Start(in ...[]float32) (graph.Pending, error) {
	out, err := p.Run(in...)
	return graph.Done(out), err
}

func (zeroProgram) Close() {}

// Many goroutines on one model (programs built on first use per batch
// size): no data race (go test -race), one compilation per batch size,
// results as sequential calls give.
func TestConcurrentModel(t *testing.T) {
	ex := &countingExec{}
	m, err := resnet.Load(context.Background(), "resnet18", "synthetic:0", resnet.Options{Exec: ex})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	in := inputs(3)
	batches := [][][]float32{in[:1], in[:2], in[1:2], in[:3], in[2:3], in[1:3], in[:1], in[:2]}
	var want [][][]float32
	for _, b := range batches {
		var l [][]float32
		flat := slices.Concat(b...)
		for k := range b {
			l = append(l, flat[k*1000:(k+1)*1000])
		}
		want = append(want, l)
	}
	concurrently(t, m, batches, want, 3)
	if ex.compiles != 3 {
		t.Errorf("%d compilations for 3 batch sizes", ex.compiles)
	}
}

// Close releases what Load opened, not an executor the caller passed in:
// that one still compiles and runs afterwards.
func TestCloseLeavesCallersExecutor(t *testing.T) {
	gputest.Device(t) // skips or fails without an adapter, as the other GPU tests do
	ex, err := gpuexec.Open("", gpuexec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	m, err := resnet.Load(context.Background(), "resnet18", "synthetic:0", resnet.Options{Exec: ex})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if ex.Dev == nil {
		t.Fatal("Model.Close closed the caller's executor")
	}
	g, in, err := graph.Random("relu", graph.ReLU{}, graph.Shape{1, 2, 3, 3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ex.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Run(in...); err != nil {
		t.Fatalf("run on the caller's executor after Model.Close: %v", err)
	}
}

// gateExec compiles like countingExec, but a batch-2 compilation waits
// for gate.
type gateExec struct {
	countingExec
	started chan struct{}
	gate    chan struct{}
}

func (e *gateExec) Compile(g *graph.Graph) (graph.Program, error) {
	if g.Inputs[0].Shape[0] == 2 {
		close(e.started)
		<-e.gate
	}
	return e.countingExec.Compile(g)
}

// A batch size being compiled holds up neither other batch sizes nor
// Close's callers for good: batch 1 compiles and runs meanwhile, and Close
// waits for the compilation in flight, then refuses new work.
func TestCompileDoesNotBlockOtherBatches(t *testing.T) {
	ex := &gateExec{started: make(chan struct{}), gate: make(chan struct{})}
	m, err := resnet.Load(context.Background(), "resnet18", "synthetic:0", resnet.Options{Exec: ex})
	if err != nil {
		t.Fatal(err)
	}
	in := inputs(2)
	two := make(chan error, 1)
	go func() {
		_, _, err := m.Forward(in)
		two <- err
	}()
	<-ex.started
	if _, _, err := m.Forward(in[:1]); err != nil {
		t.Fatalf("batch 1 while batch 2 compiles: %v", err)
	}
	closed := make(chan struct{})
	go func() {
		m.Close()
		close(closed)
	}()
	close(ex.gate)
	if err := <-two; err != nil {
		t.Fatalf("batch 2: %v", err)
	}
	<-closed
	if _, _, err := m.Forward(in[:1]); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Forward after Close: %v, want a closed-model error", err)
	}
}
