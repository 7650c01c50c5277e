package graph

import (
	"fmt"
	"math"
	"slices"

	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Conv2D is a 2-D convolution with groups, dilation and per-side padding:
//
//	out[n,o,y,x] = scale[o] · Σ_{c,i,j} w[o,c,i,j] · in[n, g·Cg + c, y·SY − PT + i·DY, x·SX − PL + j·DX] + bias[o]
//	               (+ res[n,o,y,x] if Residual), then max(·,0) if ReLU,
//
// with g = o / (Cout/Groups), Cg = Cin/Groups, c < Cg, and input elements
// outside the image zero. Scale nil means 1, Bias nil means 0. With
// Residual the op has a second input, the tensor to add. Zero Dilation
// and Groups mean 1. With PreScale set the input first passes through an
// input stage, in[n,c,y,x]·PreScale[c] + PreShift[c] and then max(·,0)
// if PreReLU, before the zero padding: a pre-activation batch-norm merged
// into the convolution (FusePreActivation).
type Conv2D struct {
	Cin, Cout, KH, KW int
	Stride            [2]int    // y, x
	Pad               [4]int    // top, left, bottom, right
	Dilation          [2]int    // y, x
	Groups            int       // divides Cin and Cout
	Weight            []float32 // [Cout][Cin/Groups][KH][KW]
	Scale, Bias       []float32 // [Cout] or nil
	Residual, ReLU    bool
	PreScale          []float32 // [Cin] or nil: no input stage
	PreShift          []float32 // [Cin], with PreScale
	PreReLU           bool
}

// Conv returns a square convolution with one stride and the same padding
// on every side, as every ResNet layer has.
func Conv(cin, cout, k, stride, pad int) *Conv2D {
	return &Conv2D{Cin: cin, Cout: cout, KH: k, KW: k, Stride: [2]int{stride, stride}, Pad: [4]int{pad, pad, pad, pad}}
}

// Kind implements Op.
func (c *Conv2D) Kind() string { return "conv2d" }

// Arity implements Op.
func (c *Conv2D) Arity() int {
	if c.Residual {
		return 2
	}
	return 1
}

// Geom is the convolution on an input of shape x, in the kernels' terms.
func (c *Conv2D) Geom(x Shape) shaders.ConvGeom {
	g := shaders.ConvGeom{
		Cin: c.Cin, Cout: c.Cout, KH: c.KH, KW: c.KW,
		SH: c.Stride[0], SW: c.Stride[1], PT: c.Pad[0], PL: c.Pad[1], PB: c.Pad[2], PR: c.Pad[3],
		DH: max(c.Dilation[0], 1), DW: max(c.Dilation[1], 1), Groups: max(c.Groups, 1),
		Residual: c.Residual, ReLU: c.ReLU, Pre: c.PreScale != nil, PreReLU: c.PreScale != nil && c.PreReLU,
	}
	if len(x) == 4 {
		g.N, g.H, g.W = x[0], x[2], x[3]
	}
	return g
}

// OutShape implements Op.
func (c *Conv2D) OutShape(in []Shape) (Shape, error) {
	n, ch, _, _, err := in[0].image("conv2d")
	if err != nil {
		return nil, err
	}
	if ch != c.Cin {
		return nil, fmt.Errorf("conv2d: input has %d channels, want %d", ch, c.Cin)
	}
	g := c.Geom(in[0])
	if err := g.Check(); err != nil {
		return nil, fmt.Errorf("conv2d %s: %w", c.Describe(), err)
	}
	if len(c.Weight) != c.Cout*g.K() {
		return nil, fmt.Errorf("conv2d: %d weights, want %d", len(c.Weight), c.Cout*g.K())
	}
	if (c.Scale != nil && len(c.Scale) != c.Cout) || (c.Bias != nil && len(c.Bias) != c.Cout) {
		return nil, fmt.Errorf("conv2d: scale/bias length differs from %d output channels", c.Cout)
	}
	if (c.PreScale != nil || c.PreShift != nil) && (len(c.PreScale) != c.Cin || len(c.PreShift) != c.Cin) {
		return nil, fmt.Errorf("conv2d: input stage has %d scales and %d shifts, want %d", len(c.PreScale), len(c.PreShift), c.Cin)
	}
	out := Shape{n, c.Cout, g.OH(), g.OW()}
	if c.Residual && len(in) < 2 {
		return nil, fmt.Errorf("conv2d: residual convolution given no residual input")
	}
	if c.Residual && !in[1].Equal(out) {
		return nil, fmt.Errorf("conv2d: residual shape %v differs from output %v", in[1], out)
	}
	return out, nil
}

// Describe implements Op: c=64,o=64,k=3x3,s=1,p=1 plus, where they are not
// the plain values, s=2x1 (y, x), p=0,1,1,0 (top, left, bottom, right),
// d=2 (dilation) and g=32 (groups); then relu and residual, and
// pre=bn or pre=bn+relu for an input stage.
func (c *Conv2D) Describe() string {
	s := fmt.Sprintf("c=%d,o=%d,k=%dx%d,s=%d", c.Cin, c.Cout, c.KH, c.KW, c.Stride[0])
	if c.Stride[1] != c.Stride[0] {
		s += fmt.Sprintf("x%d", c.Stride[1])
	}
	p := c.Pad
	if p[0] == p[1] && p[0] == p[2] && p[0] == p[3] {
		s += fmt.Sprintf(",p=%d", p[0])
	} else {
		s += fmt.Sprintf(",p=%d,%d,%d,%d", p[0], p[1], p[2], p[3])
	}
	if d := c.Dilation; max(d[0], 1) != 1 || max(d[1], 1) != 1 {
		s += fmt.Sprintf(",d=%dx%d", max(d[0], 1), max(d[1], 1))
	}
	if c.Groups > 1 {
		s += fmt.Sprintf(",g=%d", c.Groups)
	}
	if c.ReLU {
		s += ",relu"
	}
	if c.Residual {
		s += ",residual"
	}
	if c.PreScale != nil {
		s += ",pre=bn"
		if c.PreReLU {
			s += "+relu"
		}
	}
	return s
}

// Eval implements Op with a float64 accumulator per output element; one
// task per (image, output channel). The input stage, if any, is applied
// to a copy of the input first, in float64 and rounded once.
func (c *Conv2D) Eval(in []Shape, data [][]float32, out []float32) {
	g := c.Geom(in[0])
	OH, OW, H, W := g.OH(), g.OW(), g.H, g.W
	cg, og := g.Cin/g.Groups, g.Cout/g.Groups
	var res []float32
	if c.Residual {
		res = data[1]
	}
	x := data[0]
	if c.PreScale != nil {
		x = make([]float32, len(data[0]))
		for i, v := range data[0] {
			ch := i / (H * W) % g.Cin
			y := float64(v)*float64(c.PreScale[ch]) + float64(c.PreShift[ch])
			if c.PreReLU {
				y = math.Max(y, 0)
			}
			x[i] = float32(y)
		}
	}
	parallel(g.N*g.Cout, func(task int) {
		n, oc := task/g.Cout, task%g.Cout
		acc := make([]float64, OH*OW)
		for c0 := 0; c0 < cg; c0++ {
			ci := oc/og*cg + c0
			plane := x[(n*g.Cin+ci)*H*W : (n*g.Cin+ci+1)*H*W]
			for i := 0; i < g.KH; i++ {
				for j := 0; j < g.KW; j++ {
					w := float64(c.Weight[((oc*cg+c0)*g.KH+i)*g.KW+j])
					for y := 0; y < OH; y++ {
						iy := y*g.SH - g.PT + i*g.DH
						if iy < 0 || iy >= H {
							continue
						}
						row := plane[iy*W : (iy+1)*W]
						a := acc[y*OW : (y+1)*OW]
						for x := range a {
							ix := x*g.SW - g.PL + j*g.DW
							if ix >= 0 && ix < W {
								a[x] += w * float64(row[ix])
							}
						}
					}
				}
			}
		}
		scale, bias := 1.0, 0.0
		if c.Scale != nil {
			scale = float64(c.Scale[oc])
		}
		if c.Bias != nil {
			bias = float64(c.Bias[oc])
		}
		base := (n*g.Cout + oc) * OH * OW
		for k, a := range acc {
			v := scale*a + bias
			if res != nil {
				v += float64(res[base+k])
			}
			if c.ReLU {
				v = math.Max(v, 0)
			}
			out[base+k] = float32(v)
		}
	})
}

// StridedIn implements Strided: a convolution with an input stage reads
// its input at any layout (a DenseNet layer's input, a slice of its
// block's concatenation), as every kernel that applies the stage does
// (shaders.ConvKernel.PreStage); otherwise the input, and always the
// residual, are contiguous.
func (c *Conv2D) StridedIn(i int) bool { return i == 0 && c.PreScale != nil }

// StridedOut implements Strided: every kernel's epilogue writes the
// output at any layout (a slice of a concatenation: DenseNet's layers).
func (c *Conv2D) StridedOut() bool { return true }

// Lower implements Op through the executor's convolution kernels.
func (c *Conv2D) Lower(l Lowerer, in []Shape, _ Shape) error {
	res := In(0) // unread without Residual
	if c.Residual {
		res = In(1)
	}
	g := c.Geom(in[0])
	g.In, g.Out = l.Layout(In(0)), l.Layout(Out())
	var pre []float32
	if c.PreScale != nil {
		pre = append(slices.Clone(c.PreScale), c.PreShift...)
	}
	l.Conv(g, In(0), c.Weight, c.Scale, c.Bias, pre, res)
	return nil
}

// Random implements Op: weights uniform in ±sqrt(3/fan-in), scales in
// [0.5, 1.5), biases in [-0.5, 0.5); an input stage's scales and shifts
// likewise.
func (c *Conv2D) Random(r *Rand, in Shape) (Op, []Shape) {
	o := *c
	g := c.Geom(in)
	b := math.Sqrt(3 / float64(g.K()))
	o.Weight = r.Uniform(c.Cout*g.K(), -b, b)
	o.Scale = r.Uniform(c.Cout, 0.5, 1.5)
	o.Bias = r.Uniform(c.Cout, -0.5, 0.5)
	if c.PreScale != nil {
		o.PreScale = r.Uniform(c.Cin, 0.5, 1.5)
		o.PreShift = r.Uniform(c.Cin, -0.5, 0.5)
	}
	shapes := []Shape{in}
	if c.Residual {
		shapes = append(shapes, Shape{g.N, c.Cout, g.OH(), g.OW()})
	}
	return &o, shapes
}

// Params implements Op: an absent scale or bias counts as the Cout values
// the kernels read in its place; an input stage adds its scales and
// shifts.
func (c *Conv2D) Params() [][]float32 {
	ps := [][]float32{c.Weight, c.Scale, c.Bias}
	for i, p := range ps[1:] {
		if p == nil {
			ps[i+1] = make([]float32, c.Cout)
		}
	}
	if c.PreScale != nil {
		ps = append(ps, c.PreScale, c.PreShift)
	}
	return ps
}

// FLOPs implements Op: the convolution's, and an input stage's 2 a
// input element (a batch-norm's).
func (c *Conv2D) FLOPs(in []Shape, out Shape) int64 {
	f := 2 * int64(out.Numel()) * int64(c.Geom(in[0]).K())
	if c.PreScale != nil {
		f += 2 * int64(in[0].Numel())
	}
	return f
}

// NumParams implements ParamCounter: the weights, and the scale, bias and
// input stage where present.
func (c *Conv2D) NumParams() int {
	return len(c.Weight) + len(c.Scale) + len(c.Bias) + len(c.PreScale) + len(c.PreShift)
}

// MACs implements MulAdder.
func (c *Conv2D) MACs(in []Shape, out Shape) int64 { return c.FLOPs(in, out) / 2 }

// ConvOf returns the convolution (without parameters) and the input shape
// of geometry g.
func ConvOf(g shaders.ConvGeom) (*Conv2D, Shape) {
	c := &Conv2D{Cin: g.Cin, Cout: g.Cout, KH: g.KH, KW: g.KW, Stride: [2]int{g.SH, g.SW},
		Pad: [4]int{g.PT, g.PL, g.PB, g.PR}, Dilation: [2]int{g.DH, g.DW}, Groups: g.Groups,
		Residual: g.Residual, ReLU: g.ReLU}
	if g.Pre {
		// placeholders, as the weights' absence: Random fills them
		c.PreScale, c.PreShift, c.PreReLU = make([]float32, g.Cin), make([]float32, g.Cin), g.PreReLU
	}
	return c, Shape{g.N, g.Cin, g.H, g.W}
}
