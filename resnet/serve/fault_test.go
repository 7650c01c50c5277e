package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/resnet-gpu/resnet-gpu/resnet/serve/inferencepb"
)

// restInput is a JSON request body for one FP32 input.
func restInput(datatype string, shape string, data string) string {
	return fmt.Sprintf(`{"inputs": [{"name": "input", "datatype": %q, "shape": %s, "data": %s}]}`, datatype, shape, data)
}

// Malformed and unusable requests get 400 and the protocol's error form;
// bodies over the limit get 413.
func TestRESTBadRequests(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 2, MaxBody: 64 << 10})
	zeros := "[" + strings.Repeat("0,", 3*tinyCrop*tinyCrop-1) + "0]"
	shape := fmt.Sprintf("[1,3,%d,%d]", tinyCrop, tinyCrop)
	for _, c := range []struct {
		name, body string
		header     []string
	}{
		{"malformed JSON", `{"inputs": [`, nil},
		{"no inputs", `{"inputs": []}`, nil},
		{"two inputs", `{"inputs": [{"name": "a", "datatype": "FP32", "shape": [1], "data": [1]}, {"name": "b", "datatype": "FP32", "shape": [1], "data": [1]}]}`, nil},
		{"INT32 data", restInput("INT32", shape, zeros), nil},
		{"wrong crop", restInput("FP32", "[1,3,31,31]", "["+strings.Repeat("0,", 3*31*31-1)+"0]"), nil},
		{"no batch dimension", restInput("FP32", "[]", "[]"), nil},
		{"batch over the max", restInput("FP32", fmt.Sprintf("[3,3,%d,%d]", tinyCrop, tinyCrop), zeros), nil},
		{"negative dimension", restInput("FP32", "[-1,3,32,32]", zeros), nil},
		{"huge shape", restInput("FP32", "[1,3,4000000000,4000000000]", "[0]"), nil},
		{"large shape, little data", restInput("FP32", "[1,1,40000,40000]", "[0]"), nil}, // must not allocate 6 GB
		{"too few values", restInput("FP32", shape, "[1,2,3]"), nil},
		{"too many values", restInput("FP32", shape, "[0,"+zeros[1:]), nil},
		{"strings for FP32", restInput("FP32", shape, `["a"]`), nil},
		{"objects for FP32", restInput("FP32", shape, `[{"x": 1}]`), nil},
		{"bad base64", restInput("BYTES", "[1]", `["!!!"]`), nil},
		{"numbers for BYTES", restInput("BYTES", "[1]", `[1]`), nil},
		{"not an image", restInput("BYTES", "[1]", `["aGVsbG8="]`), nil},
		{"BYTES of two dimensions", restInput("BYTES", "[1,1]", `["aGVsbG8="]`), nil},
		{"unknown output", `{"inputs": [{"name": "input", "datatype": "FP32", "shape": ` + shape + `, "data": ` + zeros + `}], "outputs": [{"name": "features"}]}`, nil},
		{"output twice", `{"inputs": [{"name": "input", "datatype": "FP32", "shape": ` + shape + `, "data": ` + zeros + `}], "outputs": [{"name": "probs"}, {"name": "probs"}]}`, nil},
		{"string top", `{"parameters": {"top": "3"}, "inputs": [{"name": "input", "datatype": "FP32", "shape": ` + shape + `, "data": ` + zeros + `}]}`, nil},
		{"bad timeout header", restInput("FP32", shape, zeros), []string{"Timeout", "soon"}},
		{"header length past the body", restInput("FP32", shape, zeros), []string{headerLength, "999999"}},
		{"binary size past the data", `{"inputs": [{"name": "input", "datatype": "FP32", "shape": ` + shape + `, "parameters": {"binary_data_size": 12}}]}` + "abcd", []string{headerLength, "-"}},
		{"overrunning BYTES element", `{"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 5}}]}` + "\xff\xff\xff\x00x", []string{headerLength, "-"}},
	} {
		h := c.header
		if len(h) == 2 && h[0] == headerLength && h[1] == "-" {
			h = []string{headerLength, fmt.Sprint(strings.Index(c.body, "]}") + 2)}
		}
		code, b, _ := post(t, f.url+"/v2/models/tiny/infer", []byte(c.body), h...)
		var e map[string]string
		if err := json.Unmarshal(b, &e); code != 400 || err != nil || e["error"] == "" {
			t.Errorf("%s: %d %s, want 400 with an error", c.name, code, b)
		}
	}
	big := restInput("FP32", shape, "["+strings.Repeat("0.000000,", 9000)+"0]")
	for _, path := range []string{"/v2/models/tiny/infer", "/predictions/tiny"} {
		if code, b, _ := post(t, f.url+path, []byte(big)); code != 413 || !strings.Contains(string(b), `"error"`) {
			t.Errorf("%s with a %d-byte body: %d %s, want 413", path, len(big), code, b)
		}
	}
	if code, _, _ := post(t, f.url+"/v2/models/tiny/infer", []byte(restInput("FP32", shape, zeros))); code != 200 {
		t.Errorf("a good request after the bad ones: %d", code)
	}
}

// rawCodec sends a []byte as the message, for malformed protobuf.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { return nil }
func (rawCodec) Name() string                       { return "proto" }

// Malformed protobuf and unusable tensors get gRPC errors, not a crash.
func TestGRPCBadRequests(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 2})
	ctx := context.Background()
	var out []byte
	err := f.conn.Invoke(ctx, "/inference.GRPCInferenceService/ModelInfer", []byte("\x0a\xff\xff\xff\xff\x0fgarbage"), &out, grpc.ForceCodec(rawCodec{}))
	if c := status.Code(err); c != codes.Internal && c != codes.InvalidArgument {
		t.Errorf("malformed protobuf: %v, want Internal or InvalidArgument", err)
	}
	in := func(dt string, shape []int64, c *pb.InferTensorContents, raw ...[]byte) *pb.ModelInferRequest {
		return &pb.ModelInferRequest{ModelName: "tiny", RawInputContents: raw,
			Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: dt, Shape: shape, Contents: c}}}
	}
	shape := []int64{1, 3, tinyCrop, tinyCrop}
	for name, r := range map[string]*pb.ModelInferRequest{
		"no inputs":           {ModelName: "tiny"},
		"INT64 data":          in("INT64", shape, &pb.InferTensorContents{Int64Contents: []int64{1}}),
		"wrong shape":         in("FP32", []int64{1, 3, 8, 8}, &pb.InferTensorContents{Fp32Contents: make([]float32, 192)}),
		"too few values":      in("FP32", shape, &pb.InferTensorContents{Fp32Contents: []float32{1}}),
		"raw of wrong length": in("FP32", shape, nil, []byte{1, 2, 3}),
		"raw and contents":    in("FP32", shape, &pb.InferTensorContents{}, []byte{1, 2, 3, 4}),
		"empty image":         in("BYTES", []int64{1}, &pb.InferTensorContents{BytesContents: [][]byte{nil}}),
		"bad top": {ModelName: "tiny", Parameters: map[string]*pb.InferParameter{"top": {ParameterChoice: &pb.InferParameter_StringParam{StringParam: "x"}}},
			Inputs: in("FP32", shape, &pb.InferTensorContents{Fp32Contents: make([]float32, 3*tinyCrop*tinyCrop)}).Inputs},
	} {
		if _, err := f.grpc.ModelInfer(ctx, r); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if _, err := f.grpc.ModelInfer(ctx, fp32Request(make([]float32, 3*tinyCrop*tinyCrop))); err != nil {
		t.Errorf("a good request after the bad ones: %v", err)
	}
}

// With the queue full, further requests get 429 / RESOURCE_EXHAUSTED at
// once, before their bodies are read (a body over the limit too); the
// admitted ones are answered.
func TestQueueFull(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 1, QueueSize: 3, MaxBody: 1 << 20})
	x := make([]float32, 3*tinyCrop*tinyCrop)
	warm := f.e.runs.Load()
	release := f.e.hold()
	defer release()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.grpc.ModelInfer(context.Background(), fp32Request(x)); err != nil {
				t.Errorf("an admitted request: %v", err)
			}
		}()
	}
	waitFor(t, "a request running, one gathered and one queued", func() bool {
		return f.e.runs.Load() == warm+1 && f.queueLen() == 1 && len(f.s.models["tiny"].slots) == 3
	})
	start := time.Now()
	body := restInput("FP32", fmt.Sprintf("[1,3,%d,%d]", tinyCrop, tinyCrop), jsonArray(x))
	for range 20 {
		if code, b, _ := post(t, f.url+"/v2/models/tiny/infer", []byte(body)); code != 429 || !strings.Contains(string(b), "queue is full") {
			t.Fatalf("past the queue bound: %d %s, want 429", code, b)
		}
		if _, err := f.grpc.ModelInfer(context.Background(), fp32Request(x)); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("past the queue bound: %v, want ResourceExhausted", err)
		}
	}
	if code, b, _ := post(t, f.url+"/v2/models/tiny/infer", make([]byte, 2<<20)); code != 429 {
		t.Errorf("a body over the limit with the queue full: %d %s, want 429", code, b)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("40 refusals took %v: they should not wait", d)
	}
	release()
	wg.Wait()
}

// A client that goes away frees its queue slot at once and its images
// are never run (whether queued or gathered into the next batch); one
// whose batch already runs gets no answer; the server goes on.
func TestClientDisconnect(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 1, QueueSize: 3})
	x := make([]float32, 3*tinyCrop*tinyCrop)
	body := []byte(restInput("FP32", fmt.Sprintf("[1,3,%d,%d]", tinyCrop, tinyCrop), jsonArray(x)))
	warm := f.e.runs.Load()
	release := f.e.hold()
	defer release()
	// Three clients that give up: the first while its batch runs, the
	// second gathered into the next batch, the third while queued.
	var wg sync.WaitGroup
	cancels := make([]context.CancelFunc, 3)
	admitted := []func() bool{
		func() bool { return f.e.runs.Load() == warm+1 },
		func() bool { return f.queueLen() == 0 && len(f.s.models["tiny"].slots) == 2 },
		func() bool { return f.queueLen() == 1 && len(f.s.models["tiny"].slots) == 3 },
	}
	for i := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "POST", f.url+"/v2/models/tiny/infer", strings.NewReader(string(body)))
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				t.Errorf("client %d: answered %s after going away", i, resp.Status)
			}
		}()
		waitFor(t, fmt.Sprintf("request %d admitted", i), admitted[i])
	}
	cancels[2]()
	waitFor(t, "the queued request to leave the queue", func() bool { return f.queueLen() == 0 })
	cancels[1]()
	cancels[0]()
	waitFor(t, "every slot free", func() bool { return len(f.s.models["tiny"].slots) == 0 })
	wg.Wait()
	release()
	if _, err := f.grpc.ModelInfer(context.Background(), fp32Request(x)); err != nil {
		t.Fatalf("after the disconnections: %v", err)
	}
	if runs := f.e.runs.Load() - warm; runs != 2 {
		t.Errorf("%d forward passes, want 2: the gathered and the queued requests' images must not run", runs)
	}
}

// A request whose deadline passes while it waits gets 504 /
// DEADLINE_EXCEEDED: from the Timeout header, the timeout parameter and
// the gRPC deadline.
func TestDeadline(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 1})
	x := make([]float32, 3*tinyCrop*tinyCrop)
	release := f.e.hold()
	defer release()
	shape := fmt.Sprintf("[1,3,%d,%d]", tinyCrop, tinyCrop)
	body := restInput("FP32", shape, jsonArray(x))
	if code, b, _ := post(t, f.url+"/v2/models/tiny/infer", []byte(body), "Timeout", "50ms"); code != 504 || !strings.Contains(string(b), "deadline") {
		t.Errorf("Timeout header: %d %s, want 504", code, b)
	}
	withParam := `{"parameters": {"timeout": 50000}, ` + body[1:]
	if code, b, _ := post(t, f.url+"/v2/models/tiny/infer", []byte(withParam)); code != 504 {
		t.Errorf("timeout parameter: %d %s, want 504", code, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := f.grpc.ModelInfer(ctx, fp32Request(x)); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("gRPC deadline: %v, want DeadlineExceeded", err)
	}
	release()
	if _, err := f.grpc.ModelInfer(context.Background(), fp32Request(x)); err != nil {
		t.Errorf("after the deadlines: %v", err)
	}
}

// Shutdown under load: every request is either answered with its result
// or refused with 503 / UNAVAILABLE, and none is lost or run twice: the
// images run equal the requests answered.
func TestShutdownUnderLoad(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 4, MaxDelay: 2 * time.Millisecond})
	_, imgs := testImages(t)
	in, logits, _, _ := want(t, f.m, imgs[:1], 1)
	_, warmImages := histogram(t, f.s, "resnet_serve_batch_size")
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := f.grpc.ModelInfer(context.Background(), fp32Request(in[0]))
				switch {
				case err == nil && fmt.Sprint(r.Outputs[0].Contents.Fp32Contents) == fmt.Sprint(logits[0]):
					ok.Add(1)
				case status.Code(err) == codes.Unavailable && strings.Contains(err.Error(), "shutting down"):
					refused.Add(1)
					return
				default:
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
			}
		}()
	}
	waitFor(t, "some answers", func() bool { return ok.Load() >= 20 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	answered := ok.Load()
	if _, sum := histogram(t, f.s, "resnet_serve_batch_size"); int64(sum-warmImages) != answered {
		t.Errorf("%v images run for %d answered requests", sum-warmImages, answered)
	}
	if f.s.Ready() {
		t.Error("ready after Shutdown")
	}
	if refused.Load() == 0 {
		t.Error("no request was refused after Shutdown")
	}
}

// A lost device makes the server not ready, fails the requests with 503 /
// UNAVAILABLE and reports the error on Lost.
func TestDeviceLost(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 2})
	f.e.fail.Store(&errLost)
	x := make([]float32, 3*tinyCrop*tinyCrop)
	if _, err := f.grpc.ModelInfer(context.Background(), fp32Request(x)); status.Code(err) != codes.Unavailable {
		t.Errorf("on a lost device: %v, want Unavailable", err)
	}
	select {
	case err := <-f.s.Lost():
		if !errors.Is(err, errLost) {
			t.Errorf("Lost: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Lost reported nothing")
	}
	if c := get(t, f.url+"/v2/health/ready", nil); c != 503 {
		t.Errorf("ready after the device was lost: %d, want 503", c)
	}
	if r, err := healthpb.NewHealthClient(f.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gRPC health after the device was lost: %v %v, want NOT_SERVING", r, err)
	}
	if _, err := f.grpc.ModelInfer(context.Background(), fp32Request(x)); status.Code(err) != codes.Unavailable {
		t.Errorf("after the device was lost: %v, want Unavailable", err)
	}
}

// Serve answers on real listeners, and on cancellation (SIGTERM) answers
// the admitted request and returns nil; a lost device makes it return
// the error.
func TestServe(t *testing.T) {
	m, e := tinyModel(t)
	s, err := New([]Model{{"tiny", m}}, Options{MaxBatch: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, hl, nil) }()
	url := "http://" + hl.Addr().String()
	waitFor(t, "ready", func() bool {
		resp, err := http.Get(url + "/v2/health/ready")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	release := e.hold()
	x := make([]float32, 3*tinyCrop*tinyCrop)
	answered := make(chan int, 1)
	go func() {
		code, _, _ := post(t, url+"/v2/models/tiny/infer", []byte(restInput("FP32", fmt.Sprintf("[1,3,%d,%d]", tinyCrop, tinyCrop), jsonArray(x))))
		answered <- code
	}()
	waitFor(t, "the request admitted", func() bool { return len(s.models["tiny"].slots) == 1 })
	cancel()
	waitFor(t, "not ready", func() bool { return !s.Ready() })
	release()
	if code := <-answered; code != 200 {
		t.Errorf("the request admitted before SIGTERM: %d, want 200", code)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve after cancellation: %v, want nil", err)
	}
	if m, e = tinyModel(t); true {
		e.fail.Store(&errLost)
	}
	s, err = New([]Model{{"tiny", m}}, Options{MaxBatch: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background(), "127.0.0.1:0", "127.0.0.1:0"); !errors.Is(err, errLost) {
		t.Errorf("Run on a lost device: %v, want the device's error", err)
	}
}

// trickle posts body to the tiny model's infer endpoint over a raw
// connection, chunk bytes every gap, and returns the response, its body
// and how long it took.
func trickle(t *testing.T, url string, body []byte, chunk int, gap time.Duration) (*http.Response, []byte, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /v2/models/tiny/infer HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	go func() {
		for at := 0; at < len(body); at += chunk {
			if _, err := conn.Write(body[at:min(at+chunk, len(body))]); err != nil {
				return // the server answered and closed
			}
			time.Sleep(gap)
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b, time.Since(start)
}

// A client that sends its body slower than MinBodyRate gets 408 in the
// protocol's JSON error form once the grace has passed, long before the
// read timeout, and its queue slot is freed; one that keeps up (in chunks,
// but faster) is answered.
func TestSlowBody(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 1, MinBodyRate: 1000})
	x := make([]float32, 3*tinyCrop*tinyCrop)
	body := []byte(restInput("FP32", fmt.Sprintf("[1,3,%d,%d]", tinyCrop, tinyCrop), jsonArray(x)))
	if resp, b, _ := trickle(t, f.url, body, 1000, 50*time.Millisecond); resp.StatusCode != 200 {
		t.Errorf("a body at 20 kB/s: %d %s, want 200", resp.StatusCode, b)
	}
	resp, b, took := trickle(t, f.url, body, 1, 50*time.Millisecond)
	var e struct{ Error string }
	if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(e.Error, "too slowly") {
		t.Errorf("a body at 20 bytes/s: %d %s (%v), want 408 and a JSON error", resp.StatusCode, b, err)
	}
	if took < bodyGrace || took > bodyGrace+5*time.Second {
		t.Errorf("a body at 20 bytes/s was refused after %v, want a little over %v", took, bodyGrace)
	}
	if n := len(f.s.models["tiny"].slots); n != 0 {
		t.Errorf("%d queue slots held after the slow client was refused", n)
	}
}
