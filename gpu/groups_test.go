package gpu

import "testing"

func TestSplit1D(t *testing.T) {
	cases := []struct {
		n, wg, max uint32
		want       Groups
	}{
		{0, 64, 65535, Groups{0, 1, 1}},
		{1, 64, 65535, Groups{1, 1, 1}},
		{64, 64, 65535, Groups{1, 1, 1}},
		{65, 64, 65535, Groups{2, 1, 1}},
		{65535 * 64, 64, 65535, Groups{65535, 1, 1}},
		{65536 * 64, 64, 65535, Groups{32768, 2, 1}},
		{10, 1, 4, Groups{4, 3, 1}},
		{17, 1, 4, Groups{4, 4, 2}},
	}
	for _, c := range cases {
		got, err := Split1D(c.n, c.wg, c.max)
		if err != nil {
			t.Fatalf("Split1D(%d,%d,%d): %v", c.n, c.wg, c.max, err)
		}
		if got != c.want {
			t.Errorf("Split1D(%d,%d,%d) = %v, want %v", c.n, c.wg, c.max, got, c.want)
		}
		if got.Count()*uint64(c.wg) < uint64(c.n) {
			t.Errorf("Split1D(%d,%d,%d) = %v covers too little", c.n, c.wg, c.max, got)
		}
		if err := got.Check(c.max); err != nil {
			t.Error(err)
		}
	}
	if _, err := Split1D(65, 1, 4); err == nil {
		t.Error("65 groups with limit 4 should not fit in 4^3")
	}
}
