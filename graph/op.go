package graph

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Op is one operation of the graph. Each op is one value that carries
// everything about it: its attributes and shape rule, its CPU reference,
// its GPU lowering and its random test parameters; executors, passes and
// the op checker reach it only through this interface, so adding an op is
// one file (plus its shader). Ops are immutable once built: passes replace
// a node's op, never modify it, so that graphs cloned for another input
// size (Graph.Reshape) share the parameters.
type Op interface {
	// Kind is the op family, e.g. "conv2d".
	Kind() string
	// Arity is the number of inputs.
	Arity() int
	// OutShape checks the input shapes and returns the output's.
	OutShape(in []Shape) (Shape, error)
	// Describe gives the op's attributes, e.g. "c=64,o=64,k=3x3,s=1,p=1,relu".
	Describe() string
	// Eval is the CPU reference: it computes into out (of the shape
	// OutShape returns) from the inputs data of shapes in, with plain
	// loops and float64 accumulation.
	Eval(in []Shape, data [][]float32, out []float32)
	// Lower records the GPU launches that compute the op on inputs of
	// shapes in.
	Lower(l Lowerer, in []Shape, out Shape) error
	// Random returns a copy of the op with parameters drawn from r (never
	// zeros) for a first input of shape in, and the shapes of all its
	// inputs (a residual convolution's second input, for instance).
	Random(r *Rand, in Shape) (Op, []Shape)
	// Params lists the op's parameter arrays.
	Params() [][]float32
	// FLOPs counts the floating-point operations of the op on inputs of
	// shapes in (a multiply-add counts as two).
	FLOPs(in []Shape, out Shape) int64
}

// View is implemented by ops whose output is their input's memory under
// another shape (Flatten): executors give the output the input's buffer
// and launch nothing.
type View interface {
	Op
	// IsView reports that the op only reinterprets its input's shape.
	IsView() bool
}

// isView reports whether op is a View.
func isView(op Op) bool {
	v, ok := op.(View)
	return ok && v.IsView()
}

// Layout is where a value lies in the buffer an executor binds for it
// (shaders.Layout): image n, the n-th index of its first dimension,
// starts at element Off + n·BStride. A value the planner placed in a
// slice of a concatenation's memory has an offset and, along the
// channels, a batch stride larger than its own image; the Plan's layouts
// always set BStride.
type Layout = shaders.Layout

// Contiguous is the layout of a value of shape s on its own: from element
// 0, images one after another.
func Contiguous(s Shape) Layout { return Layout{BStride: s.Numel() / max(s[0], 1)} }

// Plain reports whether a value of shape s at layout l reads as
// contiguous from element 0: what every op reads and writes unless it is
// Strided for the input or output. A single image is plain at offset 0
// whatever its batch stride.
func Plain(l Layout, s Shape) bool { return l.Plain(s[0], s.Numel()/max(s[0], 1)) }

// Strided is implemented by ops whose launches can read an input, or
// write their output, at any Layout the Lowerer gives rather than
// contiguous from the buffer's start. The planner places a value in a
// slice of a concatenation's memory (Join) only where its producer
// writes, and all its other readers read, such layouts; for the other
// inputs and outputs of any op, Lowerer.Layout is always Plain.
type Strided interface {
	// StridedIn reports whether the op reads input i at any layout.
	StridedIn(i int) bool
	// StridedOut reports whether the op writes its output at any layout.
	StridedOut() bool
}

// stridedIn reports whether op reads input i at any layout.
func stridedIn(op Op, i int) bool {
	s, ok := op.(Strided)
	return ok && s.StridedIn(i)
}

// stridedOut reports whether op writes its output at any layout.
func stridedOut(op Op) bool {
	s, ok := op.(Strided)
	return ok && s.StridedOut()
}

// Join is implemented by ops whose output is their inputs side by side
// (Concat). The planner may place an input in the output's memory, where
// its producer writes it directly; the op then moves nothing for it
// (Lowerer.InPlace).
type Join interface {
	Op
	// Part returns where input i of the inputs of shapes in lies when the
	// output lies at layout out, or false if it cannot lie in the output's
	// memory at a Layout.
	Part(in []Shape, i int, out Layout) (Layout, bool)
}

// Lowerer is what an op's GPU lowering sees of the GPU executor: the
// device's capabilities and a way to record launches whose bindings are
// named after the kernel's WGSL variables. Each Lower call describes one
// node; the executor plans buffers, uploads parameters (once per model and
// device) and records the dispatches afterwards.
type Lowerer interface {
	// Caps are the device's capabilities.
	Caps() gpu.Caps
	// Launch records one kernel launch.
	Launch(l shaders.Launch, binds map[string]Res)
	// Conv records a convolution through the kernel registry (the
	// executor chooses the kernel): input in, weights w
	// [Cout][Cin/Groups][KH][KW], scale and bias per output channel, and
	// res the residual input when g.Residual; the output at layout g.Out;
	// pre the input stage when g.Pre (Cin scales, then Cin shifts).
	Conv(g shaders.ConvGeom, in Res, w, scale, bias, pre []float32, res Res)
	// Layout is where the node's input or output r (In(i), Out()) lies in
	// the buffer bound for it: Plain unless the planner placed the value in
	// a concatenation's memory, which it does only where the op is Strided
	// for it.
	Layout(r Res) Layout
	// InPlace reports whether the node's input i already lies in its
	// output's memory (Join): its producer wrote it there.
	InPlace(i int) bool
}

// ResKind says what a Res names.
type ResKind int

// The resources an op's launches bind.
const (
	ResIn    ResKind = iota // the node's input Index
	ResOut                  // the node's output
	ResParam                // a parameter array, uploaded once per model and device
)

// Res is a buffer a launch binds: a node input, its output or a parameter
// array.
type Res struct {
	Kind  ResKind
	Index int       // ResIn: which input
	Name  string    // ResParam: the parameter's name, for labels
	Vals  []float32 // ResParam: the values; nil for N copies of Fill
	N     int       // ResParam with nil Vals: the length
	Fill  float32   // ResParam with nil Vals: the value
}

// In is the node's input i.
func In(i int) Res { return Res{Kind: ResIn, Index: i} }

// Out is the node's output.
func Out() Res { return Res{Kind: ResOut} }

// Param is a parameter array called name.
func Param(name string, vals []float32) Res { return Res{Kind: ResParam, Name: name, Vals: vals} }

// ParamOr is Param, or n copies of fill when vals is nil (an absent scale
// or bias).
func ParamOr(name string, vals []float32, n int, fill float32) Res {
	if vals != nil {
		return Param(name, vals)
	}
	return Res{Kind: ResParam, Name: name, N: n, Fill: fill}
}

// Data returns the values the parameter holds.
func (r Res) Data() []float32 {
	if r.Vals != nil || r.Kind != ResParam {
		return r.Vals
	}
	out := make([]float32, r.N)
	for i := range out {
		out[i] = r.Fill
	}
	return out
}

// srcDst records k, which reads the node's input as src and writes its
// output as dst, unless err (from building k) is set.
func srcDst(l Lowerer, k shaders.Launch, err error) error {
	if err != nil {
		return err
	}
	l.Launch(k, map[string]Res{"src": In(0), "dst": Out()})
	return nil
}

// Rand draws an op's random parameters and inputs (Random).
type Rand struct{ r *rand.Rand }

// NewRand returns a generator seeded with seed.
func NewRand(seed uint64) *Rand { return &Rand{rand.New(rand.NewPCG(seed, 0x72616e646f6d))} }

// Uniform returns n values uniform in [lo, hi).
func (r *Rand) Uniform(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*r.r.Float64())
	}
	return v
}

// Name formats an op applied to an input shape the way the op checker and
// profiles print it: conv2d(n=1,c=64,h=56,w=56,o=64,k=3x3,s=1,p=1,relu).
func Name(op Op, in Shape) string {
	d := op.Describe()
	var s string
	if len(in) == 4 {
		d = strings.Replace(d, fmt.Sprintf("c=%d,", in[1]), "", 1)
		s = fmt.Sprintf("%s(n=%d,c=%d,h=%d,w=%d", op.Kind(), in[0], in[1], in[2], in[3])
	} else {
		s = fmt.Sprintf("%s(x=%v", op.Kind(), in)
	}
	if d != "" {
		s += "," + d
	}
	return s + ")"
}
