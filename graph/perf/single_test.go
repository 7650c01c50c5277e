package perf

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet"
)

// Every node of ResNet-18, before and after graph.Optimize (batch-norm,
// ReLU and addition nodes, then fused convolutions with residual inputs,
// pools, the linear layer and softmax), stands alone as a graph with the
// same name, cost and non-zero parameters.
func TestSingle(t *testing.T) {
	a := resnet.Archs["resnet18"]
	g, err := resnet.Build(a, a.ShapeWeights(), resnet.BuildOptions{Batch: 2, Height: 32, Width: 32, Softmax: true})
	if err != nil {
		t.Fatal(err)
	}
	check := func(g *graph.Graph) {
		kinds := map[string]bool{}
		for i, n := range g.Nodes {
			one, in, err := single(n, uint64(i))
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			m := one.Nodes[0]
			if len(one.Nodes) != 1 || m.Name != n.Name || m.String() != n.String() || m.FLOPs() != n.FLOPs() || m.Bytes() != n.Bytes() {
				t.Errorf("%s (%s) stands alone as %s (%s), %d FLOPs and %d bytes; want %d and %d", n, n.Name, m, m.Name, m.FLOPs(), m.Bytes(), n.FLOPs(), n.Bytes())
			}
			if len(in) != len(n.Inputs) || len(in[0]) != n.Inputs[0].Shape.Numel() {
				t.Errorf("%s: %d inputs, want %d", n, len(in), len(n.Inputs))
			}
			if c, ok := m.Op.(*graph.Conv2D); ok && (c.Weight[0] == 0 || c.Scale == nil || c.Bias == nil) {
				t.Errorf("%s: parameters not drawn", n)
			}
			kinds[n.Op.Kind()] = true
		}
		t.Logf("%d nodes, kinds %v", len(g.Nodes), kinds)
	}
	check(g)
	graph.Optimize(g)
	check(g)
}
