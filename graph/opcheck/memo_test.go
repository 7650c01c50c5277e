package opcheck

import (
	"slices"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
)

// The memoised reference is the reference: the same values for the same
// case and seed, other values for another seed, computed once per key.
func TestReferenceMemo(t *testing.T) {
	c := Case{Op: graph.Conv(5, 7, 3, 2, 1), In: graph.Shape{2, 5, 9, 9}}
	out := func(seed uint64) []float32 {
		g, in, err := graph.Random(c.Op.Kind(), c.Op, c.In, seed)
		if err != nil {
			t.Fatal(err)
		}
		direct, _, err := runOn(ref.Executor{}, g, in)
		if err != nil {
			t.Fatal(err)
		}
		memo, err := reference(c, seed, g, in)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(direct, memo) {
			t.Fatalf("seed %d: memoised reference differs from a fresh one", seed)
		}
		again, _ := reference(c, seed, g, in)
		if &again[0] != &memo[0] {
			t.Errorf("seed %d: reference computed again instead of memoised", seed)
		}
		return memo
	}
	if slices.Equal(out(1), out(2)) {
		t.Error("seeds 1 and 2 gave the same reference output")
	}
}
