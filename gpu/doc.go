// Package gpu is the project's only door to WebGPU: it opens an adapter and
// device, owns buffers, the compute-pipeline cache, dispatch recording,
// submission, read-back and GPU timestamps, and turns every WebGPU error
// (validation, shader compilation, out-of-memory, device loss) into a Go
// error that names the kernel involved.
//
// Everything above this package speaks in the project's own types; only this
// package imports the binding (github.com/rajveermalviya/go-webgpu/wgpu).
package gpu
