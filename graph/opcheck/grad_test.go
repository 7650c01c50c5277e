package opcheck_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
)

// Every op's backward pass agrees with central finite differences of its
// forward pass in float64.
func TestGradFiniteDiff(t *testing.T) {
	worst := map[string]float64{}
	for _, c := range opcheck.GradCases() {
		for seed := uint64(1); seed <= 2; seed++ {
			e, err := opcheck.CheckFD(c, seed)
			if err != nil {
				t.Errorf("%s seed %d: %v", c, seed, err)
				continue
			}
			if e > opcheck.GradFDThreshold {
				t.Errorf("%s seed %d: backward vs finite differences: max rel err %.3e > %.0e", c, seed, e, opcheck.GradFDThreshold)
			}
			worst[c.Op.Kind()] = max(worst[c.Op.Kind()], e)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(worst)) {
		t.Logf("%-16s max rel err vs finite differences %.2e", k, worst[k])
	}
}
