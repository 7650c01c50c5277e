package shaders

import (
	"fmt"
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// LinearParams mirrors `struct Params` in linear.wgsl.
type LinearParams struct {
	Batch, In, Out, Total uint32
}

var (
	_ [unsafe.Sizeof(LinearParams{}) - 16]byte
	_ [16 - unsafe.Sizeof(LinearParams{})]byte
)

// Linear returns the launch of a fully connected layer of in inputs and
// out outputs over batch rows. Bindings: src, weight, bias, dst.
func Linear(batch, in, out int, maxGroups uint32) (Launch, error) {
	if batch <= 0 || in <= 0 || out <= 0 {
		return Launch{}, fmt.Errorf("shaders: linear %d×%d over %d rows", out, in, batch)
	}
	p := LinearParams{Batch: u32(batch), In: u32(in), Out: u32(out), Total: u32(batch * out)}
	g, err := fold1D(int(p.Total), 1, maxGroups) // one workgroup per output
	if err != nil {
		return Launch{}, err
	}
	return Launch{
		Key:    gpu.Key{Kernel: "linear"},
		Source: func() string { return Source("linear.wgsl") },
		Params: &p,
		Groups: g,
		Binds:  []string{"src", "weight", "bias", "dst"},
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

// Softmax returns the launch of a softmax over each of rows rows of n
// values. Bindings: src, dst.
func Softmax(rows, n int, maxGroups uint32) (Launch, error) {
	p := SoftmaxParams{Rows: u32(rows), Len: u32(n)}
	g := gpu.Groups{p.Rows, 1, 1}
	if err := g.Check(maxGroups); err != nil {
		return Launch{}, err
	}
	return Launch{
		Key:    gpu.Key{Kernel: "softmax"},
		Source: func() string { return Source("softmax.wgsl") },
		Params: &p,
		Groups: g,
		Binds:  []string{"src", "dst"},
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

// Elementwise returns the launch of an element-wise op over total values
// laid out [·][c][inner] (the per-channel affine needs c and inner).
// Bindings: a, b, dst.
func Elementwise(mode uint32, relu bool, total, c, inner int, maxGroups uint32) (Launch, error) {
	p := ElementwiseParams{Total: u32(total), C: u32(c), HW: u32(inner)}
	g, err := fold1D(total, 64, maxGroups)
	if err != nil {
		return Launch{}, err
	}
	return Launch{
		Key:    gpu.Key{Kernel: "elementwise", Consts: [8]uint32{mode, b2u(relu)}},
		Source: func() string { return Source("elementwise.wgsl", Const{"MODE", mode}, Const{"RELU", relu}) },
		Params: &p,
		Groups: g,
		Binds:  []string{"a", "b", "dst"},
	}, nil
}

// ConcatParams mirrors `struct Params` in concat.wgsl.
type ConcatParams struct {
	Total, Inner, SrcAxis, DstAxis uint32
	Offset                         uint32
	_                              [3]uint32
}

var (
	_ [unsafe.Sizeof(ConcatParams{}) - 32]byte
	_ [32 - unsafe.Sizeof(ConcatParams{})]byte
)

// Concat returns the launch that copies one input of a concatenation,
// outer blocks of srcAxis × inner values, into its slice of the output
// (outer blocks of dstAxis × inner values, starting at offset along the
// axis). Bindings: src, dst.
func Concat(outer, inner, srcAxis, dstAxis, offset int, maxGroups uint32) (Launch, error) {
	if outer <= 0 || inner <= 0 || srcAxis <= 0 || offset < 0 || offset+srcAxis > dstAxis {
		return Launch{}, fmt.Errorf("shaders: concat of %d×%d×%d at %d into %d", outer, srcAxis, inner, offset, dstAxis)
	}
	p := ConcatParams{Total: u32(outer * srcAxis * inner), Inner: u32(inner), SrcAxis: u32(srcAxis), DstAxis: u32(dstAxis), Offset: u32(offset)}
	g, err := fold1D(int(p.Total), 64, maxGroups)
	if err != nil {
		return Launch{}, err
	}
	return Launch{
		Key:    gpu.Key{Kernel: "concat"},
		Source: func() string { return Source("concat.wgsl") },
		Params: &p,
		Groups: g,
		Binds:  []string{"src", "dst"},
	}, nil
}
