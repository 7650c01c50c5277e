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

// SoftmaxParams mirrors `struct Params` in softmax.wgsl and
// softmax_grad.wgsl.
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
