// Package gpugrad is the GPU backward executor: it runs a training
// graph's backward pass (every node graph.GPUDifferentiable) on a device,
// every node's backward launches (shaders/*_grad.wgsl) recorded in
// reverse graph order into one submission, from the forward values a
// forward pass computed or, in Step, after the forward launches in the
// same submission. A forward value is kept only while the forward or a
// node's backward (graph.GradNeeds) still reads it, a gradient only from
// its first writer to its last reader, and the memory of dead ones is
// reused; the caller says which value gradients come back (Options). Its
// results are checked against the float64 CPU reference (graph/ref's
// Trainer) by graph/opcheck's gradient checks.
package gpugrad
