// Package gpuexec is the GPU executor: it plans a graph's memory, lowers
// each node through its op (graph.Op.Lower), uploads the parameters once
// per executor (every program of a model shares them), compiles the
// kernels and records every dispatch once; each Run writes the inputs,
// replays the whole forward pass in one command buffer and one
// submission, and reads back only the graph's outputs.
package gpuexec

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Poison is the bit pattern (a NaN) written over activation buffers before
// a checked run: an element a kernel fails to write reads back as NaN.
const Poison uint32 = 0x7fc0dead

// Options tune an Executor.
type Options struct {
	// Guard adds this many float32 elements after every activation buffer;
	// they are poisoned before each run and checked after it, so an
	// out-of-bounds write fails the run. Guard > 0 also poisons the
	// activations themselves before each run.
	Guard int
	// ConvKernel picks a convolution's kernel (a shaders.ConvKernels name);
	// nil or "" leaves the choice to Tuner, else to the untuned default
	// (shaders.Defaults).
	ConvKernel func(g shaders.ConvGeom) string
	// Tuner, if set, picks the kernels ConvKernel leaves open by timing
	// them on its device: CompileGPU first tunes every shape of the graph
	// it has not seen (Tuner.Tune), so that its progress counts them.
	Tuner *Tuner
}

// Executor runs graphs on a GPU device. It is safe for concurrent use, and
// so are its programs: the device serialises work on its queue.
type Executor struct {
	Dev  *gpu.Device
	Opt  Options
	caps gpu.Caps
	own  bool // Close closes Dev

	mu      sync.Mutex
	weights map[weightKey]*weight
}

// New returns an executor on dev, which the caller keeps and closes.
func New(dev *gpu.Device, opt Options) *Executor {
	return &Executor{Dev: dev, Opt: opt, caps: dev.Caps(), weights: map[weightKey]*weight{}}
}

// ErrDeviceLost is gpu.ErrDeviceLost, for the layers above graph: a
// Program's Run error wraps it when the device was lost and the executor
// cannot be used any more.
var ErrDeviceLost = gpu.ErrDeviceLost

// Open opens the GPU adapter named by index or name substring (see
// gpu.Options; "" picks the default) and returns an executor that owns the
// device (Close closes it).
func Open(adapter string, opt Options) (*Executor, error) {
	dev, err := gpu.Open(gpu.Options{Adapter: adapter})
	if err != nil {
		return nil, err
	}
	e := New(dev, opt)
	e.own = true
	return e, nil
}

// Close releases the device if the executor opened it. Programs must be
// closed first.
func (e *Executor) Close() {
	if e.own && e.Dev != nil {
		e.Dev.Close()
		e.Dev = nil
	}
}

// Name implements graph.Executor.
func (e *Executor) Name() string {
	return fmt.Sprintf("gpu: %s (%s)", e.Dev.Info.Name, e.Dev.Info.Backend)
}

// Caps are the capabilities of the executor's device.
func (e *Executor) Caps() gpu.Caps { return e.caps }

// weightKey identifies uploaded parameters: the values' array (ops are
// immutable, so the same array holds the same values) or, for a constant
// fill, its length and value; the transform applied before upload; and
// whether they went into a texture.
type weightKey struct {
	ptr  *float32
	n    int
	fill float32
	tag  string
	tex  bool
}

// weight is a parameter array on the device and the number of programs
// that hold it.
type weight struct {
	b    gpu.Binding
	refs int
}

// param returns the device copy of parameter r (a graph.ResParam) after
// xf (named tag), as a buffer or a texture, uploading it on first use; the
// caller holds a reference until unref.
func (e *Executor) param(label string, r graph.Res, xf func([]float32) []float32, tag string, tex bool) (gpu.Binding, weightKey, error) {
	k := weightKey{n: len(r.Vals), tag: tag, tex: tex}
	if len(r.Vals) > 0 {
		k.ptr = unsafe.SliceData(r.Vals)
	} else {
		k.n, k.fill = r.N, r.Fill
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if w, ok := e.weights[k]; ok {
		w.refs++
		return w.b, k, nil
	}
	vals := r.Data()
	if xf != nil {
		vals = xf(vals)
	}
	var b gpu.Binding
	if tex {
		t, err := e.Dev.NewTexture(label, uint64(len(vals)+3)/4)
		if err != nil {
			return nil, k, err
		}
		if err := e.Dev.WriteTexture(t, vals); err != nil {
			t.Release()
			return nil, k, err
		}
		b = t
	} else {
		buf, err := e.Dev.NewBufferWith(label, 4, gpu.Bytes(vals))
		if err != nil {
			return nil, k, err
		}
		b = buf
	}
	e.weights[k] = &weight{b: b, refs: 1}
	return b, k, nil
}

// unref drops one reference to each key, freeing parameters no program
// holds any more.
func (e *Executor) unref(keys []weightKey) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, k := range keys {
		w, ok := e.weights[k]
		if !ok {
			continue
		}
		if w.refs--; w.refs == 0 {
			w.b.Release()
			delete(e.weights, k)
		}
	}
}

// WeightBuffers is the number of parameter arrays the executor holds on
// the device (shared by its programs).
func (e *Executor) WeightBuffers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.weights)
}
