package weights

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// dtype describes the element type of a serialized storage.
type dtype struct {
	name  string // the Tensor.DType it loads as
	size  int    // bytes per element
	isInt bool   // loads into Tensor.Int
}

// storageTypes maps the torch storage class names that torch.save writes to
// their element types.
var storageTypes = map[string]dtype{
	"FloatStorage":    {"float32", 4, false},
	"HalfStorage":     {"float16", 2, false},
	"BFloat16Storage": {"bfloat16", 2, false},
	"DoubleStorage":   {"float64", 8, false},
	"LongStorage":     {"int64", 8, true},
	"IntStorage":      {"int32", 4, true},
	"ShortStorage":    {"int16", 2, true},
	"CharStorage":     {"int8", 1, true},
	"ByteStorage":     {"uint8", 1, true},
	"BoolStorage":     {"bool", 1, true},
}

// isIntDType reports whether a Tensor.DType holds its values in Tensor.Int.
func isIntDType(name string) bool {
	switch name {
	case "int64", "int32", "int16", "int8", "uint8", "bool":
		return true
	}
	return false
}

// maxDims bounds the rank of a loaded tensor (PyTorch's own limit is 64).
const maxDims = 64

// storage is one serialized storage: numel elements of type dt, whose
// little-endian bytes are read only when a tensor needs them.
type storage struct {
	key   string
	dt    dtype
	numel int
	data  []byte // numel*dt.size bytes once read
	at    int64  // where its bytes start in a legacy file; 0 until the storage list says
}

// view is a range of elements of a storage: the whole storage, or a legacy
// storage view.
type view struct {
	root          *storage
	offset, numel int
}

// tensorRef is a tensor as the pickle describes it, before its values are
// read: a strided window into a storage view.
type tensorRef struct {
	src    *view
	offset int
	shape  []int
	stride []int
	numel  int
}

// newTensorRef validates the geometry of a tensor against its storage view:
// non-negative sizes, strides and offset, a representable element count,
// every element inside the view, and for an empty tensor an offset no
// further than the view's end. (PyTorch allows any offset for an empty
// tensor, but slicing never makes one past the end.)
func newTensorRef(src *view, offset int, shape, stride []int) (*tensorRef, error) {
	if len(shape) != len(stride) {
		return nil, fmt.Errorf("tensor has %d sizes but %d strides", len(shape), len(stride))
	}
	if len(shape) > maxDims {
		return nil, fmt.Errorf("tensor has %d dimensions", len(shape))
	}
	if offset < 0 {
		return nil, fmt.Errorf("negative storage offset %d", offset)
	}
	stride = append([]int(nil), stride...)
	numel, last := 1, offset
	for d, n := range shape {
		if n < 0 || stride[d] < 0 {
			return nil, fmt.Errorf("tensor has size %v and stride %v", shape, stride)
		}
		if n == 1 {
			stride[d] = 0 // any stride is valid for a size-1 dimension
		}
		var ok bool
		if numel, ok = mulInt(numel, n); !ok {
			return nil, fmt.Errorf("tensor size %v overflows", shape)
		}
		if n > 0 {
			step, ok := mulInt(n-1, stride[d])
			if !ok || last > math.MaxInt-step {
				return nil, fmt.Errorf("tensor stride %v overflows", stride)
			}
			last += step
		}
	}
	if numel > 0 && last >= src.numel {
		return nil, fmt.Errorf("tensor of size %v, stride %v, offset %d reads element %d of a storage of %d",
			shape, stride, offset, last, src.numel)
	}
	if offset > src.numel {
		return nil, fmt.Errorf("empty tensor at offset %d of a storage of %d", offset, src.numel)
	}
	return &tensorRef{src: src, offset: offset, shape: append([]int(nil), shape...), stride: stride, numel: numel}, nil
}

// mulInt returns a*b for non-negative a and b, and false if it overflows.
func mulInt(a, b int) (int, bool) {
	if a != 0 && b > math.MaxInt/a {
		return 0, false
	}
	return a * b, true
}

// outBytes is the memory the loaded tensor takes.
func (t *tensorRef) outBytes() int {
	if t.src.root.dt.isInt {
		return 8 * t.numel
	}
	return 4 * t.numel
}

// errNotRead reports a storage whose bytes the file never supplied.
var errNotRead = errors.New("storage data missing")

// materialize reads the tensor's values out of its storage, which must have
// been read.
func (t *tensorRef) materialize() (*Tensor, error) {
	root := t.src.root
	if len(root.data) != root.numel*root.dt.size {
		return nil, fmt.Errorf("storage %s: %w", root.key, errNotRead)
	}
	out := &Tensor{Shape: t.shape, DType: root.dt.name}
	size, base := root.dt.size, t.src.offset+t.offset
	if root.dt.isInt {
		out.Int = make([]int64, t.numel)
	} else {
		out.Data = make([]float32, t.numel)
	}
	// decode converts n elements from storage element e on into the output
	// from element i on.
	decode := func(i, e, n int) {
		src := root.data[(base+e)*size : (base+e+n)*size]
		if root.dt.isInt {
			decodeInts(out.Int[i:i+n], src, root.dt.name)
		} else {
			decodeFloats(out.Data[i:i+n], src, root.dt.name)
		}
	}
	if t.contiguous() {
		decode(0, 0, t.numel)
	} else {
		t.walk(func(i, e int) { decode(i, e, 1) })
	}
	return out, nil
}

// walk calls fn(i, e) for each element in row-major order: i counts
// elements, e is the element's index in the storage relative to t.offset.
func (t *tensorRef) walk(fn func(i, e int)) {
	if t.numel == 0 {
		return
	}
	nd := len(t.shape)
	idx := make([]int, nd)
	e := 0
	for i := 0; i < t.numel; i++ {
		fn(i, e)
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < t.shape[d] {
				e += t.stride[d]
				break
			}
			e -= (t.shape[d] - 1) * t.stride[d]
			idx[d] = 0
		}
	}
}

// contiguous reports whether t's elements are consecutive in row-major order.
func (t *tensorRef) contiguous() bool {
	want := 1
	for d := len(t.shape) - 1; d >= 0; d-- {
		if t.shape[d] != 1 && t.stride[d] != want {
			return false
		}
		want *= t.shape[d]
	}
	return true
}

// decodeFloats converts the little-endian elements of a floating-point
// dtype in src to float32.
func decodeFloats(dst []float32, src []byte, name string) {
	switch name {
	case "float16":
		for i := range dst {
			dst[i] = halfToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case "bfloat16":
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	case "float64":
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	default:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	}
}

// decodeInts converts the little-endian elements of an integer or boolean
// dtype in src to int64.
func decodeInts(dst []int64, src []byte, name string) {
	for i := range dst {
		switch name {
		case "int32":
			dst[i] = int64(int32(binary.LittleEndian.Uint32(src[4*i:])))
		case "int16":
			dst[i] = int64(int16(binary.LittleEndian.Uint16(src[2*i:])))
		case "int8":
			dst[i] = int64(int8(src[i]))
		case "uint8":
			dst[i] = int64(src[i])
		case "bool":
			dst[i] = int64(min(src[i], 1))
		default:
			dst[i] = int64(binary.LittleEndian.Uint64(src[8*i:]))
		}
	}
}

// halfToFloat32 converts IEEE 754 binary16 bits to float32 exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN, payload kept
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	f := float32(mant) * 0x1p-24 // subnormal: exact, the result is a normal float32
	if sign != 0 {
		f = -f
	}
	return f
}

// swapBytes turns big-endian elements of the given size into little-endian
// ones in place.
func swapBytes(b []byte, size int) {
	for i := 0; i+size <= len(b); i += size {
		for j, k := i, i+size-1; j < k; j, k = j+1, k-1 {
			b[j], b[k] = b[k], b[j]
		}
	}
}
