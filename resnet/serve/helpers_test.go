package serve

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	pb "github.com/resnet-gpu/resnet-gpu/resnet/serve/inferencepb"
)

// The tests serve the tiny 3-class DenseNet of testdata/tiny at a 32×32
// crop on the CPU reference, so that a forward pass takes milliseconds.
const (
	tinyWeights = "../../testdata/tiny/densenet-tiny-c3.pth"
	tinyCrop    = 32
)

var tinyW = sync.OnceValues(func() (*resnet.Weights, error) {
	return resnet.LoadWeights(context.Background(), "", tinyWeights, resnet.WeightsOptions{})
})

// exec wraps an executor to count its programs' runs, hold them at a gate
// and fail them as a lost device would.
type exec struct {
	graph.Executor
	runs atomic.Int64
	gate atomic.Pointer[chan struct{}] // when set, a run waits for it to close
	wait atomic.Pointer[chan struct{}] // when set as a run starts, its Wait waits for it to close
	fail atomic.Pointer[error]         // when set, a run returns it
}

func (e *exec) Compile(g *graph.Graph) (graph.Program, error) {
	p, err := e.Executor.Compile(g)
	if err != nil {
		return nil, err
	}
	return &program{p, e}, nil
}

// hold makes runs wait until the returned function is called.
func (e *exec) hold() (release func()) { return gate(&e.gate) }

// holdResults makes the Waits of runs started from now on wait until the
// returned function is called.
func (e *exec) holdResults() (release func()) { return gate(&e.wait) }

// gate stores a channel in g that the returned function closes.
func gate(g *atomic.Pointer[chan struct{}]) (release func()) {
	c := make(chan struct{})
	g.Store(&c)
	var once sync.Once
	return func() { once.Do(func() { g.Store(nil); close(c) }) }
}

type program struct {
	graph.Program
	e *exec
}

func (p *program) Run(in ...[]float32) ([][]float32, error) {
	p.e.runs.Add(1)
	if c := p.e.gate.Load(); c != nil {
		<-*c
	}
	if err := p.e.fail.Load(); err != nil {
		return nil, *err
	}
	return p.Program.Run(in...)
}

// Start runs at once, as the CPU reference's does, but reports a lost
// device from Wait, as the GPU's does.
func (p *program) Start(in ...[]float32) (graph.Pending, error) {
	out, err := p.Run(in...)
	return finished{out, err, p.e.wait.Load()}, nil
}

// finished is a run that has finished, with its error, and the gate its
// Wait waits for (nil: none).
type finished struct {
	out  [][]float32
	err  error
	gate *chan struct{}
}

func (f finished) Wait() ([][]float32, error) {
	if f.gate != nil {
		<-*f.gate
	}
	return f.out, f.err
}

// tinyModel loads the tiny network on the CPU reference behind an exec.
func tinyModel(t testing.TB) (*resnet.Model, *exec) {
	t.Helper()
	w, err := tinyW()
	if err != nil {
		t.Fatal(err)
	}
	tr := w.Transform
	tr.Resize, tr.Crop = tinyCrop+4, tinyCrop
	e := &exec{Executor: ref.Executor{}}
	m, err := resnet.Load(context.Background(), "", "", resnet.Options{Weights: w, Transform: &tr, Exec: e})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, e
}

// fixture is a warmed server with REST on an httptest server and gRPC on
// an in-memory connection.
type fixture struct {
	s    *Server
	m    *resnet.Model
	e    *exec
	url  string
	grpc pb.GRPCInferenceServiceClient
	conn *grpc.ClientConn
}

// quiet is a logger for tests: it discards.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newFixture serves the tiny model as "tiny" with opt (MaxDelay 1ms and a
// quiet logger unless set).
func newFixture(t *testing.T, opt Options) *fixture {
	t.Helper()
	m, e := tinyModel(t)
	if opt.Logger == nil {
		opt.Logger = quiet
	}
	if opt.MaxDelay == 0 {
		opt.MaxDelay = time.Millisecond
	}
	s, err := New([]Model{{Name: "tiny", Model: m}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	s.RegisterGRPC(gs)
	go gs.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return lis.DialContext(ctx)
	}), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		gs.Stop()
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return &fixture{s: s, m: m, e: e, url: hs.URL, grpc: pb.NewGRPCInferenceServiceClient(conn), conn: conn}
}

// images are the test images' encoded bytes and decoded images.
var images = sync.OnceValues(func() ([][]byte, error) {
	var out [][]byte
	for _, name := range []string{"astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"} {
		b, err := os.ReadFile("../../testdata/images/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
})

// testImages returns the encoded test images and their decoded forms.
func testImages(t testing.TB) ([][]byte, []image.Image) {
	t.Helper()
	enc, err := images()
	if err != nil {
		t.Fatal(err)
	}
	var imgs []image.Image
	for i, b := range enc {
		img, err := imagenet.Decode(bytes.NewReader(b), fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	return enc, imgs
}

// want returns Model.Forward's logits and probabilities and
// Model.Classify's top k for imgs: what the server must answer.
func want(t testing.TB, m *resnet.Model, imgs []image.Image, k int) (inputs, logits, probs [][]float32, top [][]resnet.Prediction) {
	t.Helper()
	for _, img := range imgs {
		x, err := m.Preprocess(img)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, x)
	}
	logits, probs, err := m.Forward(inputs)
	if err != nil {
		t.Fatal(err)
	}
	if top, err = m.Classify(imgs, k); err != nil {
		t.Fatal(err)
	}
	return inputs, logits, probs, top
}

// classes formats top-k predictions as the classes output does.
func classes(top [][]resnet.Prediction) []string {
	var out []string
	for _, p := range top {
		for _, c := range p {
			out = append(out, fmt.Sprintf("%.6f:%d:%s", c.Prob, c.Index, c.Label))
		}
	}
	return out
}

// errLost is a lost device, as package gpu reports one.
var errLost error = fmt.Errorf("gpu: run: %w: driver reset", gpuexec.ErrDeviceLost)

// httptestRecord sends one request to h and returns its recorded answer.
func httptestRecord(h http.Handler, method, path string, body []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, bytes.NewReader(body)))
	return rec
}
