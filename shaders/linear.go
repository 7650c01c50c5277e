package shaders

import (
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
)

// LinearParams mirrors `struct Params` in linear.wgsl.
type LinearParams struct {
	Batch, In, Out, Total uint32
}

var (
	_ [unsafe.Sizeof(LinearParams{}) - 16]byte
	_ [16 - unsafe.Sizeof(LinearParams{})]byte
)

// Linear returns the launch of a fully connected layer. Bindings: src,
// weight, bias, dst.
func Linear(op *graph.Linear, in graph.Shape, maxGroups uint32) (Launch, error) {
	if _, err := op.OutShape([]graph.Shape{in}); err != nil {
		return Launch{}, err
	}
	p := LinearParams{Batch: u32(in[0]), In: u32(op.In), Out: u32(op.Out), Total: u32(in[0] * op.Out)}
	g, err := fold1D(int(p.Total), 1, maxGroups) // one workgroup per output
	if err != nil {
		return Launch{}, err
	}
	return Launch{
		Key:    gpu.Key{Kernel: "linear"},
		Source: func() string { return Source("linear.wgsl") },
		Params: &p,
		Groups: g,
	}, nil
}

// SoftmaxParams mirrors `struct Params` in softmax.wgsl.
type SoftmaxParams struct {
	Rows, Len uint32
	_         [2]uint32
}

var (
	_ [unsafe.Sizeof(SoftmaxParams{}) - 16]byte
	_ [16 - unsafe.Sizeof(SoftmaxParams{})]byte
)

// Softmax returns the launch of a softmax over each batch item. Bindings:
// src, dst.
func Softmax(in graph.Shape, maxGroups uint32) (Launch, error) {
	p := SoftmaxParams{Rows: u32(in[0]), Len: u32(in[1] * in[2] * in[3])}
	g := gpu.Groups{p.Rows, 1, 1}
	if err := g.Check(maxGroups); err != nil {
		return Launch{}, err
	}
	return Launch{
		Key:    gpu.Key{Kernel: "softmax"},
		Source: func() string { return Source("softmax.wgsl") },
		Params: &p,
		Groups: g,
	}, nil
}

// ElementwiseParams mirrors `struct Params` in elementwise.wgsl.
type ElementwiseParams struct {
	Total, C, HW uint32
	_            uint32
}

var (
	_ [unsafe.Sizeof(ElementwiseParams{}) - 16]byte
	_ [16 - unsafe.Sizeof(ElementwiseParams{})]byte
)

// Element-wise modes of elementwise.wgsl.
const (
	ModeReLU   = 0 // dst = max(a, 0); b unused
	ModeAdd    = 1 // dst = a + b (ReLU optional)
	ModeAffine = 2 // dst = a·b[c] + b[C+c] (batch-norm); b = scales then shifts
)

// Elementwise returns the launch of an element-wise op over a tensor of
// shape s. Bindings: a, b, dst.
func Elementwise(mode uint32, relu bool, s graph.Shape, maxGroups uint32) (Launch, error) {
	p := ElementwiseParams{Total: u32(s.Numel()), C: u32(s[1]), HW: u32(s[2] * s[3])}
	g, err := fold1D(s.Numel(), 64, maxGroups)
	if err != nil {
		return Launch{}, err
	}
	return Launch{
		Key:    gpu.Key{Kernel: "elementwise", Consts: [8]uint32{mode, b2u(relu)}},
		Source: func() string { return Source("elementwise.wgsl", Const{"MODE", mode}, Const{"RELU", relu}) },
		Params: &p,
		Groups: g,
	}, nil
}
