// Package ref is the CPU reference executor: every op as plain Go loops
// with float64 accumulation and the formula in its doc comment, like
// slowFDCT beside the fast DCT in image/jpeg. It is the trusted side of
// every comparison, not a fast path; work is split over output channels
// only to keep CI's time in bounds. Its Trainer runs training graphs
// forward and backward in float64 (graph.Differentiable).
package ref
