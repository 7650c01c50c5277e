package perf

import (
	"slices"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		var out []time.Duration
		for _, v := range vs {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	cases := []struct {
		in   []time.Duration
		want Stats
	}{
		{nil, Stats{}},
		{ms(7), Stats{N: 1, Median: 7e6, P10: 7e6, P90: 7e6, Min: 7e6, Mean: 7e6}},
		{ms(30, 10, 20), Stats{N: 3, Median: 20e6, P10: 10e6, P90: 30e6, Min: 10e6, Mean: 20e6}},
		{ms(4, 1, 3, 2), Stats{N: 4, Median: 2e6, P10: 1e6, P90: 4e6, Min: 1e6, Mean: 2500e3}},
		{ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), Stats{N: 10, Median: 5e6, P10: 1e6, P90: 9e6, Min: 1e6, Mean: 5500e3}},
		{ms(11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1), Stats{N: 11, Median: 6e6, P10: 2e6, P90: 10e6, Min: 1e6, Mean: 6e6}},
	}
	for _, c := range cases {
		in := slices.Clone(c.in)
		if got := Summarize(c.in); got != c.want {
			t.Errorf("Summarize(%v) = %+v, want %+v", in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("Summarize reordered its argument: %v", c.in)
		}
	}
}
