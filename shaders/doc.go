// Package shaders holds the WGSL kernels, one file per family, embedded
// with go:embed, and beside each its host side: the parameter struct that
// mirrors the WGSL `struct Params` field for field, the compile-time
// constants, the workgroup size and the dispatch geometry. A Launch is all
// an executor needs to record one kernel launch.
package shaders
