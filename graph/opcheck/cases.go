package opcheck

import (
	"sort"

	"github.com/resnet-gpu/resnet-gpu/graph"
)

// FromGraphs returns one case per distinct (op attributes, input shape) in
// the given (optimised) graphs, in first-seen order.
func FromGraphs(gs ...*graph.Graph) []Case {
	seen := map[string]bool{}
	var out []Case
	for _, g := range gs {
		for _, n := range g.Nodes {
			c := Case{Op: shapeOnly(n.Op), In: n.Inputs[0].Shape}
			if k := c.String(); !seen[k] {
				seen[k] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// shapeOnly copies op without its parameters.
func shapeOnly(op graph.Op) graph.Op {
	switch o := op.(type) {
	case *graph.Conv2D:
		c := *o
		c.Weight, c.Scale, c.Bias = nil, nil, nil
		return &c
	case *graph.Linear:
		l := *o
		l.Weight, l.Bias = nil, nil
		return &l
	case *graph.BatchNorm:
		return &graph.BatchNorm{Eps: o.Eps}
	}
	return op
}

// Awkward are shapes no ResNet layer has: channels that are not a multiple
// of 4 or of any tile, H = W = 1, odd sizes, stride 2 over odd inputs,
// batch 3, a 5×5 kernel, and the ops the fusion pass normally removes.
func Awkward() []Case {
	conv := func(cin, cout, k, s, p int, res, relu bool) *graph.Conv2D {
		return &graph.Conv2D{Cin: cin, Cout: cout, KH: k, KW: k, Stride: s, Pad: p, Residual: res, ReLU: relu}
	}
	return []Case{
		{conv(3, 5, 3, 1, 1, false, false), graph.Shape{3, 3, 13, 13}},
		{conv(7, 9, 3, 2, 1, true, true), graph.Shape{1, 7, 27, 27}},
		{conv(70, 33, 1, 1, 0, false, true), graph.Shape{2, 70, 1, 1}},
		{conv(6, 10, 5, 1, 2, true, true), graph.Shape{2, 6, 11, 11}},
		{conv(130, 66, 1, 2, 0, true, false), graph.Shape{3, 130, 15, 15}},
		{conv(65, 67, 3, 1, 1, false, true), graph.Shape{1, 65, 13, 13}},
		{conv(1, 1, 1, 1, 0, false, false), graph.Shape{1, 1, 1, 1}},
		{conv(17, 129, 3, 2, 0, false, false), graph.Shape{3, 17, 9, 7}},
		{conv(3, 64, 7, 2, 3, false, true), graph.Shape{1, 3, 27, 27}},
		{conv(513, 31, 1, 1, 0, true, true), graph.Shape{1, 513, 3, 5}},
		{graph.MaxPool{K: 3, Stride: 2, Pad: 1}, graph.Shape{3, 5, 13, 13}},
		{graph.MaxPool{K: 3, Stride: 2, Pad: 1}, graph.Shape{1, 3, 27, 27}},
		{graph.MaxPool{K: 2, Stride: 2, Pad: 0}, graph.Shape{2, 3, 7, 7}},
		{graph.MaxPool{K: 3, Stride: 1, Pad: 1}, graph.Shape{1, 2, 1, 1}},
		{graph.GlobalAvgPool{}, graph.Shape{3, 5, 13, 13}},
		{graph.GlobalAvgPool{}, graph.Shape{2, 7, 1, 1}},
		{&graph.Linear{In: 70, Out: 13}, graph.Shape{3, 70, 1, 1}},
		{&graph.Linear{In: 1, Out: 1}, graph.Shape{1, 1, 1, 1}},
		{&graph.Linear{In: 5 * 3 * 3, Out: 7}, graph.Shape{2, 5, 3, 3}},
		{graph.Softmax{}, graph.Shape{3, 1000, 1, 1}},
		{graph.Softmax{}, graph.Shape{1, 7, 1, 1}},
		{graph.ReLU{}, graph.Shape{3, 5, 13, 13}},
		{graph.Add{ReLU: true}, graph.Shape{2, 7, 9, 11}},
		{graph.Add{}, graph.Shape{1, 3, 1, 1}},
		{&graph.BatchNorm{Eps: 1e-5}, graph.Shape{3, 5, 13, 13}},
	}
}

// SortByCost orders cases from cheapest to dearest (by FLOPs), stable.
func SortByCost(cs []Case) {
	sort.SliceStable(cs, func(i, j int) bool { return cost(cs[i]) < cost(cs[j]) })
}

func cost(c Case) int64 {
	if conv, ok := c.Op.(*graph.Conv2D); ok {
		o := conv.Out(c.In)
		return 2 * int64(o.Numel()) * int64(conv.Cin*conv.KH*conv.KW)
	}
	return int64(c.In.Numel())
}
