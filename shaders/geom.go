package shaders

import "fmt"

// maxSize bounds every element count and extent a kernel indexes: the
// kernels index in u32 and offset windows in i32.
const maxSize = 1<<31 - 1

// Layout is where a tensor whose first dimension is the batch lies in
// the buffer a kernel binds for it: image n starts at element
// Off + n·BStride, and its elements follow contiguously. A slice of a
// concatenation along the channels has BStride larger than its own image
// (the concatenation's image). BStride 0 means contiguous images, so the
// zero Layout is a contiguous tensor from element 0.
// A Layout is a plain value, safe to share.
type Layout struct{ Off, BStride int }

// at returns the layout's offset and batch stride for n images of img
// elements, or an error if they overlap or an element lies past 2³¹ − 1.
// The stride of a single image is img: the kernels then index without a
// division.
func (l Layout) at(n, img int) (off, bstride uint32, err error) {
	bs := l.BStride
	if bs == 0 {
		bs = img
	}
	if l.Off < 0 || bs < img || !fits(max(n-1, 0), bs) || l.Off+max(n-1, 0)*bs+img > maxSize {
		return 0, 0, fmt.Errorf("shaders: layout %+v does not hold %d images of %d elements", l, n, img)
	}
	if n == 1 {
		bs = img
	}
	return u32(l.Off), u32(bs), nil
}

// Plain reports whether n images of img elements at layout l read as
// contiguous from element 0: offset 0 and, for more than one image, a
// batch stride of img (or 0, which means img).
func (l Layout) Plain(n, img int) bool {
	return l.Off == 0 && (n == 1 || l.BStride == 0 || l.BStride == img)
}

// String names the layout as geometries print an output's: "" when it
// is the zero Layout, else ",out=Off+n·BStride".
func (l Layout) String() string { return l.named("out") }

// named is String for the layout of the value called name.
func (l Layout) named(name string) string {
	if l == (Layout{}) {
		return ""
	}
	return fmt.Sprintf(",%s=%d+n·%d", name, l.Off, l.BStride)
}

// ConvGeom is a 2-D convolution's geometry and epilogue: an input
// [N][Cin][H][W], weights [Cout][Cin/Groups][KH][KW], an output
// [N][Cout][OH][OW] where output channel m reads input channels
// (m / (Cout/Groups))·(Cin/Groups) + [0, Cin/Groups), and the epilogue
// out = conv·scale[m] + bias[m] (+ residual) (ReLU), written at layout
// Out. The input lies at layout In, which only the kernels that apply an
// input stage (ConvKernel.PreStage) read where it is not Plain; the
// residual is contiguous. With Pre the kernel
// first applies an input stage to every input element of channel c,
// x·pre[c] + pre[Cin + c] (then max(·,0) with PreReLU), before the zero
// padding: a pre-activation batch-norm folded into the convolution.
// A ConvGeom is a plain value, safe to share.
type ConvGeom struct {
	N, Cin, H, W   int
	Cout, KH, KW   int
	SH, SW         int // stride
	PT, PL, PB, PR int // zero padding: top, left, bottom, right
	DH, DW         int // dilation, ≥ 1
	Groups         int // ≥ 1; divides Cin and Cout
	Residual, ReLU bool
	Pre, PreReLU   bool // input stage (kernels with ConvKernel.PreStage)
	In, Out        Layout
}

// OH is the output height, (H + PT + PB − DH·(KH−1) − 1)/SH + 1.
func (g ConvGeom) OH() int { return convOut(g.H, g.PT, g.PB, g.KH, g.SH, g.DH) }

// OW is the output width, (W + PL + PR − DW·(KW−1) − 1)/SW + 1.
func (g ConvGeom) OW() int { return convOut(g.W, g.PL, g.PR, g.KW, g.SW, g.DW) }

func convOut(in, p0, p1, k, s, d int) int {
	if s <= 0 {
		return 0
	}
	span := in + p0 + p1 - d*(k-1) - 1
	if span < 0 {
		return 0
	}
	return span/s + 1
}

// String names the geometry as a test case does.
func (g ConvGeom) String() string {
	s := fmt.Sprintf("conv2d(n=%d,cin=%d,h=%d,w=%d,cout=%d,k=%dx%d,s=%d,%d,p=%d,%d,%d,%d,d=%d,%d,g=%d",
		g.N, g.Cin, g.H, g.W, g.Cout, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.PB, g.PR, g.DH, g.DW, g.Groups)
	if g.Residual {
		s += ",residual"
	}
	if g.ReLU {
		s += ",relu"
	}
	if g.Pre {
		s += ",pre"
		if g.PreReLU {
			s += "+relu"
		}
	}
	return s + g.In.named("in") + g.Out.String() + ")"
}

// Check returns an error if a field is out of range, the groups do not
// divide the channels, the dilated kernel does not fit the padded input,
// a size exceeds 2³¹ − 1, or the input or output layout does not hold
// the input or output.
func (g ConvGeom) Check() error {
	bad := func(why string) error { return fmt.Errorf("shaders: %v: %s", g, why) }
	switch {
	case g.N < 1 || g.Cin < 1 || g.H < 1 || g.W < 1 || g.Cout < 1:
		return bad("sizes must be ≥ 1")
	case g.KH < 1 || g.KW < 1 || g.SH < 1 || g.SW < 1 || g.DH < 1 || g.DW < 1:
		return bad("kernel, stride and dilation must be ≥ 1")
	case g.PT < 0 || g.PL < 0 || g.PB < 0 || g.PR < 0:
		return bad("padding must be ≥ 0")
	case g.Groups < 1 || g.Cin%g.Groups != 0 || g.Cout%g.Groups != 0:
		return bad("groups must be ≥ 1 and divide cin and cout")
	case g.PreReLU && !g.Pre:
		return bad("a ReLU in the input stage needs the input stage")
	}
	for _, v := range []int{g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.PB, g.PR, g.DH, g.DW} {
		if v > maxSize/8 {
			return bad("an extent exceeds 2²⁸")
		}
	}
	if g.H+g.PT+g.PB < g.DH*(g.KH-1)+1 || g.W+g.PL+g.PR < g.DW*(g.KW-1)+1 {
		return bad("the dilated kernel is larger than the padded input")
	}
	cing := g.Cin / g.Groups
	for _, n := range [][]int{{g.N, g.Cin, g.H, g.W}, {g.N, g.Cout, g.OH(), g.OW()}, {g.Cout, cing, g.KH, g.KW}} {
		if !fits(n...) {
			return bad("a tensor has more than 2³¹ − 1 elements")
		}
	}
	if _, _, err := g.In.at(g.N, g.Cin*g.H*g.W); err != nil {
		return bad("input: " + err.Error())
	}
	if _, _, err := g.Out.at(g.N, g.Cout*g.OH()*g.OW()); err != nil {
		return bad(err.Error())
	}
	return nil
}

// PlainIn reports whether g's input lies contiguous from element 0
// (Layout.Plain): what every kernel but the PreStage ones reads.
func (g ConvGeom) PlainIn() bool { return g.In.Plain(g.N, g.Cin*g.H*g.W) }

// fits reports whether the product of vs is at most maxSize.
func fits(vs ...int) bool {
	p := 1
	for _, v := range vs {
		if v < 0 || v > maxSize || p*v > maxSize {
			return false
		}
		p *= v
	}
	return true
}

// K is the length of one output's dot product: Cin/Groups·KH·KW.
func (g ConvGeom) K() int { return g.Cin / max(g.Groups, 1) * g.KH * g.KW }

// Plain reports whether the convolution has no groups, no dilation, equal
// strides and the same padding on every side: the shape every kernel but
// the general one assumes.
func (g ConvGeom) Plain() bool {
	return g.Groups == 1 && g.DH == 1 && g.DW == 1 && g.SH == g.SW &&
		g.PT == g.PL && g.PT == g.PB && g.PT == g.PR
}

// Is1x1 reports a plain 1×1 convolution at stride 1 without padding.
func (g ConvGeom) Is1x1() bool {
	return g.Plain() && g.KH == 1 && g.KW == 1 && g.SH == 1 && g.PT == 0
}

// PoolGeom is a 2-D max or average pool's geometry, PyTorch's semantics:
// input [N][C][H][W], output [N][C][OH][OW], the window of output (y, x)
// starting at (y·SH − PT, x·SW − PL). Max ignores positions outside the
// image; average divides the in-image sum by the window's in-image size,
// or with CountIncludePad by its size clipped to the padded input.
// The output is written at layout Out, the input is contiguous.
// A PoolGeom is a plain value, safe to share.
type PoolGeom struct {
	N, C, H, W      int
	KH, KW          int
	SH, SW          int
	PT, PL, PB, PR  int
	CeilMode        bool
	Max             bool // else average
	CountIncludePad bool // average: the divisor counts padded positions (PyTorch count_include_pad)
	Out             Layout
}

// OH is the output height: (H + PT + PB − KH)/SH + 1, the division rounded
// up with CeilMode, less the last window when CeilMode makes it start
// past the input and its top padding ((OH−1)·SH ≥ H + PT).
func (g PoolGeom) OH() int { return poolOut(g.H, g.PT, g.PB, g.KH, g.SH, g.CeilMode) }

// OW is the output width, as OH.
func (g PoolGeom) OW() int { return poolOut(g.W, g.PL, g.PR, g.KW, g.SW, g.CeilMode) }

func poolOut(in, p0, p1, k, s int, ceil bool) int {
	if s <= 0 {
		return 0
	}
	span := in + p0 + p1 - k
	if span < 0 {
		return 0
	}
	if ceil {
		span += s - 1
	}
	o := span/s + 1
	if ceil && (o-1)*s >= in+p0 {
		o--
	}
	return o
}

// String names the geometry as a test case does.
func (g PoolGeom) String() string {
	kind := "avgpool"
	if g.Max {
		kind = "maxpool"
	}
	s := fmt.Sprintf("%s(n=%d,c=%d,h=%d,w=%d,k=%dx%d,s=%d,%d,p=%d,%d,%d,%d", kind,
		g.N, g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.PB, g.PR)
	if g.CeilMode {
		s += ",ceil"
	}
	if g.CountIncludePad && !g.Max {
		s += ",include_pad"
	}
	return s + g.Out.String() + ")"
}

// Check returns an error if a field is out of range, the window does not
// fit the padded input, a window lies wholly in the padding (PT ≥ KH, or
// the last window starts past the input), or a size exceeds 2³¹ − 1.
func (g PoolGeom) Check() error {
	bad := func(why string) error { return fmt.Errorf("shaders: %v: %s", g, why) }
	switch {
	case g.N < 1 || g.C < 1 || g.H < 1 || g.W < 1:
		return bad("sizes must be ≥ 1")
	case g.KH < 1 || g.KW < 1 || g.SH < 1 || g.SW < 1:
		return bad("kernel and stride must be ≥ 1")
	case g.PT < 0 || g.PL < 0 || g.PB < 0 || g.PR < 0:
		return bad("padding must be ≥ 0")
	}
	for _, v := range []int{g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.PB, g.PR} {
		if v > maxSize/8 {
			return bad("an extent exceeds 2²⁸")
		}
	}
	if g.H+g.PT+g.PB < g.KH || g.W+g.PL+g.PR < g.KW {
		return bad("the window is larger than the padded input")
	}
	if g.PT >= g.KH || g.PL >= g.KW || (g.OH()-1)*g.SH-g.PT >= g.H || (g.OW()-1)*g.SW-g.PL >= g.W {
		return bad("a window lies wholly in the padding")
	}
	if !fits(g.N, g.C, g.H, g.W) || !fits(g.KH, g.KW) {
		return bad("a size exceeds 2³¹ − 1")
	}
	if _, _, err := g.Out.at(g.N, g.C*g.OH()*g.OW()); err != nil {
		return bad(err.Error())
	}
	return nil
}
