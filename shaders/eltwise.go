package shaders

import (
	"fmt"
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// The kernels that move tensors element by element between layouts: the
// element-wise ops (elementwise.wgsl) and the copy of an input into its
// slice of a concatenation (concat.wgsl).

// ElementwiseParams mirrors `struct Params` in elementwise.wgsl.
type ElementwiseParams struct {
	Total, C, HW       uint32
	AOff, ABStride     uint32
	BOff, BBStride     uint32
	DstOff, DstBStride uint32
	_                  [3]uint32
}

var (
	_ [unsafe.Sizeof(ElementwiseParams{}) - 48]byte
	_ [48 - unsafe.Sizeof(ElementwiseParams{})]byte
)

// Element-wise modes of elementwise.wgsl.
const (
	ModeReLU   = 0 // dst = max(a, 0); b unused
	ModeAdd    = 1 // dst = a + b (ReLU optional)
	ModeAffine = 2 // dst = a·b[c] + b[C+c] (batch-norm); b = scales then shifts
	ModeClip   = 3 // dst = min(max(a, b[0]), b[1]); b = the bounds
)

// EltwiseGeom is an element-wise op's tensors: N images of C channels of
// Inner values each, for the operands A and B and the output Dst at their
// layouts. B's layout matters in ModeAdd only: in ModeAffine b holds the
// per-channel parameters, in ModeClip the two bounds.
// An EltwiseGeom is a plain value, safe to share.
type EltwiseGeom struct {
	N, C, Inner int
	A, B, Dst   Layout
}

// Elementwise returns the launch of an element-wise op over the tensors
// g describes. Bindings: a, b, dst.
func Elementwise(mode uint32, relu bool, g EltwiseGeom, maxGroups uint32) (Launch, error) {
	img := g.C * g.Inner
	if g.N <= 0 || g.C <= 0 || g.Inner <= 0 || !fits(g.N, img) {
		return Launch{}, fmt.Errorf("shaders: element-wise op over %d×%d×%d values", g.N, g.C, g.Inner)
	}
	p := ElementwiseParams{Total: u32(g.N * img), C: u32(g.C), HW: u32(g.Inner)}
	var err [3]error
	p.AOff, p.ABStride, err[0] = g.A.at(g.N, img)
	p.DstOff, p.DstBStride, err[2] = g.Dst.at(g.N, img)
	if mode == ModeAdd {
		p.BOff, p.BBStride, err[1] = g.B.at(g.N, img)
	}
	for _, e := range err {
		if e != nil {
			return Launch{}, e
		}
	}
	grid, e := fold1D(int(p.Total), 64, maxGroups)
	if e != nil {
		return Launch{}, e
	}
	return Launch{
		Key:    gpu.Key{Kernel: "elementwise", Consts: [8]uint32{mode, b2u(relu)}},
		Source: func() string { return Source("elementwise.wgsl", Const{"MODE", mode}, Const{"RELU", relu}) },
		Params: &p,
		Groups: grid,
		Binds:  []string{"a", "b", "dst"},
	}, nil
}

// ConcatParams mirrors `struct Params` in concat.wgsl.
type ConcatParams struct {
	Total, Block      uint32
	SrcOff, SrcStride uint32
	DstOff, DstStride uint32
	_                 [2]uint32
}

var (
	_ [unsafe.Sizeof(ConcatParams{}) - 32]byte
	_ [32 - unsafe.Sizeof(ConcatParams{})]byte
)

// Concat returns the launch that copies one input of a concatenation
// into its slice of the output: blocks blocks of block contiguous
// elements, block o from element src.Off + o·src.BStride of src to
// dst.Off + o·dst.BStride of dst (a Layout whose "images" are the
// blocks; BStride 0 means block). Bindings: src, dst.
func Concat(blocks, block int, src, dst Layout, maxGroups uint32) (Launch, error) {
	if blocks <= 0 || block <= 0 || !fits(blocks, block) {
		return Launch{}, fmt.Errorf("shaders: concat of %d blocks of %d", blocks, block)
	}
	p := ConcatParams{Total: u32(blocks * block), Block: u32(block)}
	var err error
	if p.SrcOff, p.SrcStride, err = src.at(blocks, block); err != nil {
		return Launch{}, err
	}
	if p.DstOff, p.DstStride, err = dst.at(blocks, block); err != nil {
		return Launch{}, err
	}
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
