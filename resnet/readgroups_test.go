package resnet_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/resnet"
)

// ReadGroups hands use each group's values and errors in order, never
// reads more than ahead groups beyond the one in use, and stops at use's
// first error.
func TestReadGroups(t *testing.T) {
	groups := [][]int{{0, 1, 2}, {}, {3, 4}, {5, 6, 7}, {8}}
	const ahead = 1
	var read, used atomic.Int64
	bad := errors.New("bad item")
	err := resnet.ReadGroups(groups, ahead, func(i int) (int, error) {
		read.Add(1)
		if i == 4 {
			return 0, bad
		}
		return 10 * i, nil
	}, func(g int, xs []int, errs []error) error {
		// Reads beyond this group: at most those of the next ahead groups.
		limit := int64(0)
		for _, items := range groups[:min(g+1+ahead, len(groups))] {
			limit += int64(len(items))
		}
		if n := read.Load(); n > limit {
			return fmt.Errorf("group %d: %d items read, want at most %d", g, n, limit)
		}
		for k, i := range groups[g] {
			if wantErr := i == 4; (errs[k] != nil) != wantErr || !wantErr && xs[k] != 10*i {
				return fmt.Errorf("group %d item %d: %v, %v", g, i, xs[k], errs[k])
			}
		}
		used.Add(1)
		return nil
	})
	if err != nil || used.Load() != int64(len(groups)) {
		t.Fatalf("%v after %d of %d groups", err, used.Load(), len(groups))
	}
	stop := errors.New("stop")
	calls := 0
	err = resnet.ReadGroups(groups, ahead, func(i int) (int, error) { return i, nil }, func(int, []int, []error) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("use's error gave %v after %d calls, want stop after 1", err, calls)
	}
}
