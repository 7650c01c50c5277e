package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	pb "github.com/resnet-gpu/resnet-gpu/resnet/serve/inferencepb"
)

// Version is the server version /v2 and ServerMetadata report.
const Version = "1"

// Options configure a Server; zero fields take the defaults named.
type Options struct {
	MaxBatch    int           // images per device batch (default 32)
	MaxDelay    time.Duration // longest a request waits for others to join its batch (default 2ms)
	BatchSizes  []int         // compiled batch sizes (default 1, 2, 4, … below MaxBatch, and MaxBatch)
	QueueSize   int           // requests admitted per model at once, queued or running (default 8×MaxBatch)
	Workers     int           // images decoded and preprocessed at once (default GOMAXPROCS)
	Top         int           // classes per image of the classes output (default 5)
	MaxBody     int64         // bytes of a request body or gRPC message (default 64 MiB)
	MinBodyRate int64         // bytes/s a REST body must keep up once it holds a queue slot, after 3 s of grace; slower get 408 (default 64 KiB)
	Timeout     time.Duration // deadline of requests that set none (default none)
	Logger      *slog.Logger  // default slog.Default()
}

// withDefaults returns o with its zero fields filled in, or an error for
// unusable values.
func (o Options) withDefaults() (Options, error) {
	if o.MaxBatch == 0 {
		o.MaxBatch = 32
	}
	if o.MaxBatch < 1 || o.MaxBatch > 1024 {
		return o, fmt.Errorf("serve: max batch %d: want 1..1024", o.MaxBatch)
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = 2 * time.Millisecond
	}
	if o.MaxDelay < 0 {
		return o, fmt.Errorf("serve: max delay %v: want at least 0", o.MaxDelay)
	}
	if o.BatchSizes == nil {
		for b := 1; b < o.MaxBatch; b *= 2 {
			o.BatchSizes = append(o.BatchSizes, b)
		}
		o.BatchSizes = append(o.BatchSizes, o.MaxBatch)
	}
	o.BatchSizes = slices.Clone(o.BatchSizes)
	slices.Sort(o.BatchSizes)
	o.BatchSizes = slices.Compact(o.BatchSizes)
	if o.BatchSizes[0] < 1 || o.BatchSizes[len(o.BatchSizes)-1] != o.MaxBatch {
		return o, fmt.Errorf("serve: batch sizes %v: want sizes of at least 1, the largest the max batch %d", o.BatchSizes, o.MaxBatch)
	}
	if o.QueueSize == 0 {
		o.QueueSize = 8 * o.MaxBatch
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Top == 0 {
		o.Top = 5
	}
	if o.MaxBody == 0 {
		o.MaxBody = 64 << 20
	}
	if o.MinBodyRate == 0 {
		o.MinBodyRate = 64 << 10
	}
	if o.QueueSize < 1 || o.Workers < 1 || o.Top < 1 || o.MaxBody < 1 || o.MinBodyRate < 1 || o.Timeout < 0 {
		return o, fmt.Errorf("serve: queue size %d, workers %d, top %d, max body %d, min body rate %d, timeout %v: want positive values", o.QueueSize, o.Workers, o.Top, o.MaxBody, o.MinBodyRate, o.Timeout)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Model is a model the server serves under a name.
type Model struct {
	Name  string
	Model *resnet.Model
}

// Server serves models over REST and gRPC. It is safe for concurrent use.
// It is not ready until Warm has compiled and run every batch size of
// every model.
type Server struct {
	opt     Options
	models  map[string]*batcher
	names   []string      // in the order given to New
	work    chan struct{} // the preprocessing worker pool's tokens
	metrics *metrics
	health  *health.Server // gRPC health checking, for Kubernetes' gRPC probes

	ready   atomic.Bool
	mu      sync.Mutex
	closing bool          // Shutdown was called
	started bool          // Warm started the batchers
	active  int           // admitted requests not yet answered
	drained chan struct{} // closed when closing and active is 0

	fatalOnce sync.Once
	fatal     chan error // receives the error that lost a device
	stopOnce  sync.Once
}

// New returns a server for the models, not ready until Warm.
func New(models []Model, opt Options) (*Server, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(models) == 0 {
		return nil, errors.New("serve: no models")
	}
	s := &Server{opt: opt, models: map[string]*batcher{}, work: make(chan struct{}, opt.Workers), drained: make(chan struct{}), fatal: make(chan error, 1)}
	s.metrics = newMetrics(s)
	s.health = health.NewServer()
	s.setHealth(false)
	for _, m := range models {
		if m.Name == "" || m.Model == nil {
			return nil, fmt.Errorf("serve: model %q: want a name and a model", m.Name)
		}
		if _, dup := s.models[m.Name]; dup {
			return nil, fmt.Errorf("serve: model %q given twice", m.Name)
		}
		s.models[m.Name] = newBatcher(s, m.Name, m.Model)
		s.names = append(s.names, m.Name)
	}
	return s, nil
}

// Warm compiles every batch size of every model and runs each once, then
// starts the batchers and makes the server ready.
func (s *Server) Warm(ctx context.Context) error {
	for _, name := range s.names {
		b := s.models[name]
		start := time.Now()
		if err := b.warm(ctx); err != nil {
			s.lost(err)
			return fmt.Errorf("serve: model %s: %w", name, err)
		}
		s.opt.Logger.Info("model ready", "model", name, "arch", b.m.Arch.String(), "exec", b.m.Exec.Name(),
			"batch_sizes", s.opt.BatchSizes, "seconds", time.Since(start).Seconds())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errClosing
	}
	for _, name := range s.names {
		go s.models[name].run()
	}
	s.started = true
	s.ready.Store(true)
	s.setHealth(true)
	return nil
}

// Ready reports whether the server accepts inference requests.
func (s *Server) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready.Load() && !s.closing
}

// Lost returns a channel that receives the error of a lost device, after
// which the server is not ready and the process should exit and be
// restarted.
func (s *Server) Lost() <-chan error { return s.fatal }

// lost makes the server not ready if err is a lost device, and reports it
// on Lost once.
func (s *Server) lost(err error) {
	if !errors.Is(err, gpuexec.ErrDeviceLost) {
		return
	}
	s.ready.Store(false)
	s.setHealth(false)
	s.fatalOnce.Do(func() {
		s.opt.Logger.Error("device lost: the server is not ready", "err", err)
		s.fatal <- err
	})
}

// Shutdown stops admitting requests (they get 503 / UNAVAILABLE), waits
// until every admitted one is answered or ctx is done, then stops the
// batchers. Listeners are the caller's (Run closes its own).
func (s *Server) Shutdown(ctx context.Context) error {
	s.health.Shutdown()
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		if s.active == 0 {
			close(s.drained)
		}
	}
	s.mu.Unlock()
	select {
	case <-s.drained:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	s.stopOnce.Do(func() {
		for _, b := range s.models {
			if started {
				b.stop()
			}
		}
	})
	return nil
}

// setHealth sets the gRPC health status of the server and its service.
func (s *Server) setHealth(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	for _, svc := range []string{"", pb.GRPCInferenceService_ServiceDesc.ServiceName} {
		s.health.SetServingStatus(svc, st)
	}
}

// admit takes a queue slot of the model for a request, or says why not.
// The caller calls release when the request is answered.
func (s *Server) admit(b *batcher) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return nil, errClosing
	case !s.ready.Load():
		return nil, errNotReady
	}
	select {
	case b.slots <- struct{}{}:
	default:
		return nil, errQueueFull
	}
	s.active++
	s.metrics.inflight.WithLabelValues(b.name).Inc()
	return func() {
		s.metrics.inflight.WithLabelValues(b.name).Dec()
		<-b.slots
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.active--; s.active == 0 && s.closing {
			close(s.drained)
		}
	}, nil
}
