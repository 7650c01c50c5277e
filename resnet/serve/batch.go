package serve

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// batcher gathers one model's requests into batches and runs them. Its
// gather goroutine takes jobs off the queue and assembles the next batch's
// input while its run goroutine, the only one that starts the model's
// programs, starts the current batch, whose results another goroutine
// waits for (see run).
type batcher struct {
	s     *Server
	name  string
	m     *resnet.Model
	slots chan struct{}         // one token per admitted request (Options.QueueSize)
	progs map[int]graph.Program // per compiled batch size, after warm

	mu    sync.Mutex
	queue []*job
	wake  chan struct{} // signalled when a job is queued
	quit  chan struct{} // closed by stop
	ready chan *batch   // from gather to run
	free  chan []float32
	done  chan struct{} // closed when run returns
}

// job is one request's preprocessed images, waiting for their results.
type job struct {
	ctx    context.Context
	items  [][]float32
	queued time.Time
	res    chan result // buffered: run never waits for a client
}

// result is a job's logits and probabilities, an item per image.
type result struct {
	logits, probs [][]float32
	err           error
}

// batch is the jobs of one device run and their input, padded to size.
type batch struct {
	jobs []*job
	in   []float32
	n    int // images, at most size
	size int // the compiled batch size
}

func newBatcher(s *Server, name string, m *resnet.Model) *batcher {
	return &batcher{s: s, name: name, m: m, slots: make(chan struct{}, s.opt.QueueSize),
		wake: make(chan struct{}, 1), quit: make(chan struct{}), ready: make(chan *batch),
		free: make(chan []float32, 2), done: make(chan struct{})}
}

// warm compiles every batch size and runs it once.
func (b *batcher) warm(ctx context.Context) error {
	b.progs = map[int]graph.Program{}
	for _, n := range b.s.opt.BatchSizes {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := b.m.Program(n)
		if err != nil {
			return fmt.Errorf("batch size %d: %w", n, err)
		}
		if _, err := p.Run(make([]float32, n*b.m.InputSize())); err != nil {
			return fmt.Errorf("batch size %d: warm-up run: %w", n, err)
		}
		b.progs[n] = p
	}
	return nil
}

// infer queues a job and waits for its result, or for ctx; a job whose
// ctx ends while queued leaves the queue.
func (b *batcher) infer(ctx context.Context, items [][]float32) (result, error) {
	j := &job{ctx: ctx, items: items, queued: time.Now(), res: make(chan result, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, j)
	b.s.metrics.queueDepth.WithLabelValues(b.name).Set(float64(len(b.queue)))
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	select {
	case r := <-j.res:
		return r, r.err
	case <-ctx.Done():
		b.mu.Lock()
		if i := slices.Index(b.queue, j); i >= 0 {
			b.queue = slices.Delete(b.queue, i, i+1)
			b.s.metrics.queueDepth.WithLabelValues(b.name).Set(float64(len(b.queue)))
		}
		b.mu.Unlock()
		return result{}, ctx.Err()
	}
}

// stop ends the goroutines once the queue is empty; Shutdown calls it
// after every admitted request is answered.
func (b *batcher) stop() {
	close(b.quit)
	<-b.done
}

// run starts gather and runs its batches until it stops. It starts each
// batch (on the GPU: uploads its input and submits it) and hands it to a
// goroutine that waits for its results and answers its jobs, so that the
// next batch is copied and uploaded while the device runs this one; a
// batch waits to be handed over until the one before it is answered, so
// at most two are in flight.
func (b *batcher) run() {
	go b.gather()
	defer close(b.done)
	started := make(chan *running)
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		var last time.Time // when the batch before finished
		for r := range started {
			last = b.answer(r, last)
		}
	}()
	for bt := range b.ready {
		if r := b.start(bt); r != nil {
			started <- r
		}
	}
	close(started)
	<-answered
}

// gather assembles batches: it waits for a first job, then until MaxBatch
// images are queued or MaxDelay has passed since that job was queued.
func (b *batcher) gather() {
	defer close(b.ready)
	max := b.s.opt.MaxBatch
	for {
		b.mu.Lock()
		n, first := b.queued()
		b.mu.Unlock()
		if n == 0 {
			select {
			case <-b.wake:
				continue
			case <-b.quit:
				return
			}
		}
		if wait := time.Until(first.Add(b.s.opt.MaxDelay)); n < max && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-b.wake:
				t.Stop()
				continue // count again
			case <-t.C:
			case <-b.quit:
				t.Stop()
			}
		}
		if bt := b.take(); bt != nil {
			b.ready <- bt
		}
	}
}

// queued returns the images queued and when the oldest job was queued;
// b.mu is held.
func (b *batcher) queued() (n int, first time.Time) {
	for _, j := range b.queue {
		n += len(j.items)
	}
	if len(b.queue) > 0 {
		first = b.queue[0].queued
	}
	return n, first
}

// take removes the jobs of the next batch from the queue, oldest first,
// and assembles their input padded to the smallest compiled size that
// holds them. Jobs whose clients went away are dropped.
func (b *batcher) take() *batch {
	b.mu.Lock()
	bt := &batch{}
	rest := b.queue[:0]
	for i, j := range b.queue {
		switch {
		case j.ctx.Err() != nil:
		case bt.n+len(j.items) <= b.s.opt.MaxBatch && len(rest) == 0:
			bt.jobs = append(bt.jobs, j)
			bt.n += len(j.items)
		default:
			rest = append(rest, b.queue[i])
		}
	}
	clear(b.queue[len(rest):])
	b.queue = rest
	b.s.metrics.queueDepth.WithLabelValues(b.name).Set(float64(len(b.queue)))
	b.mu.Unlock()
	if bt.n == 0 {
		return nil
	}
	now := time.Now()
	for _, j := range bt.jobs {
		b.s.metrics.queueTime.WithLabelValues(b.name).Observe(now.Sub(j.queued).Seconds())
	}
	i, _ := slices.BinarySearch(b.s.opt.BatchSizes, bt.n)
	bt.size = b.s.opt.BatchSizes[i]
	size := b.m.InputSize()
	bt.in = b.buffer(bt.size * size)
	at := 0
	for _, j := range bt.jobs {
		for _, x := range j.items {
			at += copy(bt.in[at:], x)
		}
	}
	clear(bt.in[at:])
	return bt
}

// buffer returns an input buffer of n values, reusing one that start
// has finished with (two are in use at most: one starting, one gathered).
func (b *batcher) buffer(n int) []float32 {
	select {
	case buf := <-b.free:
		if cap(buf) >= n {
			return buf[:n]
		}
	default:
	}
	return make([]float32, n)
}

// running is a batch whose forward pass has started.
type running struct {
	bt    *batch
	run   graph.Pending
	start time.Time
}

// start starts one batch's forward pass and gives its input buffer back
// for reuse. A batch whose clients have all gone away is not run, and one
// that cannot start is answered with the error; both return nil.
func (b *batcher) start(bt *batch) *running {
	if !slices.ContainsFunc(bt.jobs, func(j *job) bool { return j.ctx.Err() == nil }) {
		return nil
	}
	b.s.metrics.batchSize.WithLabelValues(b.name).Observe(float64(bt.n))
	r := &running{bt: bt, start: time.Now()}
	run, err := b.progs[bt.size].Start(bt.in)
	select {
	case b.free <- bt.in: // Start has copied it
	default:
	}
	if err != nil {
		b.fail(bt, err)
		return nil
	}
	r.run = run
	return r
}

// answer waits for a started batch and hands each job its results. It
// returns when the batch finished; last is when the one before it did, so
// that the device time measured is the batch's own even when it was
// submitted while the one before ran.
func (b *batcher) answer(r *running, last time.Time) time.Time {
	out, err := r.run.Wait()
	done := time.Now()
	b.s.metrics.gpuTime.WithLabelValues(b.name).Observe(done.Sub(later(r.start, last)).Seconds())
	if err != nil {
		b.fail(r.bt, err)
		return done
	}
	k := b.m.Arch.Classes
	at := 0
	for _, j := range r.bt.jobs {
		var res result
		for range j.items {
			l, p := out[0][at*k:(at+1)*k], out[1][at*k:(at+1)*k]
			if i := weights.NonFinite(l); i >= 0 && res.err == nil {
				res.err = badRequest("image %d: logit %d is %v (an input or activation overflowed)", len(res.logits), i, l[i])
			}
			res.logits, res.probs = append(res.logits, l), append(res.probs, p)
			at++
		}
		j.res <- res
	}
	return done
}

// fail answers every job of a batch with the error of its forward pass;
// a lost device makes the server not ready.
func (b *batcher) fail(bt *batch, err error) {
	b.s.lost(err)
	b.s.opt.Logger.Error("forward pass failed", "model", b.name, "batch", bt.size, "err", err)
	for _, j := range bt.jobs {
		j.res <- result{err: err}
	}
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
