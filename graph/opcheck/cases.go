package opcheck

import (
	"sort"

	"github.com/resnet-gpu/resnet-gpu/graph"
)

// FromGraphs returns one case per distinct (op attributes, input shape) in
// the given (optimised) graphs, in first-seen order; views (Flatten),
// which compute nothing, are left out.
func FromGraphs(gs ...*graph.Graph) []Case {
	seen := map[string]bool{}
	var out []Case
	for _, g := range gs {
		for _, n := range g.Nodes {
			if v, ok := n.Op.(graph.View); ok && v.IsView() {
				continue
			}
			c := Case{Op: n.Op, In: n.Inputs[0].Shape}
			if k := c.String(); !seen[k] {
				seen[k] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// Awkward are shapes no ResNet layer has: channels that are not a multiple
// of 4 or of any tile, H = W = 1, odd sizes, stride 2 over odd inputs,
// batch 3, a 5×5 kernel, grouped convolutions (depthwise, dilated, 5×5,
// 7×7, 1×7), and the ops the fusion pass normally removes.
func Awkward() []Case {
	conv := func(cin, cout, k, s, p int, res, relu bool) *graph.Conv2D {
		c := graph.Conv(cin, cout, k, s, p)
		c.Residual, c.ReLU = res, relu
		return c
	}
	grouped := func(cin, cout, kh, kw, groups int, stride [2]int, pad [4]int, dil [2]int, relu bool) *graph.Conv2D {
		return &graph.Conv2D{Cin: cin, Cout: cout, KH: kh, KW: kw, Stride: stride, Pad: pad, Dilation: dil, Groups: groups, ReLU: relu}
	}
	residual := func(c *graph.Conv2D) *graph.Conv2D {
		c.Residual = true
		return c
	}
	pool := func(max bool, kh, kw, sy, sx int, pad [4]int, ceil, incl bool) graph.Pool {
		return graph.Pool{Max: max, KH: kh, KW: kw, Stride: [2]int{sy, sx}, Pad: pad, CeilMode: ceil, CountIncludePad: incl}
	}
	// pre gives c an input stage (a pre-activation batch-norm, with
	// relu): placeholders that Random fills.
	pre := func(c *graph.Conv2D, relu bool) *graph.Conv2D {
		c.PreScale, c.PreShift, c.PreReLU = make([]float32, c.Cin), make([]float32, c.Cin), relu
		return c
	}
	p1 := [4]int{1, 1, 1, 1}
	s1, s2, none := [2]int{1, 1}, [2]int{2, 2}, [4]int{}
	return []Case{
		{Op: conv(3, 5, 3, 1, 1, false, false), In: graph.Shape{3, 3, 13, 13}},
		{Op: conv(7, 9, 3, 2, 1, true, true), In: graph.Shape{1, 7, 27, 27}},
		{Op: conv(70, 33, 1, 1, 0, false, true), In: graph.Shape{2, 70, 1, 1}},
		{Op: conv(6, 10, 5, 1, 2, true, true), In: graph.Shape{2, 6, 11, 11}},
		{Op: conv(130, 66, 1, 2, 0, true, false), In: graph.Shape{3, 130, 15, 15}},
		{Op: conv(65, 67, 3, 1, 1, false, true), In: graph.Shape{1, 65, 13, 13}},
		{Op: conv(1, 1, 1, 1, 0, false, false), In: graph.Shape{1, 1, 1, 1}},
		{Op: conv(17, 129, 3, 2, 0, false, false), In: graph.Shape{3, 17, 9, 7}},
		{Op: conv(3, 64, 7, 2, 3, false, true), In: graph.Shape{1, 3, 27, 27}},
		{Op: conv(513, 31, 1, 1, 0, true, true), In: graph.Shape{1, 513, 3, 5}},
		{Op: grouped(128, 128, 3, 3, 32, [2]int{1, 1}, p1, [2]int{1, 1}, true), In: graph.Shape{2, 128, 7, 7}},            // ResNeXt: 32 groups of 4
		{Op: grouped(64, 64, 3, 3, 32, [2]int{2, 2}, p1, [2]int{1, 1}, false), In: graph.Shape{1, 64, 9, 9}},              // 32 groups of 2, stride 2
		{Op: grouped(8, 8, 3, 3, 8, [2]int{1, 1}, p1, [2]int{1, 1}, true), In: graph.Shape{1, 8, 10, 10}},                 // depthwise
		{Op: grouped(6, 9, 3, 3, 3, [2]int{1, 1}, p1, [2]int{1, 1}, false), In: graph.Shape{2, 6, 7, 5}},                  // groups not dividing any tile
		{Op: grouped(32, 32, 3, 3, 32, s1, p1, s1, true), In: graph.Shape{1, 32, 56, 56}},                                 // depthwise, 56²
		{Op: residual(grouped(32, 32, 3, 3, 32, s2, p1, s1, false)), In: graph.Shape{2, 32, 56, 56}},                      // depthwise, stride 2
		{Op: residual(grouped(15, 15, 3, 3, 3, s2, p1, s1, true)), In: graph.Shape{2, 15, 7, 7}},                          // 3 groups of 5, stride 2 on 7×7
		{Op: grouped(12, 20, 3, 3, 2, s1, p1, s1, true), In: graph.Shape{3, 12, 9, 11}},                                   // 6 in, 10 out a group, batch 3
		{Op: grouped(8, 24, 3, 3, 8, s1, none, s1, false), In: graph.Shape{1, 8, 6, 5}},                                   // a channel multiplier of 3, no padding
		{Op: residual(grouped(16, 32, 1, 1, 4, s1, none, s1, true)), In: graph.Shape{2, 16, 5, 5}},                        // 1×1 grouped
		{Op: grouped(256, 256, 3, 3, 64, s2, p1, s1, false), In: graph.Shape{2, 256, 9, 9}},                               // 64 groups of 4 (ResNeXt-101 64×4d), stride 2 on an odd size
		{Op: grouped(12, 12, 3, 3, 3, s1, p1, s1, true), In: graph.Shape{1, 12, 1, 1}},                                    // grouped on a 1×1 image
		{Op: residual(grouped(16, 16, 3, 3, 2, [2]int{3, 3}, p1, s1, false)), In: graph.Shape{2, 16, 10, 8}},              // grouped, stride 3
		{Op: grouped(5, 7, 3, 3, 1, [2]int{1, 1}, [4]int{2, 2, 2, 2}, [2]int{2, 2}, false), In: graph.Shape{1, 5, 9, 9}},  // dilation 2
		{Op: grouped(4, 6, 3, 3, 2, [2]int{1, 1}, [4]int{1, 2, 1, 2}, [2]int{1, 2}, true), In: graph.Shape{1, 4, 8, 8}},   // dilation 1×2
		{Op: grouped(5, 8, 3, 3, 1, [2]int{2, 2}, [4]int{0, 1, 1, 0}, [2]int{1, 1}, false), In: graph.Shape{2, 5, 9, 8}},  // asymmetric padding (ONNX)
		{Op: grouped(3, 5, 1, 3, 1, [2]int{2, 1}, [4]int{0, 1, 0, 1}, [2]int{1, 1}, true), In: graph.Shape{1, 3, 7, 6}},   // 1×3, stride 2×1
		{Op: residual(grouped(12, 12, 5, 5, 12, s2, [4]int{2, 2, 2, 2}, s1, false)), In: graph.Shape{2, 12, 13, 13}},      // 5×5 depthwise, stride 2
		{Op: grouped(16, 16, 7, 7, 4, s1, [4]int{3, 3, 3, 3}, s1, true), In: graph.Shape{1, 16, 9, 10}},                   // 7×7, 4 groups of 4
		{Op: grouped(16, 16, 3, 3, 4, s1, [4]int{2, 2, 2, 2}, [2]int{2, 2}, true), In: graph.Shape{2, 16, 12, 12}},        // grouped, dilation 2
		{Op: residual(grouped(8, 12, 1, 7, 4, s1, [4]int{0, 3, 0, 3}, s1, true)), In: graph.Shape{2, 8, 6, 11}},           // 1×7, 2 in and 3 out a group
		{Op: pre(conv(71, 33, 1, 1, 0, false, true), true), In: graph.Shape{1, 71, 7, 7}},                                 // DenseNet's conv1 at 7²: pack, unaligned
		{Op: pre(conv(13, 20, 1, 1, 0, false, false), true), In: graph.Shape{2, 13, 4, 4}},                                // pack, aligned, batch 2
		{Op: pre(conv(5, 7, 1, 1, 0, true, true), false), In: graph.Shape{2, 5, 3, 5}},                                    // no ReLU in the stage, residual
		{Op: pre(conv(6, 9, 3, 1, 1, false, true), true), In: graph.Shape{2, 6, 9, 9}},                                    // padding stays zero
		{Op: pre(grouped(5, 7, 3, 3, 1, s1, [4]int{2, 2, 2, 2}, [2]int{2, 2}, false), true), In: graph.Shape{2, 5, 9, 9}}, // general
		{Op: pre(grouped(12, 12, 3, 3, 3, s1, p1, s1, true), true), In: graph.Shape{1, 12, 5, 5}},                         // grouped
		{Op: pre(grouped(8, 8, 3, 3, 4, s2, p1, s1, false), true), In: graph.Shape{2, 8, 7, 7}},                           // grouped, batch 2, stride 2
		{Op: pre(conv(96, 40, 1, 1, 0, true, false), true), In: graph.Shape{2, 96, 14, 14}},                               // DenseNet's conv1 at 14², batch 2: partial column tiles
		{Op: graph.MaxPool(3, 2, 1), In: graph.Shape{3, 5, 13, 13}},
		{Op: graph.MaxPool(3, 2, 1), In: graph.Shape{1, 3, 27, 27}},
		{Op: graph.MaxPool(2, 2, 0), In: graph.Shape{2, 3, 7, 7}},
		{Op: graph.MaxPool(3, 1, 1), In: graph.Shape{1, 2, 1, 1}},
		{Op: pool(true, 3, 3, 2, 2, [4]int{}, true, false), In: graph.Shape{1, 3, 6, 6}}, // ceil mode adds a window
		{Op: pool(true, 3, 2, 2, 1, [4]int{1, 0, 1, 0}, false, false), In: graph.Shape{2, 3, 7, 6}},
		{Op: pool(false, 2, 2, 2, 2, [4]int{}, false, true), In: graph.Shape{2, 6, 7, 7}}, // DenseNet's transition
		{Op: pool(false, 3, 3, 1, 1, p1, false, true), In: graph.Shape{1, 3, 5, 5}},
		{Op: pool(false, 3, 3, 1, 1, p1, false, false), In: graph.Shape{1, 3, 5, 5}},
		{Op: pool(false, 3, 3, 2, 2, p1, true, true), In: graph.Shape{2, 3, 6, 6}}, // windows past the padded edge
		{Op: pool(false, 3, 3, 2, 2, p1, true, false), In: graph.Shape{2, 3, 6, 6}},
		{Op: graph.GlobalAvgPool{}, In: graph.Shape{3, 5, 13, 13}},
		{Op: graph.GlobalAvgPool{}, In: graph.Shape{2, 7, 1, 1}},
		{Op: &graph.Linear{In: 70, Out: 13}, In: graph.Shape{3, 70}},
		{Op: &graph.Linear{In: 1, Out: 1}, In: graph.Shape{1, 1}},
		{Op: &graph.Linear{In: 45, Out: 7}, In: graph.Shape{2, 45}},
		{Op: graph.Softmax{}, In: graph.Shape{3, 1000}},
		{Op: graph.Softmax{}, In: graph.Shape{1, 7}},
		{Op: graph.Softmax{}, In: graph.Shape{2, 3, 5}},
		{Op: graph.Concat{Axis: 1, N: 3}, In: graph.Shape{2, 5, 3, 3}},
		{Op: graph.Concat{Axis: 0, N: 2}, In: graph.Shape{1, 7}},
		{Op: graph.ReLU{}, In: graph.Shape{3, 5, 13, 13}},
		{Op: graph.Clip{Min: -0.25, Max: 0.5}, In: graph.Shape{2, 5, 7, 9}}, // inputs in [-1, 1): both bounds clamp
		{Op: graph.Clip{Min: 0, Max: 6}, In: graph.Shape{1, 3, 5, 5}},
		{Op: graph.Clip{Min: 0.125, Max: 0.125}, In: graph.Shape{2, 3}}, // an empty range: a constant
		{Op: graph.Add{ReLU: true}, In: graph.Shape{2, 7, 9, 11}},
		{Op: graph.Add{}, In: graph.Shape{1, 3, 1, 1}},
		{Op: &graph.BatchNorm{Eps: 1e-5}, In: graph.Shape{3, 5, 13, 13}},
	}
}

// Sliced returns the Awkward cases of batch 2 and more as Sliced cases:
// each op writes a slice of a concatenation, images a batch stride apart.
func Sliced() []Case {
	var out []Case
	for _, c := range Awkward() {
		if c.In[0] >= 2 {
			c.Sliced = true
			out = append(out, c)
		}
	}
	return out
}

// SlicedIn returns the Awkward cases of ops that read their first input
// at any layout (graph.Strided) as SlicedIn cases, at every batch: each
// op reads a slice of a concatenation, at an offset and, at batch 2 and
// more, images a batch stride apart.
func SlicedIn() []Case {
	var out []Case
	for _, c := range Awkward() {
		if s, ok := c.Op.(graph.Strided); ok && s.StridedIn(0) {
			c.SlicedIn = true
			out = append(out, c)
		}
	}
	return out
}

// Suite is what the op checker runs: every distinct layer of the given
// graphs (FromGraphs), the Awkward shapes, and those again writing
// (Sliced) and reading (SlicedIn) a slice of a concatenation, cheapest
// first (SortByCost).
func Suite(gs ...*graph.Graph) []Case {
	cs := append(append(append(FromGraphs(gs...), Awkward()...), Sliced()...), SlicedIn()...)
	SortByCost(cs)
	return cs
}

// SortByCost orders cases from cheapest to dearest (by FLOPs), stable.
func SortByCost(cs []Case) {
	costs := map[string]int64{}
	for _, c := range cs {
		costs[c.String()] = cost(c)
	}
	sort.SliceStable(cs, func(i, j int) bool { return costs[cs[i].String()] < costs[cs[j].String()] })
}

// cost is the case's FLOPs, or its input size where that is larger.
func cost(c Case) int64 {
	op, shapes := c.Op.Random(graph.NewRand(0), c.In)
	out, err := op.OutShape(shapes)
	if err != nil {
		return int64(c.In.Numel())
	}
	return max(op.FLOPs(shapes, out), int64(c.In.Numel()))
}
