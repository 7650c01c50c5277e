package gpu

import "unsafe"

// Buffers hold little-endian data, and every platform the WebGPU binding
// builds for (amd64, arm64) is little-endian, so float32 slices are handed
// to the device as they lie in memory, without a conversion pass; Open
// refuses a big-endian host.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Bytes returns the memory of v as bytes (no copy), for uploads and
// read-backs of float32 data.
func Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}
