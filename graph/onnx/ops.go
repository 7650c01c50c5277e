package onnx

import (
	"math"

	"github.com/resnet-gpu/resnet-gpu/graph"
)

// The operators that become graph ops. Each checks its inputs and
// attributes against what the graph op computes and refuses the rest.

func relu(n *node) error {
	if n.inputs(1, 1) {
		n.apply(graph.ReLU{}, n.graphIn(0))
	}
	return n.err
}

// clip is a ReLU when its range is [0, ∞), which the fusion pass can
// fold into a convolution, else a graph.Clip. A bound left out is the
// float range's end, as the operator defines it, and so is an infinite
// one: the kernel then meets only finite numbers.
func clip(n *node) error {
	if !n.inputs(1, 3) {
		return n.err
	}
	x := n.graphIn(0)
	lo, hi := clipBound(n, 1, "min"), clipBound(n, 2, "max")
	switch {
	case n.err != nil:
		return n.err
	case math.IsNaN(lo) || math.IsNaN(hi) || lo > hi:
		return n.errorf("Clip to [%g, %g] is not supported (want min <= max)", lo, hi)
	case lo == 0 && hi >= math.MaxFloat32:
		n.apply(graph.ReLU{}, x)
	default:
		n.apply(graph.Clip{Min: float32(lo), Max: float32(hi)}, x)
	}
	return n.err
}

// clipBound returns Clip's optional constant input i (what: "min" or
// "max"), within the float32 range; left out, the range's end.
func clipBound(n *node, i int, what string) float64 {
	end := math.MaxFloat32
	if what == "min" {
		end = -end
	}
	c := n.constIn(i, true)
	if c == nil {
		return end
	}
	v, err := c.scalar(what)
	if err != nil {
		n.errorf("%v", err)
		return 0
	}
	return min(max(v, -math.MaxFloat32), math.MaxFloat32) // NaN stays NaN
}

func globalAvgPool(n *node) error {
	if n.inputs(1, 1) {
		n.apply(graph.GlobalAvgPool{}, n.graphIn(0))
	}
	return n.err
}

func identity(n *node) error {
	if n.inputs(1, 1) {
		n.set(n.in(0))
	}
	return n.err
}

// dropout is the identity at inference; its mask output is refused if
// read.
func dropout(n *node) error {
	if !n.inputs(1, 3) {
		return n.err
	}
	n.float("ratio", 0.5) // opset < 12: an attribute; any value
	if t := n.constIn(2, true); t != nil {
		if v, _ := t.scalar("training_mode"); v != 0 {
			return n.errorf("training_mode is true; only inference is supported")
		}
	} else if n.in(2) != nil {
		return n.errorf("training_mode is not a constant")
	}
	n.set(n.in(0))
	return n.err
}

// softmax is over the last axis. The softmax that computes the model's
// output is left for Model.Graph to add after the logits.
func softmax(n *node) error {
	if !n.inputs(1, 1) {
		return n.err
	}
	x := n.graphIn(0)
	if x == nil {
		return n.err
	}
	def := int64(-1)
	if n.opset() < 13 {
		def = 1 // and softmax over the flattened axes from there: the same when it is the last
	}
	if a := n.axis("axis", n.int("axis", def), len(x.Shape)); n.err == nil && (a != len(x.Shape)-1 || a == 0) {
		return n.errorf("softmax over axis %d of %v: only the last axis (after the batch) is supported", a, x.Shape)
	}
	if n.NodeProto == n.b.final {
		n.set(&val{v: x})
		return n.err
	}
	n.apply(graph.Softmax{}, x)
	return n.err
}

// sum of graph values of one shape: a chain of additions.
func sum(n *node) error {
	if !n.inputs(1, -1) {
		return n.err
	}
	acc := n.graphIn(0)
	for i := 1; i < len(n.Input) && n.err == nil; i++ {
		acc = n.b.b.Apply(n.name()+"."+n.Input[i], graph.Add{}, acc, n.graphIn(i))
		if acc.Producer == nil {
			_, err := n.b.b.Graph()
			return n.errorf("%v", err)
		}
	}
	n.set(&val{v: acc})
	return n.err
}

func batchNorm(n *node) error {
	if !n.inputs(5, 5) {
		return n.err
	}
	x := n.graphIn(0)
	if x == nil || len(x.Shape) < 2 {
		return n.errorf("input has shape %v, want channels on axis 1", shapeOf(x))
	}
	c := x.Shape[1]
	bn := &graph.BatchNorm{Gamma: n.floats(1, c, "scale"), Beta: n.floats(2, c, "B"),
		Mean: n.floats(3, c, "input_mean"), Var: n.floats(4, c, "input_var"), Eps: n.float("epsilon", 1e-5)}
	n.float("momentum", 0.9) // training only
	if n.int("training_mode", 0) != 0 {
		return n.errorf("training_mode is set; only inference is supported")
	}
	n.apply(bn, x)
	return n.err
}

// shapeOf is v's shape, nil for nil.
func shapeOf(v *graph.Value) graph.Shape {
	if v == nil {
		return nil
	}
	return v.Shape
}

// padded returns input i, a graph value or a zero Pad of one, and the
// padding.
func (n *node) padded(i int) (*graph.Value, [4]int) {
	if v := n.in(i); v != nil && v.pad != nil {
		return v.pad.src, v.pad.pads
	}
	return n.graphIn(i), [4]int{}
}

// window reads the attributes Conv and the pools share: kernel size k
// (from kernel_shape, else the weights' kw), strides, dilations (if dil)
// and padding, auto_pad resolved for an input of h×w (padding included).
func (n *node) window(h, w int, kw []int, dil bool) (k, s, d []int, p [4]int) {
	k = n.sizes("kernel_shape", 2, 1, kw...)
	if kw != nil && (k[0] != kw[0] || k[1] != kw[1]) {
		n.errorf("kernel_shape %v differs from the weights' %v", k, kw)
	}
	s = n.sizes("strides", 2, 1, 1, 1)
	d = []int{1, 1}
	if dil {
		d = n.sizes("dilations", 2, 1, 1, 1)
	}
	auto := n.str("auto_pad", "NOTSET")
	pads := n.sizes("pads", 4, 0, 0, 0, 0, 0)
	switch auto {
	case "NOTSET":
		copy(p[:], pads)
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		for i, in := range []int{h, w} {
			out := (in + s[i] - 1) / s[i]
			total := max((out-1)*s[i]+(k[i]-1)*d[i]+1-in, 0)
			lo := total / 2
			if auto == "SAME_LOWER" {
				lo = total - total/2
			}
			p[i], p[i+2] = lo, total-lo
		}
	default:
		n.errorf("auto_pad %q is not supported", auto)
	}
	if auto != "NOTSET" && n.ints("pads", nil) != nil {
		n.errorf("both auto_pad %s and pads given", auto)
	}
	return k, s, d, p
}

// image checks that x is an NCHW value.
func (n *node) image(x *graph.Value) bool {
	if n.err == nil && (x == nil || len(x.Shape) != 4) {
		n.errorf("input has shape %v, want NCHW", shapeOf(x))
	}
	return n.err == nil
}

func conv(n *node) error {
	if !n.inputs(2, 3) {
		return n.err
	}
	x, pre := n.padded(0)
	wt := n.constIn(1, false)
	if !n.image(x) || wt == nil {
		return n.err
	}
	if len(wt.Dims) != 4 || !wt.Float {
		return n.errorf("weights have shape %v, want 4 float dimensions (only 2-D convolutions are supported)", wt.Dims)
	}
	cout, cg, kh, kw := wt.Dims[0], wt.Dims[1], wt.Dims[2], wt.Dims[3]
	groups := n.int("group", 1)
	if groups < 1 || groups > maxDim || int64(x.Shape[1]) != int64(cg)*groups || cout%int(groups) != 0 {
		return n.errorf("input of %d channels, weights %v and %d groups do not fit", x.Shape[1], wt.Dims, groups)
	}
	k, s, d, p := n.window(x.Shape[2]+pre[0]+pre[2], x.Shape[3]+pre[1]+pre[3], []int{kh, kw}, true)
	var bias []float32
	if n.in(2) != nil {
		bias = n.floats(2, cout, "B")
	}
	if n.err != nil {
		return n.err
	}
	c := &graph.Conv2D{Cin: x.Shape[1], Cout: cout, KH: k[0], KW: k[1], Stride: [2]int{s[0], s[1]},
		Pad: [4]int{p[0] + pre[0], p[1] + pre[1], p[2] + pre[2], p[3] + pre[3]}, Dilation: [2]int{d[0], d[1]},
		Groups: int(groups), Weight: wt.F, Bias: bias}
	n.apply(c, x)
	return n.err
}

func maxPool(n *node) error { return pool(n, true) }

func avgPool(n *node) error { return pool(n, false) }

// pool is MaxPool or AveragePool. A zero Pad before an average pool
// joins its padding, counted in the divisor as the Pad's zeros are.
func pool(n *node, isMax bool) error {
	if !n.inputs(1, 1) {
		return n.err
	}
	x, pre := n.padded(0)
	if !n.image(x) {
		return n.err
	}
	k, s, d, p := n.window(x.Shape[2]+pre[0]+pre[2], x.Shape[3]+pre[1]+pre[3], nil, isMax)
	ceil := n.int("ceil_mode", 0) != 0
	op := graph.Pool{Max: isMax, KH: k[0], KW: k[1], Stride: [2]int{s[0], s[1]}, Pad: p, CeilMode: ceil}
	if isMax {
		if n.int("storage_order", 0) != 0 {
			return n.errorf("storage_order 1 is not supported")
		}
		if d[0] != 1 || d[1] != 1 {
			return n.errorf("dilations %v are not supported", d)
		}
	} else {
		op.CountIncludePad = n.int("count_include_pad", 0) != 0
	}
	if pre != [4]int{} {
		switch {
		case isMax:
			return n.errorf("a zero Pad before MaxPool is not supported (MaxPool's own padding is -inf)")
		case p != [4]int{} && !op.CountIncludePad:
			return n.errorf("a zero Pad before an AveragePool with its own padding and count_include_pad 0 is not supported")
		}
		op.CountIncludePad = true
		for i := range op.Pad {
			op.Pad[i] += pre[i]
		}
	}
	if n.err != nil {
		return n.err
	}
	// ONNX sizes a ceil_mode output before opset 19 without PyTorch's
	// rule that the last window start inside the input or left padding.
	if ceil {
		g := op.Geom(x.Shape)
		for i, in := range []int{x.Shape[2], x.Shape[3]} {
			span := in + op.Pad[i] + op.Pad[i+2] - k[i]
			if span >= 0 && (span+s[i]-1)/s[i]+1 != []int{g.OH(), g.OW()}[i] {
				return n.errorf("with ceil_mode the last window starts in the padding, where ONNX and PyTorch disagree on the output size")
			}
		}
	}
	n.apply(op, x)
	return n.err
}

// concat joins graph values along an axis after the batch, or constants.
func concat(n *node) error {
	if !n.inputs(1, -1) {
		return n.err
	}
	if n.in(0).c != nil {
		return foldConcat(n)
	}
	xs := make([]*graph.Value, len(n.Input))
	for i := range xs {
		xs[i] = n.graphIn(i)
	}
	if n.err != nil {
		return n.err
	}
	a := n.axis("axis", n.int("axis", 0), len(xs[0].Shape))
	switch {
	case n.err != nil:
		return n.err
	case a == 0:
		return n.errorf("concat along axis 0: %v", errBatch)
	case len(xs) == 1:
		n.set(&val{v: xs[0]})
		return n.err
	}
	n.apply(graph.Concat{Axis: a, N: len(xs)}, xs...)
	return n.err
}

// flatten at axis 1 keeps the batch; constants fold.
func flatten(n *node) error {
	if !n.inputs(1, 1) {
		return n.err
	}
	v, a := n.in(0), n.int("axis", 1)
	if v.c != nil {
		d := v.c.Dims
		if a < 0 {
			a += int64(len(d))
		}
		if a < 0 || a > int64(len(d)) {
			return n.errorf("axis %d is out of range for shape %v", a, d)
		}
		n.setConst(n.reshapeConst(v.c, []int64{int64(graph.Shape(d[:a]).Numel()), int64(graph.Shape(d[a:]).Numel())}, true))
		return n.err
	}
	x := n.graphIn(0)
	if x == nil {
		return n.err
	}
	if a < 0 {
		a += int64(len(x.Shape))
	}
	if a != 1 {
		return n.errorf("flatten at axis %d: %v", a, errBatch)
	}
	n.apply(graph.Flatten{Axis: 1}, x)
	return n.err
}

// gemm is a linear layer: A [N,K] from the graph, B constant, C a
// constant bias of one value or one per output; alpha and beta fold into
// B and C (in float64, rounded once).
func gemm(n *node) error {
	if !n.inputs(2, 3) {
		return n.err
	}
	x, b := n.graphIn(0), n.constIn(1, false)
	alpha, beta := n.float("alpha", 1), n.float("beta", 1)
	transB := n.int("transB", 0) != 0
	if n.int("transA", 0) != 0 {
		return n.errorf("transA=1: %v", errBatch)
	}
	if n.err != nil {
		return n.err
	}
	if len(x.Shape) != 2 || !b.Float || len(b.Dims) != 2 {
		return n.errorf("A %v and B %v: want A [N,K] and B a 2-D float constant", x.Shape, b.Dims)
	}
	lin := n.linear(x.Shape[1], b, transB, alpha)
	if lin == nil {
		return n.err
	}
	if c := n.constIn(2, true); c != nil {
		if !c.Float || c.numel() != 1 && c.numel() != lin.Out || len(c.Dims) > 2 || len(c.Dims) == 2 && c.Dims[0] != 1 {
			return n.errorf("C has shape %v, want a bias of 1 or %d values", c.Dims, lin.Out)
		}
		lin.Bias = make([]float32, lin.Out)
		for o := range lin.Bias {
			lin.Bias[o] = float32(beta * float64(c.F[o%c.numel()]))
		}
	}
	n.apply(lin, x)
	return n.err
}

// matmul of A [N,K] from the graph by a constant B [K,M] is a linear
// layer.
func matmul(n *node) error {
	if !n.inputs(2, 2) {
		return n.err
	}
	x, b := n.graphIn(0), n.constIn(1, false)
	if n.err != nil {
		return n.err
	}
	if len(x.Shape) != 2 || !b.Float || len(b.Dims) != 2 {
		return n.errorf("A %v and B %v: want A [N,K] and B a 2-D float constant", x.Shape, b.Dims)
	}
	if lin := n.linear(x.Shape[1], b, false, 1); lin != nil {
		n.apply(lin, x)
	}
	return n.err
}

// linear returns the layer multiplying [N,in] by alpha·B ([in,M], or
// [M,in] if trans).
func (n *node) linear(in int, b *tensor, trans bool, alpha float64) *graph.Linear {
	k, m := b.Dims[0], b.Dims[1]
	if trans {
		k, m = m, k
	}
	if k != in {
		n.errorf("input has %d features, B has shape %v", in, b.Dims)
		return nil
	}
	w := b.F
	if !trans || alpha != 1 {
		w = make([]float32, len(b.F))
		for o := 0; o < m; o++ {
			for i := 0; i < k; i++ {
				v := b.F[i*m+o]
				if trans {
					v = b.F[o*k+i]
				}
				w[o*k+i] = float32(alpha * float64(v))
			}
		}
	}
	return &graph.Linear{In: k, Out: m, Weight: w}
}
