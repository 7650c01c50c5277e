package serve

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

// Output names and data types.
const (
	outLogits  = "logits"
	outProbs   = "probs"
	outClasses = "classes"
	fp32       = "FP32"
	bytesType  = "BYTES"
)

var allOutputs = []string{outLogits, outProbs, outClasses}

// request is an inference request decoded from either protocol.
type request struct {
	model, id string
	input     tensor
	outputs   []wanted      // empty: all
	top       int           // classes per image; 0: Options.Top
	timeout   time.Duration // 0: none
	binary    bool          // every output in the binary form (REST)
}

// wanted is a requested output.
type wanted struct {
	name   string
	top    int  // its "classification" parameter; 0: none
	binary bool // its "binary_data" parameter (REST)
}

// tensor is an input or output tensor: FP32 values or BYTES elements.
type tensor struct {
	name, datatype string
	shape          []int64
	f32            []float32
	bytes          [][]byte
	binary         bool // sent in the binary form (REST)
}

// response is an inference's outputs.
type response struct {
	model, id string
	outputs   []tensor
}

// numel returns the product of a shape, or an error for a negative
// dimension or a product above limit.
func numel(shape []int64, limit int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || d > limit || n*d > limit {
			return 0, badRequest("shape %v: want non-negative dimensions, at most %d elements", shape, limit)
		}
		n *= d
	}
	return n, nil
}

// infer takes a queue slot of the request's model and runs the request:
// the protocol-independent part of gRPC's infer.
func (s *Server) infer(ctx context.Context, r *request) (*response, error) {
	b := s.models[r.model]
	if b == nil {
		return nil, notFound(r.model)
	}
	release, err := s.admit(b)
	if err != nil {
		return nil, err
	}
	defer release()
	return s.run(ctx, b, r)
}

// run runs a request that holds a queue slot of b (REST takes it before
// reading the body, so that the queue bound also bounds the bodies held).
func (s *Server) run(ctx context.Context, b *batcher, r *request) (*response, error) {
	top, outs, err := s.check(b, r)
	if err != nil {
		return nil, err
	}
	if r.timeout == 0 {
		r.timeout = s.opt.Timeout
	}
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	var items [][]float32
	if r.input.datatype == bytesType {
		start := time.Now()
		if items, err = s.preprocess(ctx, b, r.input.bytes); err != nil {
			return nil, err
		}
		s.metrics.preprocessTime.WithLabelValues(b.name).Observe(time.Since(start).Seconds())
	} else {
		size := b.m.InputSize()
		for i := 0; i < len(r.input.f32); i += size {
			items = append(items, r.input.f32[i:i+size])
		}
	}
	res, err := b.infer(ctx, items)
	if err != nil {
		return nil, err
	}
	resp := &response{model: r.model, id: r.id}
	n, k := int64(len(items)), int64(b.m.Arch.Classes)
	for _, w := range outs {
		t := tensor{name: w.name, datatype: fp32, shape: []int64{n, k}, binary: w.binary || r.binary}
		switch w.name {
		case outLogits:
			t.f32 = flatten(res.logits)
		case outProbs:
			t.f32 = flatten(res.probs)
		case outClasses:
			t.datatype = bytesType
			kk := top
			if w.top > 0 {
				kk = w.top
			}
			kk = min(kk, int(k))
			t.shape = []int64{n, int64(kk)}
			for _, p := range res.probs {
				for _, c := range b.m.TopK(p, kk) {
					t.bytes = append(t.bytes, fmt.Appendf(nil, "%s:%d:%s", strconv.FormatFloat(c.Prob, 'f', 6, 32), c.Index, c.Label))
				}
			}
		}
		resp.outputs = append(resp.outputs, t)
	}
	return resp, nil
}

// check validates a request against its model before it takes a queue
// slot, and returns its top-k and outputs.
func (s *Server) check(b *batcher, r *request) (top int, outs []wanted, err error) {
	top = s.opt.Top
	if r.top != 0 {
		top = r.top
	}
	if top < 1 {
		return 0, nil, badRequest("top %d: want at least 1", r.top)
	}
	outs = r.outputs
	if len(outs) == 0 {
		for _, name := range allOutputs {
			outs = append(outs, wanted{name: name})
		}
	}
	seen := map[string]bool{}
	for _, w := range outs {
		if !slices.Contains(allOutputs, w.name) {
			return 0, nil, badRequest("unknown output %q: want %s", w.name, strings.Join(allOutputs, ", "))
		}
		if seen[w.name] {
			return 0, nil, badRequest("output %q requested twice", w.name)
		}
		seen[w.name] = true
		if w.top < 0 {
			return 0, nil, badRequest("output %q: classification %d: want at least 1", w.name, w.top)
		}
	}
	in, max := r.input, s.opt.MaxBatch
	if len(in.shape) == 0 || in.shape[0] < 1 || in.shape[0] > int64(max) {
		return 0, nil, badRequest("input %q: shape %v: want a first (batch) dimension of 1..%d", in.name, in.shape, max)
	}
	c := int64(b.m.Transform.Crop)
	switch in.datatype {
	case fp32:
		if len(in.shape) != 4 || in.shape[1] != 3 || in.shape[2] != c || in.shape[3] != c {
			return 0, nil, badRequest("input %q: FP32 shape %v: want [N,3,%d,%d]", in.name, in.shape, c, c)
		}
		if want := int(in.shape[0] * 3 * c * c); len(in.f32) != want {
			return 0, nil, badRequest("input %q: %d values for shape %v, want %d", in.name, len(in.f32), in.shape, want)
		}
	case bytesType:
		if len(in.shape) != 1 {
			return 0, nil, badRequest("input %q: BYTES shape %v: want [N], N encoded images", in.name, in.shape)
		}
		if len(in.bytes) != int(in.shape[0]) {
			return 0, nil, badRequest("input %q: %d elements for shape %v", in.name, len(in.bytes), in.shape)
		}
	default:
		return 0, nil, badRequest("input %q: data type %q: want FP32 (preprocessed [N,3,%d,%d]) or BYTES (encoded images [N])", in.name, in.datatype, c, c)
	}
	return top, outs, nil
}

// preprocess decodes and preprocesses images on the worker pool.
func (s *Server) preprocess(ctx context.Context, b *batcher, imgs [][]byte) ([][]float32, error) {
	out := make([][]float32, len(imgs))
	errs := make([]error, len(imgs))
	var wg sync.WaitGroup
	for i, data := range imgs {
		select {
		case s.work <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return nil, ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-s.work; wg.Done() }()
			img, err := imagenet.Decode(bytes.NewReader(data), fmt.Sprintf("image %d", i))
			if err == nil {
				out[i], err = b.m.Preprocess(img)
			}
			if err != nil {
				errs[i] = badRequest("%v", err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, ctx.Err()
}

// flatten concatenates rows.
func flatten(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// parseTimeout reads a timeout in microseconds (Triton's "timeout"
// parameter) or as a Go duration ("250ms").
func parseTimeout(s string) (time.Duration, error) {
	if us, err := strconv.ParseInt(s, 10, 64); err == nil && us > 0 && us < 1<<40 {
		return time.Duration(us) * time.Microsecond, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, badRequest("timeout %q: want positive microseconds or a duration such as 250ms", s)
}
