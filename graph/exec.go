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
	// Start begins the run that Run does and returns once the inputs are
	// copied, so that the caller may reuse them and prepare the next run
	// while this one executes (the GPU's submits it and returns; the CPU
	// reference computes it before returning). The Pending's Wait returns
	// what Run would.
	Start(inputs ...[]float32) (Pending, error)
	// Close releases the program's resources.
	Close()
}

// Pending is a run that Program.Start began.
type Pending interface {
	// Wait waits for the run to finish and returns one slice per graph
	// output, or the run's error.
	Wait() ([][]float32, error)
}

// Done is the Pending of a run that has finished with these outputs: what
// the Start of an executor that computes before returning returns.
type Done [][]float32

// Wait implements Pending.
func (d Done) Wait() ([][]float32, error) { return d, nil }
