// Package graph is the network as data: an op graph with NCHW tensor
// shapes, a small builder, the passes that fold batch-norm into convolutions
// and fuse residual additions and ReLUs into their epilogues, the memory
// planner that lets activations share buffers by liveness, and the Executor
// interface that the GPU (package graph/gpuexec) and the CPU reference
// (package graph/ref) both implement, so that one graph runs on either.
package graph
