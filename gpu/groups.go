package gpu

import "fmt"

// Groups is a dispatch's workgroup count in x, y and z.
type Groups [3]uint32

// Split1D returns the workgroup counts that cover n invocations with
// workgroups of size wg along one logical dimension, folding the count into
// y (and z) when it exceeds max, the adapter's maxComputeWorkgroupsPerDimension.
// A kernel recovers the linear workgroup index as
// id.x + id.y*count.x + id.z*count.x*count.y and must ignore indices past the
// real count (the fold can overshoot by less than one row).
func Split1D(n, wg, max uint32) (Groups, error) {
	if wg == 0 || max == 0 {
		return Groups{}, fmt.Errorf("gpu: Split1D: zero workgroup size or limit")
	}
	total := ceilDiv(n, wg)
	if total == 0 {
		return Groups{0, 1, 1}, nil
	}
	if total <= max {
		return Groups{total, 1, 1}, nil
	}
	y := ceilDiv(total, max)
	if y <= max {
		return Groups{ceilDiv(total, y), y, 1}, nil
	}
	x := max
	z := ceilDiv(y, max)
	if z > max {
		return Groups{}, fmt.Errorf("gpu: %d workgroups exceed %d^3", total, max)
	}
	return Groups{x, max, z}, nil
}

// Count returns the number of workgroups g launches.
func (g Groups) Count() uint64 { return uint64(g[0]) * uint64(g[1]) * uint64(g[2]) }

// Check returns an error if any dimension of g exceeds max.
func (g Groups) Check(max uint32) error {
	for i, v := range g {
		if v > max {
			return fmt.Errorf("gpu: workgroup count %d in dimension %d exceeds the adapter's limit %d", v, i, max)
		}
	}
	return nil
}

func ceilDiv(a, b uint32) uint32 { return uint32((uint64(a) + uint64(b) - 1) / uint64(b)) }
