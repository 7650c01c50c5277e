package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	"github.com/resnet-gpu/resnet-gpu/resnet/serve"
)

// modelList is the repeated --model NAME=WEIGHTS flag.
type modelList []struct{ name, weights string }

// modelName is what a served model may be called: a URL path segment.
var modelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (l *modelList) String() string { return "" }

func (l *modelList) Set(s string) error {
	name, weights, ok := strings.Cut(s, "=")
	if !ok || !modelName.MatchString(name) || weights == "" {
		return fmt.Errorf("want NAME=WEIGHTS, NAME of letters, digits, '.', '_' and '-'")
	}
	for _, m := range *l {
		if m.name == name {
			return fmt.Errorf("model %q given twice", name)
		}
	}
	*l = append(*l, struct{ name, weights string }{name, weights})
	return nil
}

// serveConfig is serve's command line, parsed and checked.
type serveConfig struct {
	mf                                               modelFlags
	models                                           modelList
	httpAddr, grpcAddr, logFormat                    string
	maxBatch, maxDelay, queue, workers, top, maxBody int
	minBodyRate                                      int
	maxPixels                                        int
	timeout                                          time.Duration
}

// parseServe parses and checks serve's flags, before anything is loaded.
func parseServe(args []string) (*serveConfig, error) {
	c := &serveConfig{}
	fs := newFlags("serve", "[flags]")
	c.mf.register(fs, "pretrained")
	fs.Var(&c.models, "model", "serve WEIGHTS (any --weights source, or a folder holding one weights file; the architecture inferred unless --arch) as NAME; repeat for several models (default: --weights as \"resnet\")")
	fs.StringVar(&c.httpAddr, "http", ":8000", "REST address (the Open Inference Protocol, /predictions, /metrics); empty: none")
	fs.StringVar(&c.grpcAddr, "grpc", ":8001", "gRPC address (inference.GRPCInferenceService with reflection); empty: none")
	fs.IntVar(&c.maxBatch, "max-batch", 32, "images per forward pass; batch sizes 1, 2, 4, … up to it are compiled and warmed at start")
	fs.IntVar(&c.maxDelay, "max-delay", 2000, "microseconds a request waits for others to join its batch")
	fs.IntVar(&c.queue, "queue", 0, "requests admitted per model at once, queued or running; more get 429 / RESOURCE_EXHAUSTED (default 8×max-batch)")
	fs.IntVar(&c.workers, "workers", 0, "images decoded and preprocessed at once (default the number of CPUs)")
	fs.IntVar(&c.top, "top", 5, "classes per image of the classes output and /predictions")
	fs.IntVar(&c.maxBody, "max-body", 64, "largest request body or gRPC message, MiB")
	fs.IntVar(&c.minBodyRate, "min-body-rate", 64, "KiB/s a REST body must keep up once it holds a queue slot (after 3 s); slower uploads get 408")
	fs.IntVar(&c.maxPixels, "max-pixels", imagenet.MaxPixels, "largest width×height of an uploaded image")
	fs.DurationVar(&c.timeout, "timeout", 0, "deadline of requests that set none (0: none)")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: %w", fs.Args(), errUsage)
	}
	if err := c.mf.check(); err != nil {
		return nil, err
	}
	switch {
	case c.maxBatch < 1 || c.maxBatch > 1024:
		return nil, fmt.Errorf("--max-batch %d: want 1..1024: %w", c.maxBatch, errUsage)
	case c.maxDelay < 0 || c.maxDelay > 10_000_000:
		return nil, fmt.Errorf("--max-delay %d: want 0..10000000 µs: %w", c.maxDelay, errUsage)
	case c.queue < 0 || c.workers < 0 || c.top < 1 || c.maxBody < 1 || c.maxBody > 2047 || c.maxPixels < 1 || c.timeout < 0 || c.minBodyRate < 1 || c.minBodyRate > 1<<20:
		return nil, fmt.Errorf("--queue, --workers, --top, --max-body (1..2047), --min-body-rate (1..1048576), --max-pixels, --timeout: want positive values: %w", errUsage)
	case c.logFormat != "text" && c.logFormat != "json":
		return nil, fmt.Errorf("--log-format %q: want text or json: %w", c.logFormat, errUsage)
	case c.httpAddr == "" && c.grpcAddr == "":
		return nil, fmt.Errorf("--http and --grpc both empty: nothing to serve on: %w", errUsage)
	}
	return c, nil
}

func runServe(args []string) error {
	c, err := parseServe(args)
	if err != nil {
		return err
	}
	mf, models := c.mf, c.models
	var log *slog.Logger
	if c.logFormat == "json" {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	} else {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	imagenet.MaxPixels = c.maxPixels
	if len(models) == 0 {
		models.Set("resnet=" + mf.weights)
	}
	var served []serve.Model
	var device graph.Executor // the first GPU model's, shared by the others
	for _, m := range models {
		f := mf
		f.weights, f.exec = m.weights, device
		log.Info("loading model", "model", m.name, "weights", m.weights)
		model, err := f.load()
		if err != nil {
			return fmt.Errorf("model %s: %w", m.name, err)
		}
		defer model.Close() // the device's owner, loaded first, closes last
		if device == nil && model.GPU() != nil {
			device = model.Exec
		}
		served = append(served, serve.Model{Name: m.name, Model: model})
	}
	s, err := serve.New(served, serve.Options{MaxBatch: c.maxBatch, MaxDelay: time.Duration(c.maxDelay) * time.Microsecond,
		QueueSize: c.queue, Workers: c.workers, Top: c.top, MaxBody: int64(c.maxBody) << 20, MinBodyRate: int64(c.minBodyRate) << 10, Timeout: c.timeout, Logger: log})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return s.Run(ctx, c.httpAddr, c.grpcAddr)
}
