package serve

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	pb "github.com/resnet-gpu/resnet-gpu/resnet/serve/inferencepb"
)

// histogram returns the sample count and sum of a server histogram.
func histogram(t *testing.T, s *Server, name string) (count uint64, sum float64) {
	t.Helper()
	families, err := s.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				count += m.GetHistogram().GetSampleCount()
				sum += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return count, sum
}

// waitFor polls cond until it holds, failing after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// queueLen is the number of jobs queued for the tiny model.
func (f *fixture) queueLen() int {
	b := f.s.models["tiny"]
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// fp32Request is a gRPC request for one preprocessed image.
func fp32Request(x []float32) *pb.ModelInferRequest {
	return &pb.ModelInferRequest{ModelName: "tiny", Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "logits"}},
		Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 3, tinyCrop, tinyCrop},
			Contents: &pb.InferTensorContents{Fp32Contents: x}}}}
}

// Eight concurrent single-image requests make two forward passes: the
// first request's alone, and the other seven together (padded to 8),
// gathered while the first ran; each gets its own image's logits.
func TestBatching(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 8, MaxDelay: 100 * time.Millisecond})
	_, imgs := testImages(t)
	var in, logits [][]float32
	for i := range 8 {
		x, l, _, _ := want(t, f.m, imgs[i%4:i%4+1], 1)
		in, logits = append(in, x[0]), append(logits, l[0])
	}
	warm := f.e.runs.Load()
	release := f.e.hold()
	defer release()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	send := func(i int) {
		defer wg.Done()
		r, err := f.grpc.ModelInfer(context.Background(), fp32Request(in[i]))
		switch {
		case err != nil:
			errs <- err
		case !slices.Equal(r.Outputs[0].Contents.Fp32Contents, logits[i]):
			errs <- fmt.Errorf("request %d: logits %v, want %v", i, r.Outputs[0].Contents.Fp32Contents, logits[i])
		}
	}
	wg.Add(8)
	go send(0)
	waitFor(t, "the first batch to run", func() bool { return f.e.runs.Load() == warm+1 })
	for i := 1; i < 8; i++ {
		go send(i)
	}
	waitFor(t, "the second batch to be gathered while the first runs", func() bool {
		n, _ := histogram(t, f.s, "resnet_serve_queue_seconds")
		return n == 8 && f.queueLen() == 0
	})
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if runs := f.e.runs.Load() - warm; runs != 2 {
		t.Errorf("%d forward passes for 8 requests, want 2", runs)
	}
	if n, sum := histogram(t, f.s, "resnet_serve_batch_size"); n != 2 || sum != 8 {
		t.Errorf("batch size histogram: %d batches of %v images, want 2 of 8", n, sum)
	}
}

// On the GPU (lavapipe in CI) concurrent requests share forward passes and
// get Forward's logits: exactly, or to 1e-5 when their batch was padded to
// a size whose program chose other kernels than batch 1's.
func TestGPU(t *testing.T) {
	ex := gpuexec.New(gputest.Device(t), gpuexec.Options{})
	w, err := tinyW()
	if err != nil {
		t.Fatal(err)
	}
	tr := w.Transform
	tr.Resize, tr.Crop = tinyCrop+4, tinyCrop
	m, err := resnet.Load(context.Background(), "", "", resnet.Options{Weights: w, Transform: &tr, Exec: ex})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := New([]Model{{"tiny", m}}, Options{MaxBatch: 4, MaxDelay: 20 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	_, imgs := testImages(t)
	in, logits, _, _ := want(t, m, imgs[:1], 1)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := decodeGRPC(fp32Request(in[0]))
			r, err := s.infer(context.Background(), req)
			if err != nil {
				t.Error(err)
				return
			}
			if got := r.outputs[0].f32; !slices.Equal(got, logits[0]) && resnet.RelErr(got, logits[0]) > 1e-5 {
				t.Errorf("logits %v, want %v", got, logits[0])
			}
		}()
	}
	wg.Wait()
	if n, sum := histogram(t, s, "resnet_serve_batch_size"); n >= 4 || sum != 4 {
		t.Errorf("%d forward passes for 4 concurrent requests (%v images), want fewer", n, sum)
	}
}

// The next batch starts (its input copied and submitted) while the batch
// before it still waits for its results, and each request gets its own
// image's logits.
func TestPipelined(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 1})
	_, imgs := testImages(t)
	var in, logits [][]float32
	for i := range 2 {
		x, l, _, _ := want(t, f.m, imgs[i:i+1], 1)
		in, logits = append(in, x[0]), append(logits, l[0])
	}
	warm := f.e.runs.Load()
	release := f.e.holdResults()
	defer release()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := range 2 {
		wg.Go(func() {
			r, err := f.grpc.ModelInfer(context.Background(), fp32Request(in[i]))
			switch {
			case err != nil:
				errs <- err
			case !slices.Equal(r.Outputs[0].Contents.Fp32Contents, logits[i]):
				errs <- fmt.Errorf("request %d: logits %v, want %v", i, r.Outputs[0].Contents.Fp32Contents, logits[i])
			}
		})
	}
	waitFor(t, "the second batch to start while the first waits for its results", func() bool { return f.e.runs.Load() == warm+2 })
	if n, _ := histogram(t, f.s, "resnet_serve_gpu_seconds"); n != 0 {
		t.Errorf("%d batches answered while their results were held", n)
	}
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, _ := histogram(t, f.s, "resnet_serve_gpu_seconds"); n != 2 {
		t.Errorf("device time measured for %d batches, want 2", n)
	}
}
