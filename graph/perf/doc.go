// Package perf measures how fast the GPU runs a network's kernels and how
// that compares with what the device can do: Summarize condenses repeated
// timings, MeasureCeilings finds the device's attainable GFLOP/s (the best
// convolution kernel on a large GEMM) and GB/s (a vec4 copy), TimeKernels
// times every distinct layer of an optimised graph on its own, and Roofline
// plots the kernels against those two ceilings.
//
// The CLI's bench and kernels commands and the go test benchmarks use it.
// Times come from GPU timestamps when the device records them and from the
// wall clock around a submission otherwise.
package perf
