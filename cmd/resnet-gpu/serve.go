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

func runServe(args []string) error {
	fs := newFlags("serve", "[flags]")
	var mf modelFlags
	mf.register(fs, "pretrained")
	var models modelList
	fs.Var(&models, "model", "serve WEIGHTS (any --weights source; the architecture inferred unless --arch) as NAME; repeat for several models (default: --weights as \"resnet\")")
	httpAddr := fs.String("http", ":8000", "REST address (the Open Inference Protocol, /predictions, /metrics); empty: none")
	grpcAddr := fs.String("grpc", ":8001", "gRPC address (inference.GRPCInferenceService with reflection); empty: none")
	maxBatch := fs.Int("max-batch", 32, "images per forward pass; batch sizes 1, 2, 4, … up to it are compiled and warmed at start")
	maxDelay := fs.Int("max-delay", 2000, "microseconds a request waits for others to join its batch")
	queue := fs.Int("queue", 0, "requests admitted per model at once, queued or running; more get 429 / RESOURCE_EXHAUSTED (default 8×max-batch)")
	workers := fs.Int("workers", 0, "images decoded and preprocessed at once (default the number of CPUs)")
	top := fs.Int("top", 5, "classes per image of the classes output and /predictions")
	maxBody := fs.Int("max-body", 64, "largest request body or gRPC message, MiB")
	maxPixels := fs.Int("max-pixels", imagenet.MaxPixels, "largest width×height of an uploaded image")
	timeout := fs.Duration("timeout", 0, "deadline of requests that set none (0: none)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", fs.Args(), errUsage)
	}
	if err := mf.check(); err != nil {
		return err
	}
	switch {
	case *maxBatch < 1 || *maxBatch > 1024:
		return fmt.Errorf("--max-batch %d: want 1..1024: %w", *maxBatch, errUsage)
	case *maxDelay < 0 || *maxDelay > 10_000_000:
		return fmt.Errorf("--max-delay %d: want 0..10000000 µs: %w", *maxDelay, errUsage)
	case *queue < 0 || *workers < 0 || *top < 1 || *maxBody < 1 || *maxBody > 2047 || *maxPixels < 1 || *timeout < 0:
		return fmt.Errorf("--queue, --workers, --top, --max-body (1..2047), --max-pixels, --timeout: want positive values: %w", errUsage)
	case *logFormat != "text" && *logFormat != "json":
		return fmt.Errorf("--log-format %q: want text or json: %w", *logFormat, errUsage)
	case *httpAddr == "" && *grpcAddr == "":
		return fmt.Errorf("--http and --grpc both empty: nothing to serve on: %w", errUsage)
	}
	var log *slog.Logger
	if *logFormat == "json" {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	} else {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	imagenet.MaxPixels = *maxPixels
	if len(models) == 0 {
		models.Set("resnet=" + mf.weights)
	}
	var served []serve.Model
	for _, m := range models {
		f := mf
		f.weights = m.weights
		log.Info("loading model", "model", m.name, "weights", m.weights)
		model, err := f.load()
		if err != nil {
			return fmt.Errorf("model %s: %w", m.name, err)
		}
		defer model.Close()
		served = append(served, serve.Model{Name: m.name, Model: model})
	}
	s, err := serve.New(served, serve.Options{MaxBatch: *maxBatch, MaxDelay: time.Duration(*maxDelay) * time.Microsecond,
		QueueSize: *queue, Workers: *workers, Top: *top, MaxBody: int64(*maxBody) << 20, Timeout: *timeout, Logger: log})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return s.Run(ctx, *httpAddr, *grpcAddr)
}
