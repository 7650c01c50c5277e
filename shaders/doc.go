// Package shaders holds the WGSL kernels, one file per family, embedded
// with go:embed, and beside each its host side: the parameter struct that
// mirrors the WGSL `struct Params` field for field, the compile-time
// constants, the workgroup size and the dispatch geometry. Kernels take
// plain geometry (ConvGeom, PoolGeom, sizes) and the device's gpu.Caps,
// never graph types. A Launch is all an executor needs to record one
// kernel launch, its bindings named as in its WGSL. The convolution
// kernels are one registry, ConvKernels (kernels.go): the chooser, the
// tuner, the op checker's labels and the variant suite all read it, so a
// new kernel is one entry there plus its WGSL.
package shaders
