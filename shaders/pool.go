package shaders

import (
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
)

// PoolParams mirrors `struct Params` in pool.wgsl.
type PoolParams struct {
	NC, H, W, OH       uint32
	OW, K, Stride, Pad uint32
	Total              uint32
	_                  [3]uint32
}

var (
	_ [unsafe.Sizeof(PoolParams{}) - 48]byte
	_ [48 - unsafe.Sizeof(PoolParams{})]byte
)

// MaxPool returns the launch of a max pool over an input of shape in.
// Bindings: src, dst.
func MaxPool(op graph.MaxPool, in graph.Shape, maxGroups uint32) (Launch, error) {
	out, err := op.OutShape([]graph.Shape{in})
	if err != nil {
		return Launch{}, err
	}
	p := PoolParams{NC: u32(in[0] * in[1]), H: u32(in[2]), W: u32(in[3]), OH: u32(out[2]), OW: u32(out[3]),
		K: u32(op.K), Stride: u32(op.Stride), Pad: u32(op.Pad), Total: u32(out.Numel())}
	return poolLaunch(p, 0, maxGroups)
}

// GlobalAvgPool returns the launch of a global average pool. Bindings: src, dst.
func GlobalAvgPool(in graph.Shape, maxGroups uint32) (Launch, error) {
	p := PoolParams{NC: u32(in[0] * in[1]), H: u32(in[2]), W: u32(in[3]), OH: 1, OW: 1, Total: u32(in[0] * in[1])}
	return poolLaunch(p, 1, maxGroups)
}

func poolLaunch(p PoolParams, mode uint32, maxGroups uint32) (Launch, error) {
	g, err := fold1D(int(p.Total), 64, maxGroups)
	if err != nil {
		return Launch{}, err
	}
	return Launch{
		Key:    gpu.Key{Kernel: "pool", Consts: [8]uint32{mode}},
		Source: func() string { return Source("pool.wgsl", Const{"MODE", mode}) },
		Params: &p,
		Groups: g,
	}, nil
}
