package graph

// Executor runs graphs on one backend. The GPU (graph/gpuexec) and the CPU
// reference (graph/ref) implement it; the op checker and the whole-network
// tests run the same graphs through both.
type Executor interface {
	// Name describes the backend, e.g. "gpu: llvmpipe (Vulkan)" or "cpu reference".
	Name() string
	// Compile prepares g (already optimised, or not) for repeated runs.
	Compile(g *Graph) (Program, error)
}

// Program is a compiled graph.
type Program interface {
	// Run feeds one float32 slice per graph input (NCHW, len = numel) and
	// returns one slice per graph output.
	Run(inputs ...[]float32) ([][]float32, error)
	// Close releases the program's resources.
	Close()
}
