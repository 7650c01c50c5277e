// Package graph is the network as data: an op graph with rank-N tensor
// shapes (images NCHW), a small builder, and the ops themselves, each one
// value implementing Op (shape rule, CPU reference, GPU lowering, random
// test parameters) in a file of its own (op_*.go). Passes fold batch-norm
// into convolutions, fuse residual additions and ReLUs into their
// epilogues and rewrite linear layers as convolutions for CPU adapters;
// the memory planner packs activations at aligned offsets into a few
// buffers by liveness, no dispatch reading the buffer it writes (views
// such as Flatten share their input's memory, and the inputs of a
// concatenation are written straight into their slices of its output);
// and the
// Executor interface is what the GPU (package graph/gpuexec) and the CPU
// reference (package graph/ref) both implement, so that one graph runs on
// either. The ops a training graph is made of also implement
// Differentiable, their float64 backward pass (grad*.go; ref.Trainer runs
// it), and GPUDifferentiable, their backward kernels (grad_gpu.go;
// package graph/gpugrad runs them).
package graph
