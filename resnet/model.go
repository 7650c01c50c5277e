package resnet

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	"github.com/resnet-gpu/resnet-gpu/resnet/labels"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// Options choose where and how a Model runs.
type Options struct {
	Device   string    // "gpu" (default) or "cpu" (the reference path)
	Adapter  string    // GPU adapter index or name substring (see gpu.Options)
	Progress io.Writer // weight download progress; nil = quiet
	// Tune chooses convolution kernels by timing them on the adapter:
	// "auto" (default) tunes on GPUs and uses the built-in choice on CPU
	// adapters such as lavapipe, "on" always tunes, "off" never does.
	// Choices are cached per adapter in the user cache directory.
	Tune         string
	TuneProgress io.Writer // tuning's progress (with Tune "on" a line per shape); nil = quiet
	// Exec, if set, is used instead of opening a device per Device/Adapter.
	Exec graph.Executor
	// Weights, if set, are used instead of loading the named source.
	Weights *Weights
	// Transform, if set, replaces the weights' preprocessing (a fine-tuned
	// model's own resize, crop, mean and std).
	Transform *imagenet.Transform
	// Labels, if set, name the classes (one per class); WNIDs optionally
	// give their WordNet ids. Without them a 1000-class head gets
	// ImageNet's names and any other head "class 0", "class 1", ….
	Labels, WNIDs []string
}

// Model is a ResNet-family network with its weights on an executor, ready
// to classify. A Model is safe for concurrent use: calls from many
// goroutines give the results sequential calls would; each batch size's
// program is compiled once, and on a GPU every program shares one copy of
// the weights.
type Model struct {
	Arch      Arch
	Weights   *Weights
	Transform imagenet.Transform // the preprocessing of images (its Crop is the input size)
	Labels    []string           // a name per class
	WNIDs     []string           // a WordNet id per class, or nil
	Exec      graph.Executor
	gpu       *gpuexec.Executor // Exec when it is a GPU executor
	own       bool              // Load opened gpu; Close closes it

	base  func() (*graph.Graph, error) // the optimised graph at batch 1, built once; others are its Reshape
	mu    sync.Mutex
	progs map[int]*compiled // nil once closed
}

// compiled is one batch size's program, ready when done is closed.
type compiled struct {
	done chan struct{}
	p    graph.Program
	err  error
}

// Load loads weights ("pretrained", "synthetic:0", "FILE.pth"; see
// LoadWeights) of arch ("resnet50"; "" infers a file's architecture) on
// the device opt names.
func Load(ctx context.Context, arch, weightsSource string, opt Options) (*Model, error) {
	w := opt.Weights
	if w == nil {
		var err error
		if w, err = LoadWeights(ctx, arch, weightsSource, WeightsOptions{Progress: opt.Progress}); err != nil {
			return nil, err
		}
	}
	a := w.Arch
	m := &Model{Arch: a, Weights: w, Transform: w.Transform, Exec: opt.Exec, progs: map[int]*compiled{}}
	if opt.Transform != nil {
		m.Transform = *opt.Transform
	}
	m.base = sync.OnceValues(func() (*graph.Graph, error) {
		c := m.Transform.Crop
		g, err := m.Weights.Build(BuildOptions{Batch: 1, Height: c, Width: c, Softmax: true})
		if err == nil {
			graph.Optimize(g)
		}
		return g, err
	})
	if m.Transform.Resize < 1 || m.Transform.Crop < 1 || m.Transform.Crop > 4096 {
		return nil, fmt.Errorf("resnet: bad preprocessing: resize %d, crop %d (want both 1..4096)", m.Transform.Resize, m.Transform.Crop)
	}
	switch {
	case opt.Labels == nil && w.Labels != nil:
		if len(w.Labels) != a.Classes || w.WNIDs != nil && len(w.WNIDs) != a.Classes {
			return nil, fmt.Errorf("resnet: weights %s have %d labels for %d classes", w.Name, len(w.Labels), a.Classes)
		}
		m.Labels, m.WNIDs = w.Labels, w.WNIDs
	case opt.Labels != nil:
		if len(opt.Labels) != a.Classes || opt.WNIDs != nil && len(opt.WNIDs) != a.Classes {
			return nil, fmt.Errorf("resnet: %d labels for a model with %d classes", len(opt.Labels), a.Classes)
		}
		m.Labels, m.WNIDs = opt.Labels, opt.WNIDs
	case a.Classes == imagenet.NumClasses:
		for i := 0; i < a.Classes; i++ {
			m.Labels = append(m.Labels, imagenet.Label(i))
			m.WNIDs = append(m.WNIDs, imagenet.WNID(i))
		}
	default:
		m.Labels = labels.Default(a.Classes).Names
	}
	if m.Exec == nil {
		switch opt.Device {
		case "", "gpu":
			ex, err := gpuexec.Open(opt.Adapter, gpuexec.Options{})
			if err != nil {
				return nil, err
			}
			tune := opt.Tune == "on" || (opt.Tune == "" || opt.Tune == "auto") && !ex.Caps().CPU
			if tune {
				dir, _ := hub.CacheDir()
				t := gpuexec.NewTuner(ex.Dev, dir)
				t.Progress, t.Verbose = opt.TuneProgress, opt.Tune == "on"
				ex.Opt.Tuner = t
			}
			m.gpu, m.Exec, m.own = ex, ex, true
		case "cpu":
			m.Exec = ref.Executor{}
		default:
			return nil, fmt.Errorf("resnet: unknown device %q (want gpu or cpu)", opt.Device)
		}
	} else if ex, ok := opt.Exec.(*gpuexec.Executor); ok {
		m.gpu = ex
	}
	return m, nil
}

// GPU returns the model's GPU executor, or nil on the CPU reference.
func (m *Model) GPU() *gpuexec.Executor { return m.gpu }

// ReadAhead is how many batches of batch images a caller should decode and
// preprocess, or hold preprocessed, beyond the one the model runs: enough
// to keep GOMAXPROCS readers busy, and at least 2, on a GPU; none when the
// model runs on the CPU (the CPU reference, or a CPU adapter such as
// lavapipe), where reading while it runs takes cores from it.
func (m *Model) ReadAhead(batch int) int {
	if m.gpu == nil || m.gpu.Caps().CPU {
		return 0
	}
	return max(2, (runtime.GOMAXPROCS(0)+batch-1)/batch)
}

// Close releases the model's programs and the device Load opened, after
// any compilation in progress has finished.
func (m *Model) Close() {
	m.mu.Lock()
	progs := m.progs
	m.progs = nil
	m.mu.Unlock()
	for _, c := range progs {
		<-c.done
		if c.p != nil {
			c.p.Close()
		}
	}
	if m.own && progs != nil {
		m.gpu.Close()
	}
}

// Program returns the compiled optimised graph for a batch size; it is built
// on first use and kept. Its outputs are the logits then the probabilities.
// Every batch size's graph is the batch-1 graph reshaped, so all share its
// (folded) parameters. Compiling one batch size does not hold up callers
// of the others; callers of the same one wait for it. A failed compilation
// is not kept: the next call tries again.
func (m *Model) Program(batch int) (graph.Program, error) {
	if batch < 1 {
		return nil, fmt.Errorf("resnet: batch size %d, want at least 1", batch)
	}
	if m.Weights == nil {
		return nil, errNotLoaded
	}
	m.mu.Lock()
	if m.progs == nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("resnet: model is closed")
	}
	c, ok := m.progs[batch]
	if ok {
		m.mu.Unlock()
		<-c.done
		return c.p, c.err
	}
	c = &compiled{done: make(chan struct{})}
	m.progs[batch] = c
	m.mu.Unlock()
	c.p, c.err = m.compile(batch)
	if c.err != nil {
		m.mu.Lock()
		if m.progs != nil {
			delete(m.progs, batch)
		}
		m.mu.Unlock()
	}
	close(c.done)
	return c.p, c.err
}

// compile builds and compiles the program for a batch size.
func (m *Model) compile(batch int) (graph.Program, error) {
	base, err := m.base()
	if err != nil {
		return nil, err
	}
	g, err := base.Reshape(graph.Shape{batch, 3, m.Transform.Crop, m.Transform.Crop})
	if err != nil {
		return nil, err
	}
	return m.Exec.Compile(g)
}

// InputSize is the number of float32 values of one preprocessed image:
// 3×Crop×Crop.
func (m *Model) InputSize() int { return 3 * m.Transform.Crop * m.Transform.Crop }

// Forward runs a batch of preprocessed 3×Crop×Crop CHW tensors and returns
// each item's logits and softmax probabilities.
func (m *Model) Forward(batch [][]float32) (logits, probs [][]float32, err error) {
	r, err := m.Start(batch)
	if err != nil {
		return nil, nil, err
	}
	return r.Wait()
}

// Pass is a forward pass that Start began. Its Wait is safe for
// concurrent use.
type Pass struct {
	m   *Model
	n   int           // items
	run graph.Pending // nil for an empty batch
}

// Start begins Forward's pass over batch and returns once the batch is
// copied (so that the caller may reuse it): on a GPU, once it is uploaded
// and submitted, so that the caller can prepare the next batch while the
// device runs this one. Two passes of one batch size can be in flight; a
// third Start waits for the oldest. The Pass's Wait returns what Forward
// would.
func (m *Model) Start(batch [][]float32) (*Pass, error) {
	if len(batch) == 0 {
		return &Pass{m: m}, nil
	}
	size := m.InputSize()
	in := make([]float32, 0, len(batch)*size)
	for i, x := range batch {
		if len(x) != size {
			c := m.Transform.Crop
			return nil, fmt.Errorf("resnet: input %d has %d values, want 3x%dx%d = %d", i, len(x), c, c, size)
		}
		in = append(in, x...)
	}
	p, err := m.Program(len(batch))
	if err != nil {
		return nil, err
	}
	run, err := p.Start(in)
	if err != nil {
		return nil, err
	}
	return &Pass{m: m, n: len(batch), run: run}, nil
}

// Wait waits for the pass and returns each item's logits and softmax
// probabilities.
func (r *Pass) Wait() (logits, probs [][]float32, err error) {
	if r.run == nil {
		return nil, nil, nil
	}
	out, err := r.run.Wait()
	if err != nil {
		return nil, nil, err
	}
	k := r.m.Arch.Classes
	if i := weights.NonFinite(out[0]); i >= 0 {
		return nil, nil, fmt.Errorf("resnet: input %d: logit %d is %v (an input or activation overflowed)", i/k, i%k, out[0][i])
	}
	for i := range r.n {
		logits = append(logits, out[0][i*k:(i+1)*k])
		probs = append(probs, out[1][i*k:(i+1)*k])
	}
	return logits, probs, nil
}

// Prediction is one class of a top-k list.
type Prediction struct {
	Index int     `json:"index"`
	Label string  `json:"label"`
	WNID  string  `json:"wnid,omitempty"`
	Prob  float64 `json:"prob"`
}

// TopK returns the k most probable classes, by probability then index,
// with the model's labels (none for k < 1).
func (m *Model) TopK(probs []float32, k int) []Prediction {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	k = max(0, min(k, len(idx)))
	out := make([]Prediction, k)
	for r := 0; r < k; r++ {
		i := idx[r]
		out[r] = Prediction{Index: i, Label: fmt.Sprintf("class %d", i), Prob: float64(probs[i])}
		if i < len(m.Labels) {
			out[r].Label = m.Labels[i]
		}
		if i < len(m.WNIDs) {
			out[r].WNID = m.WNIDs[i]
		}
	}
	return out
}

// errNotLoaded is the error of a Model that Load did not make.
var errNotLoaded = errors.New("resnet: the model was not made by Load")

// Preprocess applies the model's transform (or its weights' own
// preprocessing) to img, which must be a non-empty image.
func (m *Model) Preprocess(img image.Image) ([]float32, error) {
	if m.Weights == nil {
		return nil, errNotLoaded
	}
	if img == nil || img.Bounds().Empty() {
		return nil, errors.New("resnet: empty image")
	}
	if m.Weights.Preprocess != nil {
		return m.Weights.Preprocess(img), nil
	}
	return m.Transform.Apply(img), nil
}

// Classify returns the top k (at least 1) predictions for each image.
func (m *Model) Classify(imgs []image.Image, k int) ([][]Prediction, error) {
	if k < 1 {
		return nil, fmt.Errorf("resnet: top %d classes: want at least 1", k)
	}
	batch := make([][]float32, len(imgs))
	for i, img := range imgs {
		x, err := m.Preprocess(img)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		batch[i] = x
	}
	_, probs, err := m.Forward(batch)
	if err != nil {
		return nil, err
	}
	out := make([][]Prediction, len(probs))
	for i, p := range probs {
		out[i] = m.TopK(p, k)
	}
	return out, nil
}

// RelErr is max|a-b| / max|b|, the measure the PyTorch comparisons use
// (max|a-b| when b is all zeros; NaN when a holds a NaN).
func RelErr[T float32 | float64](a []float32, b []T) float64 {
	var num, den float64
	for i := range b {
		num = math.Max(num, math.Abs(float64(a[i])-float64(b[i])))
		den = math.Max(den, math.Abs(float64(b[i])))
	}
	if den == 0 {
		return num
	}
	return num / den
}
