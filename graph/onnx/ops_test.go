package onnx

import (
	"math"
	"slices"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/onnx/onnxpb"
)

// Each test here builds small ONNX graphs of one operator and checks the
// imported graph's output against the operator's ONNX definition computed
// in the test (float64 loops), or the error that an unsupported use gives.

// flat is a Flatten of "z" into the output "y".
var flatY = op("Flatten", ins("z"), ins("y"))

// gemmRef is alpha·x·B' + beta·C over x [n][k], B' = B or Bᵀ.
func gemmRef(x []float32, n, k, m int, b []float32, transB bool, alpha, beta float64, c []float32) []float64 {
	out := make([]float64, n*m)
	for i := 0; i < n; i++ {
		for o := 0; o < m; o++ {
			var s float64
			for j := 0; j < k; j++ {
				w := b[j*m+o]
				if transB {
					w = b[o*k+j]
				}
				s += float64(x[i*k+j]) * float64(w)
			}
			out[i*m+o] = alpha * s
			if c != nil {
				out[i*m+o] += beta * float64(c[o%len(c)])
			}
		}
	}
	return out
}

func TestGemm(t *testing.T) {
	const n, k, m = 2, 3, 4
	x := rnd(n*k, 1)
	b := rnd(k*m, 2)
	for _, c := range []struct {
		name           string
		transB, transA bool
		alpha, beta    float32
		cdims          []int64
		c              []float32
		want           string // an error
	}{
		{name: "transB", transB: true, alpha: 1, beta: 1, cdims: []int64{m}, c: rnd(m, 3)},
		{name: "plain", alpha: 1, beta: 1},
		{name: "alpha-beta", transB: true, alpha: 0.5, beta: 2, cdims: []int64{1, m}, c: rnd(m, 4)},
		{name: "scalar-c", alpha: 1.5, beta: -1, cdims: []int64{1}, c: []float32{0.25}},
		{name: "transA", alpha: 1, beta: 1, transA: true, want: "transA=1"},
		{name: "full-c", alpha: 1, beta: 1, cdims: []int64{n, m}, c: rnd(n*m, 5), want: "C has shape [2 4]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			attrs := []*onnxpb.AttributeProto{attrFloat("alpha", c.alpha), attrFloat("beta", c.beta)}
			bd := []int64{k, m}
			if c.transB {
				attrs, bd = append(attrs, attrInt("transB", 1)), []int64{m, k}
			}
			if c.transA {
				attrs = append(attrs, attrInt("transA", 1))
			}
			inputs := ins("f", "b")
			if c.c != nil {
				inputs = append(inputs, "c")
			}
			md := with(newModel(13, []int64{0, k, 1, 1}, op("Flatten", ins("x"), ins("f")), op("Gemm", inputs, ins("y"), attrs...)),
				floatTensor("b", bd, b))
			if c.c != nil {
				with(md, floatTensor("c", c.cdims, c.c))
			}
			if c.want != "" {
				wantError(t, md, c.want)
				return
			}
			closeTo(t, run(t, mustParse(t, md), n, x), gemmRef(x, n, k, m, b, c.transB, float64(c.alpha), float64(c.beta), c.c))
		})
	}
}

func TestMatMul(t *testing.T) {
	const n, k, m = 3, 4, 2
	x, b := rnd(n*k, 6), rnd(k*m, 7)
	md := with(newModel(13, []int64{0, k, 1, 1}, op("Flatten", ins("x"), ins("f")), op("MatMul", ins("f", "b"), ins("y"))),
		floatTensor("b", []int64{k, m}, b))
	closeTo(t, run(t, mustParse(t, md), n, x), gemmRef(x, n, k, m, b, false, 1, 0, nil))
	// A transposed constant is folded first.
	md = with(newModel(13, []int64{0, k, 1, 1}, op("Flatten", ins("x"), ins("f")), op("Transpose", ins("bt"), ins("b2")),
		op("MatMul", ins("f", "b2"), ins("y"))), floatTensor("bt", []int64{m, k}, b))
	closeTo(t, run(t, mustParse(t, md), n, x), gemmRef(x, n, k, m, b, true, 1, 0, nil))
	// B from the graph is not a linear layer.
	md = newModel(13, []int64{0, k, 1, 1}, op("Flatten", ins("x"), ins("f")), op("MatMul", ins("f", "f"), ins("y")))
	wantError(t, md, `node "Y" (MatMul, opset 13): input 1 ("f") is computed from the graph input, want a constant`)
}

// TestArith checks Add, Sub, Mul and Div with a scalar or per-channel
// constant on either side, on the input (an affine op) and after a
// convolution (folded into it).
func TestArith(t *testing.T) {
	const n, ch, hw = 2, 3, 4
	x := rnd(n*ch*hw, 8)
	for _, opType := range []string{"Add", "Sub", "Mul", "Div"} {
		for _, cdims := range [][]int64{{}, {ch, 1, 1}, {1, ch, 1, 1}, {1}} {
			for _, constFirst := range []bool{false, true} {
				if opType == "Div" && constFirst {
					continue
				}
				cv := rnd(max(graph.Shape(toInts(cdims)).Numel(), 1), 9)
				in := ins("x", "c")
				if constFirst {
					in = ins("c", "x")
				}
				md := with(newModel(13, []int64{0, ch, 2, 2}, op(opType, in, ins("z")), flatY), floatTensor("c", cdims, cv))
				want := make([]float64, len(x))
				for i, v := range x {
					a, b := float64(v), float64(cv[i/hw%ch%len(cv)])
					if constFirst {
						a, b = b, a
					}
					want[i] = map[string]float64{"Add": a + b, "Sub": a - b, "Mul": a * b, "Div": a / b}[opType]
				}
				closeTo(t, run(t, mustParse(t, md), n, x), want)
			}
		}
	}
	md := with(newModel(13, []int64{0, ch, 2, 2}, op("Div", ins("c", "x"), ins("z")), flatY), floatTensor("c", []int64{1}, []float32{2}))
	wantError(t, md, "a constant divided by a graph value is not supported")
	md = with(newModel(13, []int64{0, ch, 2, 2}, op("Mul", ins("x", "c"), ins("z")), flatY), floatTensor("c", []int64{2}, []float32{2, 3}))
	wantError(t, md, "a constant of shape [2] on a value of shape 1x3x2x2: only one value or one per channel (axis 1) is supported")
	md = newModel(13, []int64{0, ch, 2, 2}, op("Mul", ins("x", "x"), ins("z")), flatY)
	wantError(t, md, "Mul of two graph values is not supported")
}

func toInts(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// Constants after a convolution join its scale and bias; on the input,
// Sub then Div become one affine op.
func TestArithFolds(t *testing.T) {
	w := floatTensor("w", []int64{4, 3, 1, 1}, rnd(12, 10))
	md := with(newModel(13, []int64{0, 3, 2, 2},
		op("Sub", ins("x", "m"), ins("s")), op("Div", ins("s", "d"), ins("n")),
		op("Conv", ins("n", "w"), ins("c")), op("Mul", ins("c", "k"), ins("c2")), op("Add", ins("c2", "b"), ins("c3")),
		op("Relu", ins("c3"), ins("z")), flatY),
		w, floatTensor("m", []int64{1, 3, 1, 1}, []float32{0.1, 0.2, 0.3}), floatTensor("d", []int64{3, 1, 1}, []float32{2, 3, 4}),
		floatTensor("k", []int64{}, []float32{0.5}), floatTensor("b", []int64{4, 1, 1}, rnd(4, 11)))
	if k := kinds(t, mustParse(t, md)); !slices.Equal(k, []string{"affine", "conv2d", "flatten"}) {
		t.Errorf("ops %v, want affine, conv2d (with its relu), flatten", k)
	}
	// A second reader of the convolution keeps the multiplication apart.
	md.Graph.Node = append(md.Graph.Node[:5:5], op("Add", ins("c3", "c"), ins("c4")), op("Relu", ins("c4"), ins("z")), flatY)
	k := kinds(t, mustParse(t, md))
	if affines := len(slices.DeleteFunc(slices.Clone(k), func(s string) bool { return s != "affine" })); affines != 2 || !slices.Contains(k, "conv2d") {
		t.Errorf("ops %v, want the multiplication and addition (one affine) apart from the convolution", k)
	}
}

func TestConvAutoPad(t *testing.T) {
	w := floatTensor("w", []int64{2, 1, 3, 3}, rnd(18, 12))
	for _, c := range []struct {
		auto string
		pads [4]int
	}{{"SAME_UPPER", [4]int{0, 1, 1, 1}}, {"SAME_LOWER", [4]int{1, 1, 0, 1}}, {"VALID", [4]int{}}, {"NOTSET", [4]int{}}} {
		md := with(newModel(13, []int64{0, 1, 6, 7}, op("Conv", ins("x", "w"), ins("z"), attrString("auto_pad", c.auto), attrInts("strides", 2, 2)), flatY), w)
		g, err := mustParse(t, md).Graph(Options{})
		if err != nil {
			t.Fatal(err)
		}
		conv := g.Nodes[0].Op.(*graph.Conv2D)
		if conv.Pad != c.pads {
			t.Errorf("%s: pads %v, want %v", c.auto, conv.Pad, c.pads)
		}
	}
	bad := []struct {
		attrs []*onnxpb.AttributeProto
		want  string
	}{
		{[]*onnxpb.AttributeProto{attrString("auto_pad", "SAME_UPPER"), attrInts("pads", 1, 1, 1, 1)}, "both auto_pad SAME_UPPER and pads given"},
		{[]*onnxpb.AttributeProto{attrInts("kernel_shape", 5, 5)}, "kernel_shape [5 5] differs from the weights' [3 3]"},
		{[]*onnxpb.AttributeProto{attrInt("group", 2)}, "do not fit"},
		{[]*onnxpb.AttributeProto{attrInts("strides", 0, 1)}, `attribute "strides" = [0 1]`},
		{[]*onnxpb.AttributeProto{attrFloat("foo", 1)}, `node "Z" (Conv, opset 13): attribute "foo" is not supported`},
	}
	for _, b := range bad {
		wantError(t, with(newModel(13, []int64{0, 1, 6, 7}, op("Conv", ins("x", "w"), ins("z"), b.attrs...), flatY), w), b.want)
	}
	wantError(t, with(newModel(13, []int64{0, 1, 6, 7}, op("Conv", ins("x", "w3"), ins("z")), flatY), floatTensor("w3", []int64{2, 1, 3}, rnd(6, 1))),
		"only 2-D convolutions are supported")
}

// padRef is x [n][c][h][w] padded with zeros (t, l, b, r).
func padRef(x []float32, n, c, h, w int, p [4]int) ([]float64, int, int) {
	H, W := h+p[0]+p[2], w+p[1]+p[3]
	out := make([]float64, n*c*H*W)
	for i := 0; i < n*c; i++ {
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				out[(i*H+y+p[0])*W+xx+p[1]] = float64(x[(i*h+y)*w+xx])
			}
		}
	}
	return out, H, W
}

// avgRef is the k×k, stride-1 average pool of x [nc][h][w] without
// padding.
func avgRef(x []float64, nc, h, w, k int) []float64 {
	var out []float64
	for i := 0; i < nc; i++ {
		for y := 0; y+k <= h; y++ {
			for xx := 0; xx+k <= w; xx++ {
				var s float64
				for a := 0; a < k; a++ {
					for b := 0; b < k; b++ {
						s += x[(i*h+y+a)*w+xx+b]
					}
				}
				out = append(out, s/float64(k*k))
			}
		}
	}
	return out
}

// A zero Pad joins the next Conv's or AveragePool's padding (its zeros
// count in the average); elsewhere it is refused.
func TestPad(t *testing.T) {
	const n, c, h, w = 2, 2, 5, 4
	x := rnd(n*c*h*w, 13)
	pads := intTensor("p", []int64{8}, 0, 0, 1, 2, 0, 0, 1, 0) // top 1, left 2, bottom 1, right 0
	md := with(newModel(13, []int64{0, c, h, w}, op("Pad", ins("x", "p"), ins("q")), op("AveragePool", ins("q"), ins("z"), attrInts("kernel_shape", 3, 3)), flatY), pads)
	px, H, W := padRef(x, n, c, h, w, [4]int{1, 2, 1, 0})
	closeTo(t, run(t, mustParse(t, md), n, x), avgRef(px, n*c, H, W, 3))

	wt := rnd(3*c*9, 14)
	md = with(newModel(13, []int64{0, c, h, w}, op("Pad", ins("x", "p"), ins("q")),
		op("Conv", ins("q", "w"), ins("z"), attrInts("pads", 1, 1, 1, 1)), flatY), pads, floatTensor("w", []int64{3, c, 3, 3}, wt))
	g, err := mustParse(t, md).Graph(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if conv := g.Nodes[0].Op.(*graph.Conv2D); conv.Pad != [4]int{2, 3, 2, 1} {
		t.Errorf("conv pads %v, want the Pad's plus its own, 2,3,2,1", conv.Pad)
	}
	for _, b := range []struct {
		nodes []*onnxpb.NodeProto
		extra []*onnxpb.TensorProto
		want  string
	}{
		{[]*onnxpb.NodeProto{op("Pad", ins("x", "p"), ins("q"), attrString("mode", "reflect")), op("AveragePool", ins("q"), ins("z"), attrInts("kernel_shape", 2, 2))}, nil, `mode "reflect" is not supported`},
		{[]*onnxpb.NodeProto{op("Pad", ins("x", "p", "v"), ins("q")), op("AveragePool", ins("q"), ins("z"), attrInts("kernel_shape", 2, 2))}, []*onnxpb.TensorProto{floatTensor("v", nil, []float32{1})}, "only zeros"},
		{[]*onnxpb.NodeProto{op("Pad", ins("x", "pc"), ins("q")), op("AveragePool", ins("q"), ins("z"), attrInts("kernel_shape", 2, 2))}, []*onnxpb.TensorProto{intTensor("pc", []int64{8}, 0, 1, 0, 0, 0, 0, 0, 0)}, "only non-negative padding of the height and width"},
		{[]*onnxpb.NodeProto{op("Pad", ins("x", "p"), ins("q")), op("MaxPool", ins("q"), ins("z"), attrInts("kernel_shape", 2, 2))}, nil, "a zero Pad before MaxPool is not supported"},
		{[]*onnxpb.NodeProto{op("Pad", ins("x", "p"), ins("q")), op("AveragePool", ins("q"), ins("z"), attrInts("kernel_shape", 3, 3), attrInts("pads", 1, 1, 1, 1))}, nil, "count_include_pad 0 is not supported"},
		{[]*onnxpb.NodeProto{op("Pad", ins("x", "p"), ins("q")), op("Relu", ins("q"), ins("z"))}, nil, "input 0 is a Pad, supported only before Conv and AveragePool"},
	} {
		wantError(t, with(newModel(13, []int64{0, c, h, w}, append(b.nodes, flatY)...), append([]*onnxpb.TensorProto{pads}, b.extra...)...), b.want)
	}
	// Opset 18's axes input, and Pads of Pads.
	md = with(newModel(18, []int64{0, c, h, w}, op("Pad", ins("x", "p2", "", "ax"), ins("q")), op("Pad", ins("q", "p2", "", "ax"), ins("q2")),
		op("AveragePool", ins("q2"), ins("z"), attrInts("kernel_shape", 3, 3)), flatY),
		intTensor("p2", []int64{4}, 1, 0, 0, 1), intTensor("ax", []int64{2}, 2, -1))
	px, H, W = padRef(x, n, c, h, w, [4]int{2, 0, 0, 2})
	closeTo(t, run(t, mustParse(t, md), n, x), avgRef(px, n*c, H, W, 3))
}

func TestPools(t *testing.T) {
	const n, c, h, w = 1, 2, 5, 5
	x := rnd(n*c*h*w, 15)
	// count_include_pad 1 is the average over the zero-padded input.
	md := newModel(13, []int64{0, c, h, w}, op("AveragePool", ins("x"), ins("z"), attrInts("kernel_shape", 3, 3), attrInts("pads", 1, 1, 1, 1), attrInt("count_include_pad", 1)), flatY)
	px, H, W := padRef(x, n, c, h, w, [4]int{1, 1, 1, 1})
	closeTo(t, run(t, mustParse(t, md), n, x), avgRef(px, n*c, H, W, 3))
	for _, b := range []struct {
		node *onnxpb.NodeProto
		want string
	}{
		{op("MaxPool", ins("x"), ins("z"), attrInts("kernel_shape", 2, 2), attrInts("strides", 3, 3), attrInts("pads", 1, 1, 1, 1), attrInt("ceil_mode", 1)), "ONNX and PyTorch disagree"},
		{op("MaxPool", ins("x"), ins("z"), attrInts("kernel_shape", 2, 2), attrInts("dilations", 2, 2)), "dilations [2 2] are not supported"},
		{op("MaxPool", ins("x"), ins("z"), attrInts("kernel_shape", 2, 2), attrInt("storage_order", 1)), "storage_order 1 is not supported"},
		{op("AveragePool", ins("x"), ins("z"), attrInts("kernel_shape", 2, 2), attrInts("dilations", 1, 1)), `attribute "dilations" is not supported`},
		{op("MaxPool", ins("x"), ins("z")), `attribute "kernel_shape" is missing`},
		{op("MaxPool", ins("x"), ins("z", "idx"), attrInts("kernel_shape", 2, 2)), ""},
	} {
		md := newModel(13, []int64{0, c, h, w}, b.node, flatY)
		if b.want == "" { // an unread second output is fine
			mustParse(t, md)
			continue
		}
		wantError(t, md, b.want)
	}
	md = newModel(13, []int64{0, c, h, w}, op("MaxPool", ins("x"), ins("p", "idx"), attrInts("kernel_shape", 2, 2)), op("Add", ins("p", "idx"), ins("z")), flatY)
	wantError(t, md, `output 1 ("idx") is not supported`)
}

func TestBatchNormDropoutClip(t *testing.T) {
	const n, c = 2, 3
	x := rnd(n*c*4, 16)
	g, b, m, v := rnd(c, 17), rnd(c, 18), rnd(c, 19), []float32{0.5, 1, 1.5}
	bn := []*onnxpb.TensorProto{floatTensor("g", []int64{c}, g), floatTensor("b", []int64{c}, b), floatTensor("m", []int64{c}, m), floatTensor("v", []int64{c}, v)}
	want := make([]float64, len(x))
	for i, xv := range x {
		k := i / 4 % c
		want[i] = math.Max(0, (float64(xv)-float64(m[k]))/math.Sqrt(float64(v[k])+1e-3)*float64(g[k])+float64(b[k]))
	}
	for _, md := range []*pb{
		newModel(11, []int64{0, c, 2, 2}, op("BatchNormalization", ins("x", "g", "b", "m", "v"), ins("n"), attrFloat("epsilon", 1e-3)),
			op("Dropout", ins("n"), ins("d"), attrFloat("ratio", 0.3)), op("Clip", ins("d", "zero"), ins("z")), flatY),
		newModel(15, []int64{0, c, 2, 2}, op("BatchNormalization", ins("x", "g", "b", "m", "v"), ins("n"), attrFloat("epsilon", 1e-3), attrInt("training_mode", 0)),
			op("Dropout", ins("n", "r", "off"), ins("d")), op("Identity", ins("d"), ins("i")), op("Relu", ins("i"), ins("z")), flatY),
	} {
		with(md, bn...)
		with(md, floatTensor("zero", nil, []float32{0}), floatTensor("r", nil, []float32{0.1}), &onnxpb.TensorProto{Name: "off", DataType: 7, Int64Data: []int64{0}})
		closeTo(t, run(t, mustParse(t, md), n, x), want)
	}
	for _, b := range []struct {
		node *onnxpb.NodeProto
		want string
	}{
		{op("BatchNormalization", ins("x", "g", "b", "m", "v"), ins("z"), attrInt("training_mode", 1)), "training_mode is set"},
		{op("Dropout", ins("x", "r", "on"), ins("z")), "training_mode is true"},
	} {
		md := with(newModel(14, []int64{0, c, 2, 2}, b.node, flatY), bn...)
		with(md, floatTensor("zero", nil, []float32{0}), floatTensor("six", nil, []float32{6}), floatTensor("r", nil, []float32{0.1}), intTensor("on", nil, 1))
		wantError(t, md, b.want)
	}
	md := newModel(13, []int64{0, c, 2, 2}, op("Dropout", ins("x"), ins("d", "mask")), op("Add", ins("d", "mask"), ins("z")), flatY)
	wantError(t, md, `node "D" (Dropout, opset 13): output 1 ("mask") is not supported`)
}

// Clip to [0, 6] after a convolution, and to (-∞, 0.5] (the min left
// out), match the clamps computed in float64 on the CPU reference and on
// the GPU, and are clip ops; Clip to [0, ∞) is a ReLU the convolution absorbs; bounds that
// are unordered, NaN, not scalars or not constants are errors.
func TestClip(t *testing.T) {
	const n, c, h, w, o = 2, 2, 4, 4, 3
	x, wt := rnd(n*c*h*w, 40), rnd(o*c*9, 41)
	for i := range wt {
		wt[i] *= 4 // outputs past 6 and below 0
	}
	conv := make([]float64, n*o*h*w)
	for i := range conv {
		b, oc, y, xx := i/(o*h*w), i/(h*w)%o, i/w%h, i%w
		for ic := 0; ic < c; ic++ {
			for ky := 0; ky < 3; ky++ {
				for kx := 0; kx < 3; kx++ {
					iy, ix := y+ky-1, xx+kx-1
					if iy >= 0 && iy < h && ix >= 0 && ix < w {
						conv[i] += float64(x[((b*c+ic)*h+iy)*w+ix]) * float64(wt[((oc*c+ic)*3+ky)*3+kx])
					}
				}
			}
		}
	}
	clamp := func(lo, hi float64) []float64 {
		out := make([]float64, len(conv))
		for i, v := range conv {
			out[i] = math.Min(math.Max(v, lo), hi)
		}
		return out
	}
	if lo, hi := slices.Min(conv), slices.Max(conv); lo >= 0 || hi <= 6 {
		t.Fatalf("convolution outputs in [%g, %g]: the test clamps only one end of [0, 6]", lo, hi)
	}
	consts := func(md *pb) *pb {
		return with(md, floatTensor("w", []int64{o, c, 3, 3}, wt), floatTensor("zero", nil, []float32{0}), floatTensor("six", nil, []float32{6}),
			floatTensor("half", []int64{}, []float32{0.5}), floatTensor("inf", nil, []float32{float32(math.Inf(1))}),
			floatTensor("nan", nil, []float32{float32(math.NaN())}), floatTensor("pair", []int64{2}, []float32{0, 1}))
	}
	convOp := op("Conv", ins("x", "w"), ins("c"), attrInts("pads", 1, 1, 1, 1))
	type clipped struct {
		m    *Model
		want []float64
	}
	var models []clipped
	for _, opset := range []int64{11, 13} {
		for _, cl := range []struct {
			in     []string
			lo, hi float64
		}{{ins("c", "zero", "six"), 0, 6}, {ins("c", "", "half"), math.Inf(-1), 0.5}} {
			m := mustParse(t, consts(newModel(opset, []int64{0, c, h, w}, convOp, op("Clip", cl.in, ins("z")), flatY)))
			models = append(models, clipped{m, clamp(cl.lo, cl.hi)})
			closeTo(t, run(t, m, n, x), clamp(cl.lo, cl.hi))
			if k := kinds(t, m); !slices.Equal(k, []string{"conv2d", "clip", "flatten"}) {
				t.Errorf("opset %d, Clip to [%g, %g]: ops %v, want conv2d, clip, flatten", opset, cl.lo, cl.hi, k)
			}
		}
	}
	t.Run("gpu", func(t *testing.T) {
		ex := gpuexec.New(gputest.Device(t), gpuexec.Options{Guard: 16})
		for _, md := range models {
			closeTo(t, runOn(t, ex, md.m, n, x), md.want)
		}
	})
	for _, hi := range []string{"", "inf"} {
		md := consts(newModel(13, []int64{0, c, h, w}, convOp, op("Clip", ins("c", "zero", hi), ins("z")), flatY))
		if k := kinds(t, mustParse(t, md)); !slices.Equal(k, []string{"conv2d", "flatten"}) {
			t.Errorf("Clip to [0, %q]: ops %v, want conv2d (with its relu), flatten", hi, k)
		}
	}
	for _, b := range []struct {
		in   []string
		want string
	}{
		{ins("x", "six", "zero"), "Clip to [6, 0] is not supported (want min <= max)"},
		{ins("x", "nan", "six"), "Clip to [NaN, 6] is not supported (want min <= max)"},
		{ins("x", "pair"), "min has shape [2], want one number"},
		{ins("x", "zero", "x"), `input 2 ("x") is computed from the graph input, want a constant`},
	} {
		wantError(t, consts(newModel(13, []int64{0, c, h, w}, op("Clip", b.in, ins("z")), flatY)), b.want)
	}
}

func TestSumConcatGlobalPool(t *testing.T) {
	const n, c = 2, 2
	x := rnd(n*c*4, 20)
	md := newModel(13, []int64{0, c, 2, 2}, op("Relu", ins("x"), ins("r")), op("Sum", ins("r", "x", "r"), ins("s")),
		op("Concat", ins("s", "x"), ins("k"), attrInt("axis", -3)), op("GlobalAveragePool", ins("k"), ins("z")), flatY)
	want := make([]float64, n*2*c)
	for i := 0; i < n; i++ {
		for ch := 0; ch < 2*c; ch++ {
			var s float64
			for p := 0; p < 4; p++ {
				v := float64(x[(i*c+ch%c)*4+p])
				if ch < c {
					v = 2*math.Max(v, 0) + v
				}
				s += v
			}
			want[i*2*c+ch] = s / 4
		}
	}
	closeTo(t, run(t, mustParse(t, md), n, x), want)
	wantError(t, newModel(13, []int64{0, c, 2, 2}, op("Concat", ins("x", "x"), ins("z"), attrInt("axis", 0)), flatY), "concat along axis 0: it would mix the items of a batch")
	wantError(t, newModel(13, []int64{0, c, 2, 2}, op("Flatten", ins("x"), ins("y"), attrInt("axis", 2))), "flatten at axis 2: it would mix the items of a batch")
	wantError(t, newModel(13, []int64{0, c, 2, 2}, op("Transpose", ins("x"), ins("z")), flatY), `input 0 ("x") is computed from the graph input, want a constant`)
}

// The softmax computing the output is the probabilities; the logits are
// its input. Softmax elsewhere stays in the graph.
func TestSoftmax(t *testing.T) {
	x := rnd(2*3, 21)
	for _, opset := range []int64{11, 13} {
		md := newModel(opset, []int64{0, 3, 1, 1}, op("Flatten", ins("x"), ins("f")), op("Softmax", ins("f"), ins("y"), attrInt("axis", 1)))
		g, err := mustParse(t, md).Graph(Options{Batch: 2, Softmax: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Outputs) != 2 || g.Outputs[0].Producer.Op.Kind() != "flatten" || g.Outputs[1].Producer.Op.Kind() != "softmax" {
			t.Errorf("opset %d: outputs %v, want the flatten (logits) and a softmax", opset, g.Outputs)
		}
	}
	md := newModel(13, []int64{0, 3, 1, 1}, op("Flatten", ins("x"), ins("f")), op("Softmax", ins("f"), ins("s")), op("Relu", ins("s"), ins("y")))
	want := make([]float64, len(x))
	for i := 0; i < 2; i++ {
		var s float64
		for k := 0; k < 3; k++ {
			s += math.Exp(float64(x[i*3+k]))
		}
		for k := 0; k < 3; k++ {
			want[i*3+k] = math.Exp(float64(x[i*3+k])) / s
		}
	}
	closeTo(t, run(t, mustParse(t, md), 2, x), want)
	wantError(t, newModel(13, []int64{0, 3, 2, 2}, op("Softmax", ins("x"), ins("z"), attrInt("axis", 1)), flatY), "softmax over axis 1 of 1x3x2x2: only the last axis")
	wantError(t, newModel(11, []int64{0, 3, 2, 2}, op("Softmax", ins("x"), ins("z")), flatY), "softmax over axis 1")
}

// Reshape keeps the batch as axis 0, whichever way the target says so.
func TestReshape(t *testing.T) {
	chain := []*onnxpb.NodeProto{op("Shape", ins("x"), ins("s")), op("Gather", ins("s", "zero"), ins("b")),
		op("Unsqueeze", ins("b", "axes"), ins("bu")), op("Concat", ins("bu", "minus1"), ins("t"), attrInt("axis", 0))}
	consts := []*onnxpb.TensorProto{intTensor("zero", nil, 0), intTensor("axes", []int64{1}, 0), intTensor("minus1", []int64{1}, -1)}
	x := rnd(3*2*3*4, 22)
	want := make([]float64, len(x))
	for i, v := range x {
		want[i] = float64(v)
	}
	for _, c := range []struct {
		name   string
		batch  int64 // the file's; 0 dynamic
		target []int64
		kind   string
		err    string
	}{
		{name: "shape chain", kind: "flatten"},
		{name: "copy", target: []int64{0, -1}, kind: "flatten"},
		{name: "free batch", target: []int64{-1, 24}, kind: "flatten"},
		{name: "view", target: []int64{0, 2, 12}, kind: "reshape"},
		{name: "fixed batch", batch: 1, target: []int64{1, -1}, kind: "flatten"},
		{name: "literal batch", target: []int64{1, -1}, err: "fixes the batch size at 1 while the model's batch is dynamic"},
		{name: "mixing", target: []int64{-1, 12}, err: "cannot reshape 1x2x3x4 to [-1 12] keeping the batch as axis 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			nodes := slices.Clone(chain)
			tc := consts
			if c.target != nil {
				nodes, tc = nil, []*onnxpb.TensorProto{intTensor("t", []int64{int64(len(c.target))}, c.target...)}
			}
			nodes = append(nodes, op("Reshape", ins("x", "t"), ins("r")), op("Flatten", ins("r"), ins("y")))
			md := with(newModel(14, []int64{c.batch, 2, 3, 4}, nodes...), tc...)
			if c.err != "" {
				wantError(t, md, c.err)
				return
			}
			m := mustParse(t, md)
			if k := kinds(t, m); k[0] != c.kind {
				t.Errorf("ops %v, want %s first", k, c.kind)
			}
			// Built at batch 1, reshaped to 3: as a Model runs other batches.
			g, err := m.Graph(Options{})
			if err != nil {
				t.Fatal(err)
			}
			if g, err = g.Reshape(graph.Shape{3, 2, 3, 4}); err != nil {
				t.Fatal(err)
			}
			if s := g.Outputs[0].Shape; !s.Equal(graph.Shape{3, 24}) {
				t.Errorf("output %v at batch 3, want 3x24", s)
			}
			closeTo(t, run(t, m, 3, x), want)
		})
	}
	// Twice the batch from the shape is refused.
	md := with(newModel(14, []int64{0, 2, 3, 4}, append(slices.Clone(chain[:3]), op("Mul", ins("bu", "two"), ins("b2")),
		op("Concat", ins("b2", "minus1"), ins("t"), attrInt("axis", 0)), op("Reshape", ins("x", "t"), ins("y")))...),
		append(consts, intTensor("two", nil, 2))...)
	wantError(t, md, "target shape [2 -1]: it would mix the items of a batch")
}

func TestOpsetDomainOperator(t *testing.T) {
	relu := func(opset int64) *pb {
		return newModel(opset, []int64{0, 3, 1, 1}, op("Relu", ins("x"), ins("z")), flatY)
	}
	mustParse(t, relu(11))
	mustParse(t, relu(18))
	wantError(t, relu(10), "standard operator set version 10, want 11 to 18")
	wantError(t, relu(19), "standard operator set version 19, want 11 to 18")
	md := relu(13)
	md.Graph.Node[0].Domain = "com.microsoft"
	wantError(t, md, `node "Z" (Relu, opset 13): operator domain "com.microsoft" is not supported`)
	md = relu(13)
	md.Graph.Node[0].OpType = "LeakyRelu"
	wantError(t, md, `node "Z" (LeakyRelu, opset 13): operator LeakyRelu is not supported`)
	md = relu(13)
	md.Graph.Node[0].Attribute = []*onnxpb.AttributeProto{attrFloat("alpha", 0.1)}
	wantError(t, md, `node "Z" (Relu, opset 13): attribute "alpha" is not supported`)
	md = relu(13)
	md.Graph.Node[0].Name = ""
	md.Graph.Node[0].OpType = "Selu"
	wantError(t, md, `node "z" (Selu, opset 13)`)
}
