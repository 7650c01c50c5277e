package shaders

import (
	"fmt"
	"unsafe"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// CopyParams mirrors `struct Params` in copy.wgsl.
type CopyParams struct {
	N    uint32 // floats to copy
	Full uint32 // whole vec4s among them: N / 4
	_    [2]uint32
}

var (
	_ [unsafe.Sizeof(CopyParams{}) - 16]byte
	_ [16 - unsafe.Sizeof(CopyParams{})]byte
)

// copyThreads is the workgroup size of copy.wgsl.
const copyThreads = 256

// CopyBytes is the size both of a copy's buffers must have at least for n
// floats: n rounded up to a whole vec4, 16-byte aligned.
func CopyBytes(n int) uint64 { return 16 * uint64((n+3)/4) }

// Copy returns the launch of a copy of n float32 values, one vec4 per
// invocation: the kernel that measures memory bandwidth. Bindings: src,
// dst, each of at least CopyBytes(n) bytes; only dst's first n floats are
// written.
func Copy(n int, maxGroups uint32) (Launch, error) {
	if n < 0 || int64(n) > 1<<32-4 {
		return Launch{}, fmt.Errorf("shaders: copy of %d floats out of range", n)
	}
	p := CopyParams{N: uint32(n), Full: uint32(n / 4)}
	g, err := gpu.Split1D(uint32((n+3)/4), copyThreads, maxGroups)
	if err != nil {
		return Launch{}, err
	}
	return Launch{
		Key:    gpu.Key{Kernel: "copy"},
		Source: func() string { return Source("copy.wgsl") },
		Params: &p,
		Groups: g,
		Binds:  []string{"src", "dst"},
	}, nil
}
