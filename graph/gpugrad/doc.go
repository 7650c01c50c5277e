// Package gpugrad is the GPU backward executor: it runs a training
// graph's backward pass (every node graph.GPUDifferentiable) on a device,
// every node's backward launches (shaders/*_grad.wgsl) recorded in
// reverse graph order into one submission, from the forward values a
// forward pass computed. Its results are checked against the float64 CPU
// reference (graph/ref's Trainer) by graph/opcheck's gradient checks.
package gpugrad
