package perf

import (
	"slices"
	"time"
)

// Stats summarises repeated timings of one thing.
type Stats struct {
	N                           int // number of timings
	Median, P10, P90, Min, Mean time.Duration
}

// Summarize returns the statistics of ds; ds is not modified. Percentiles
// use the nearest rank on the sorted timings: the p-th percentile is the
// ⌈p·N/100⌉-th smallest (the first for p = 0), so Median is the lower
// median for even N. The Stats of no timings are zero.
func Summarize(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Stats{
		N:      len(s),
		Median: rank(s, 50),
		P10:    rank(s, 10),
		P90:    rank(s, 90),
		Min:    s[0],
		Mean:   sum / time.Duration(len(s)),
	}
}

// rank is the p-th percentile of sorted s by the nearest-rank method.
func rank(s []time.Duration, p int) time.Duration {
	r := (p*len(s) + 99) / 100 // ⌈p·N/100⌉
	return s[max(r, 1)-1]
}
