package graph

import (
	"fmt"
	"strings"
)

// Shape is an NCHW tensor shape. Vectors (linear layers, logits) are
// [N, C, 1, 1].
type Shape [4]int

// Numel is the number of elements.
func (s Shape) Numel() int { return s[0] * s[1] * s[2] * s[3] }

func (s Shape) String() string { return fmt.Sprintf("%dx%dx%dx%d", s[0], s[1], s[2], s[3]) }

// Op is one operation of the graph. The concrete types below are the whole
// set; executors switch on them.
type Op interface {
	// Kind is the op family, e.g. "conv2d".
	Kind() string
	// Arity is the number of inputs.
	Arity() int
	// OutShape checks the input shapes and returns the output's.
	OutShape(in []Shape) (Shape, error)
	// Describe gives the op's attributes, e.g. "c=64,k=3,s=1,p=1,relu".
	Describe() string
}

// Conv2D is a 2-D convolution without groups:
//
//	out[n,o,y,x] = scale[o] * Σ_{c,i,j} w[o,c,i,j] * in[n,c,y*S-P+i,x*S-P+j] + bias[o]
//	               (+ res[n,o,y,x] if Residual) then max(·,0) if ReLU,
//
// where input elements outside the image are zero. Scale nil means 1, Bias
// nil means 0. With Residual the op has a second input, the tensor to add.
type Conv2D struct {
	Cin, Cout, KH, KW, Stride, Pad int
	Weight                         []float32 // [Cout][Cin][KH][KW]
	Scale, Bias                    []float32 // [Cout] or nil
	Residual, ReLU                 bool
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

// OutShape implements Op.
func (c *Conv2D) OutShape(in []Shape) (Shape, error) {
	x := in[0]
	if c.Cin <= 0 || c.Cout <= 0 || c.KH <= 0 || c.KW <= 0 || c.Stride <= 0 || c.Pad < 0 {
		return Shape{}, fmt.Errorf("conv2d: bad attributes %s", c.Describe())
	}
	if x[1] != c.Cin {
		return Shape{}, fmt.Errorf("conv2d: input has %d channels, want %d", x[1], c.Cin)
	}
	if len(c.Weight) != c.Cout*c.Cin*c.KH*c.KW {
		return Shape{}, fmt.Errorf("conv2d: %d weights, want %d", len(c.Weight), c.Cout*c.Cin*c.KH*c.KW)
	}
	if (c.Scale != nil && len(c.Scale) != c.Cout) || (c.Bias != nil && len(c.Bias) != c.Cout) {
		return Shape{}, fmt.Errorf("conv2d: scale/bias length differs from %d output channels", c.Cout)
	}
	if x[2]+2*c.Pad < c.KH || x[3]+2*c.Pad < c.KW {
		return Shape{}, fmt.Errorf("conv2d: %dx%d kernel larger than padded %dx%d input", c.KH, c.KW, x[2], x[3])
	}
	out := c.Out(x)
	if c.Residual && (len(in) < 2 || in[1] != out) {
		return Shape{}, fmt.Errorf("conv2d: residual shape %v differs from output %v", in[1], out)
	}
	return out, nil
}

// Out is the output shape for input shape x (attributes unchecked).
func (c *Conv2D) Out(x Shape) Shape {
	return Shape{x[0], c.Cout, (x[2]+2*c.Pad-c.KH)/c.Stride + 1, (x[3]+2*c.Pad-c.KW)/c.Stride + 1}
}

// Describe implements Op.
func (c *Conv2D) Describe() string {
	s := fmt.Sprintf("c=%d,o=%d,k=%dx%d,s=%d,p=%d", c.Cin, c.Cout, c.KH, c.KW, c.Stride, c.Pad)
	if c.ReLU {
		s += ",relu"
	}
	if c.Residual {
		s += ",residual"
	}
	return s
}

// BatchNorm is inference-mode batch normalisation:
//
//	out[n,c,y,x] = (in[n,c,y,x] - Mean[c]) / sqrt(Var[c] + Eps) * Gamma[c] + Beta[c].
type BatchNorm struct {
	Gamma, Beta, Mean, Var []float32
	Eps                    float64
}

// Kind implements Op.
func (b *BatchNorm) Kind() string { return "batchnorm" }

// Arity implements Op.
func (b *BatchNorm) Arity() int { return 1 }

// OutShape implements Op.
func (b *BatchNorm) OutShape(in []Shape) (Shape, error) {
	c := in[0][1]
	if len(b.Gamma) != c || len(b.Beta) != c || len(b.Mean) != c || len(b.Var) != c {
		return Shape{}, fmt.Errorf("batchnorm: parameters do not have %d channels", c)
	}
	return in[0], nil
}

// Describe implements Op.
func (b *BatchNorm) Describe() string { return fmt.Sprintf("eps=%g", b.Eps) }

// ReLU is out = max(in, 0).
type ReLU struct{}

// Kind implements Op.
func (ReLU) Kind() string { return "relu" }

// Arity implements Op.
func (ReLU) Arity() int { return 1 }

// OutShape implements Op.
func (ReLU) OutShape(in []Shape) (Shape, error) { return in[0], nil }

// Describe implements Op.
func (ReLU) Describe() string { return "" }

// Add is out = a + b, then max(·,0) if ReLU.
type Add struct{ ReLU bool }

// Kind implements Op.
func (Add) Kind() string { return "add" }

// Arity implements Op.
func (Add) Arity() int { return 2 }

// OutShape implements Op.
func (Add) OutShape(in []Shape) (Shape, error) {
	if in[0] != in[1] {
		return Shape{}, fmt.Errorf("add: shapes %v and %v differ", in[0], in[1])
	}
	return in[0], nil
}

// Describe implements Op.
func (a Add) Describe() string {
	if a.ReLU {
		return "relu"
	}
	return ""
}

// MaxPool is out[n,c,y,x] = max over the K×K window at (y*S-P, x*S-P) of
// in, ignoring positions outside the image (PyTorch's padding of -inf).
type MaxPool struct{ K, Stride, Pad int }

// Kind implements Op.
func (MaxPool) Kind() string { return "maxpool" }

// Arity implements Op.
func (MaxPool) Arity() int { return 1 }

// OutShape implements Op.
func (m MaxPool) OutShape(in []Shape) (Shape, error) {
	x := in[0]
	if m.K <= 0 || m.Stride <= 0 || m.Pad < 0 || 2*m.Pad > m.K {
		return Shape{}, fmt.Errorf("maxpool: bad attributes %s", m.Describe())
	}
	if x[2]+2*m.Pad < m.K || x[3]+2*m.Pad < m.K {
		return Shape{}, fmt.Errorf("maxpool: window %d larger than padded %dx%d input", m.K, x[2], x[3])
	}
	return Shape{x[0], x[1], (x[2]+2*m.Pad-m.K)/m.Stride + 1, (x[3]+2*m.Pad-m.K)/m.Stride + 1}, nil
}

// Describe implements Op.
func (m MaxPool) Describe() string { return fmt.Sprintf("k=%d,s=%d,p=%d", m.K, m.Stride, m.Pad) }

// GlobalAvgPool is out[n,c,0,0] = mean over y,x of in[n,c,y,x].
type GlobalAvgPool struct{}

// Kind implements Op.
func (GlobalAvgPool) Kind() string { return "avgpool" }

// Arity implements Op.
func (GlobalAvgPool) Arity() int { return 1 }

// OutShape implements Op.
func (GlobalAvgPool) OutShape(in []Shape) (Shape, error) {
	return Shape{in[0][0], in[0][1], 1, 1}, nil
}

// Describe implements Op.
func (GlobalAvgPool) Describe() string { return "global" }

// Linear is out[n,o] = Σ_i W[o,i] * in[n,i] + Bias[o], the input's C×H×W
// flattened to In features.
type Linear struct {
	In, Out int
	Weight  []float32 // [Out][In]
	Bias    []float32 // [Out] or nil
}

// Kind implements Op.
func (l *Linear) Kind() string { return "linear" }

// Arity implements Op.
func (l *Linear) Arity() int { return 1 }

// OutShape implements Op.
func (l *Linear) OutShape(in []Shape) (Shape, error) {
	if in[0][1]*in[0][2]*in[0][3] != l.In {
		return Shape{}, fmt.Errorf("linear: input has %d features, want %d", in[0][1]*in[0][2]*in[0][3], l.In)
	}
	if len(l.Weight) != l.In*l.Out || (l.Bias != nil && len(l.Bias) != l.Out) {
		return Shape{}, fmt.Errorf("linear: parameter sizes do not match %dx%d", l.Out, l.In)
	}
	return Shape{in[0][0], l.Out, 1, 1}, nil
}

// Describe implements Op.
func (l *Linear) Describe() string { return fmt.Sprintf("in=%d,out=%d", l.In, l.Out) }

// Softmax is out[n,c] = exp(in[n,c] - max_c in[n,·]) / Σ_c exp(in[n,c] - max),
// over the C×H×W elements of each batch item.
type Softmax struct{}

// Kind implements Op.
func (Softmax) Kind() string { return "softmax" }

// Arity implements Op.
func (Softmax) Arity() int { return 1 }

// OutShape implements Op.
func (Softmax) OutShape(in []Shape) (Shape, error) { return in[0], nil }

// Describe implements Op.
func (Softmax) Describe() string { return "" }

// Name formats an op applied to an input shape the way the op checker and
// profiles print it: conv2d(n=1,c=64,h=56,w=56,o=64,k=3x3,s=1,p=1,relu).
func Name(op Op, in Shape) string {
	d := op.Describe()
	d = strings.Replace(d, fmt.Sprintf("c=%d,", in[1]), "", 1)
	s := fmt.Sprintf("%s(n=%d,c=%d,h=%d,w=%d", op.Kind(), in[0], in[1], in[2], in[3])
	if d != "" {
		s += "," + d
	}
	return s + ")"
}
