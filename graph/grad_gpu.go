package graph

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// GPUDifferentiable is implemented by ops whose backward pass has GPU
// kernels (shaders/*_grad.wgsl): LowerGrad records, for one node, the
// launches that compute its input and parameter gradients from its
// output gradient, its forward inputs and output. A GPU backward executor
// (graph/gpugrad) records every node's launches in reverse graph order
// into one submission.
type GPUDifferentiable interface {
	Differentiable
	// LowerGrad records the node's backward launches for inputs of
	// shapes in and output of shape out.
	LowerGrad(l GradLowerer, in []Shape, out Shape) error
	// GradNeeds says which forward values LowerGrad's launches bind.
	GradNeeds() GradNeeds
}

// GradNeeds names the forward values an op's backward launches read: the
// inputs In (by index) and, if Out, the output. The GPU backward executor
// keeps a forward value only until the last node that needs it has run,
// and refuses a launch that binds a value its op did not name.
type GradNeeds struct {
	In  []int
	Out bool
}

// needIn is GradNeeds of input 0 and, if out, the output.
func needIn(out bool) GradNeeds { return GradNeeds{In: []int{0}, Out: out} }

// GradLowerer is what an op's backward lowering sees of the GPU backward
// executor: the device's capabilities and a way to record launches whose
// bindings name the node's forward values, their gradients, its trainable
// parameters and their gradients, constants and scratch buffers. A node's
// launches must write every parameter's gradient (DParam) and every
// wanted input's (DIn) in full, and may read a scratch buffer only after
// writing it: the executor hands out reused memory, not zeros, and sums
// the gradients of values several nodes read.
type GradLowerer interface {
	// Caps are the device's capabilities.
	Caps() gpu.Caps
	// Launch records one launch.
	Launch(l shaders.Launch, binds map[string]GradRes)
	// WantsDIn reports whether the gradient at input i is wanted. A graph
	// input's whose gradient the caller does not read is not, and a
	// lowering may then skip the launches that only compute it.
	WantsDIn(i int) bool
}

// GradResKind says what a GradRes names.
type GradResKind int

// The buffers a backward launch binds.
const (
	GradIn      GradResKind = iota // the node's forward input Index
	GradOut                        // the node's forward output
	GradDOut                       // the gradient at the node's output
	GradDIn                        // the gradient at the node's input Index
	GradParam                      // trainable parameter Index (Trainable's order)
	GradDParam                     // the gradient of trainable parameter Index
	GradConst                      // constant values Vals, uploaded once
	GradScratch                    // the node's scratch buffer Index of N floats
)

// GradRes is a buffer a backward launch binds.
type GradRes struct {
	Kind  GradResKind
	Index int
	N     int       // GradScratch: its length
	Vals  []float32 // GradConst: the values
}

// The resources of a backward launch.
var (
	gIn      = func(i int) GradRes { return GradRes{Kind: GradIn, Index: i} }
	gOut     = GradRes{Kind: GradOut}
	gDOut    = GradRes{Kind: GradDOut}
	gDIn     = func(i int) GradRes { return GradRes{Kind: GradDIn, Index: i} }
	gParam   = func(i int) GradRes { return GradRes{Kind: GradParam, Index: i} }
	gDParam  = func(i int) GradRes { return GradRes{Kind: GradDParam, Index: i} }
	gScratch = func(i, n int) GradRes { return GradRes{Kind: GradScratch, Index: i, N: n} }
)

// maxGroups is the device's per-dimension workgroup limit.
func maxGroups(l GradLowerer) uint32 { return l.Caps().MaxWorkgroupsPerDimension }

// lowerReLUMask records dz = dout masked by the output (a fused ReLU)
// into scratch 0 and returns dz's buffer; without relu, dout itself.
func lowerReLUMask(l GradLowerer, relu bool, out Shape) (GradRes, error) {
	if !relu {
		return gDOut, nil
	}
	k, err := shaders.ReLUGrad(out.Numel(), maxGroups(l))
	if err != nil {
		return GradRes{}, err
	}
	dz := gScratch(0, out.Numel())
	l.Launch(k, map[string]GradRes{"dy": gDOut, "src": gOut, "dx": dz})
	return dz, nil
}

// lowerCopy records dst = src over n floats.
func lowerCopy(l GradLowerer, src, dst GradRes, n int) error {
	k, err := shaders.Copy(n, maxGroups(l))
	if err != nil {
		return err
	}
	l.Launch(k, map[string]GradRes{"src": src, "dst": dst})
	return nil
}

// LowerGrad implements GPUDifferentiable: the convolution's sum's
// gradient dz (masked by a fused ReLU), then the input, weight and bias
// gradients, and a residual's (dz). A Scale or an input stage has no
// backward kernel: training graphs keep batch-norms apart.
func (c *Conv2D) LowerGrad(l GradLowerer, in []Shape, out Shape) error {
	if c.Scale != nil || c.PreScale != nil {
		return fmt.Errorf("conv2d %s: no GPU gradient for a scale or an input stage", c.Describe())
	}
	dz, err := lowerReLUMask(l, c.ReLU, out)
	if err != nil {
		return err
	}
	g := c.Geom(in[0])
	g.ReLU, g.Residual = false, false
	return lowerConvGrad(l, g, dz, c.Bias != nil, c.Residual, out)
}

// GradNeeds implements GPUDifferentiable: the input (the weights'
// gradient) and, for a fused ReLU's mask, the output; not the residual.
func (c *Conv2D) GradNeeds() GradNeeds { return needIn(c.ReLU) }

// lowerConvGrad records the gradients of convolution g's sum, given at
// dz: input (if wanted), weights (parameter 0), bias (parameter 1) if
// bias, and the residual input 1 (a copy of dz, if wanted) if res.
func lowerConvGrad(l GradLowerer, g shaders.ConvGeom, dz GradRes, bias, res bool, out Shape) error {
	ki, err := shaders.ConvInputGrad(g, maxGroups(l))
	if err != nil {
		return err
	}
	kw, err := shaders.ConvWeightGrad(g, maxGroups(l))
	if err != nil {
		return err
	}
	if l.WantsDIn(0) {
		l.Launch(ki, map[string]GradRes{"dy": dz, "weight": gParam(0), "dx": gDIn(0)})
	}
	l.Launch(kw, map[string]GradRes{"dy": dz, "src": gIn(0), "dweight": gDParam(0)})
	if bias {
		kb, err := shaders.ChannelSum(g.N, g.Cout, g.OH()*g.OW(), maxGroups(l))
		if err != nil {
			return err
		}
		l.Launch(kb, map[string]GradRes{"dy": dz, "dbias": gDParam(1)})
	}
	if res && l.WantsDIn(1) {
		return lowerCopy(l, dz, gDIn(1), out.Numel())
	}
	return nil
}

// LowerGrad implements GPUDifferentiable as a 1×1 convolution's gradient
// of an N×In×1×1 image.
func (ln *Linear) LowerGrad(l GradLowerer, in []Shape, out Shape) error {
	c := ln.AsConv()
	return lowerConvGrad(l, c.Geom(Shape{in[0][0], ln.In, 1, 1}), gDOut, ln.Bias != nil, false, out)
}

// GradNeeds implements GPUDifferentiable: the input (the weights'
// gradient).
func (ln *Linear) GradNeeds() GradNeeds { return needIn(false) }

// LowerGrad implements GPUDifferentiable: the mask of the output, which
// is positive where the input is.
func (ReLU) LowerGrad(l GradLowerer, _ []Shape, out Shape) error {
	k, err := shaders.ReLUGrad(out.Numel(), maxGroups(l))
	if err != nil {
		return err
	}
	l.Launch(k, map[string]GradRes{"dy": gDOut, "src": gOut, "dx": gDIn(0)})
	return nil
}

// GradNeeds implements GPUDifferentiable: the output, which the next op
// usually keeps anyway, rather than the input.
func (ReLU) GradNeeds() GradNeeds { return GradNeeds{Out: true} }

// LowerGrad implements GPUDifferentiable.
func (c Clip) LowerGrad(l GradLowerer, _ []Shape, out Shape) error {
	k, err := shaders.ClipGrad(out.Numel(), c.Min, c.Max, maxGroups(l))
	if err != nil {
		return err
	}
	l.Launch(k, map[string]GradRes{"dy": gDOut, "src": gIn(0), "dx": gDIn(0)})
	return nil
}

// GradNeeds implements GPUDifferentiable: the input.
func (Clip) GradNeeds() GradNeeds { return needIn(false) }

// LowerGrad implements GPUDifferentiable: both inputs get the output
// gradient, masked by a fused ReLU.
func (a Add) LowerGrad(l GradLowerer, _ []Shape, out Shape) error {
	if a.ReLU {
		k, err := shaders.ReLUGrad(out.Numel(), maxGroups(l))
		if err != nil {
			return err
		}
		l.Launch(k, map[string]GradRes{"dy": gDOut, "src": gOut, "dx": gDIn(0)})
		return lowerCopy(l, gDIn(0), gDIn(1), out.Numel())
	}
	if err := lowerCopy(l, gDOut, gDIn(0), out.Numel()); err != nil {
		return err
	}
	return lowerCopy(l, gDOut, gDIn(1), out.Numel())
}

// GradNeeds implements GPUDifferentiable: the output for a fused ReLU's
// mask, else nothing.
func (a Add) GradNeeds() GradNeeds { return GradNeeds{Out: a.ReLU} }

// LowerGrad implements GPUDifferentiable: the gradient passes unchanged.
func (view) LowerGrad(l GradLowerer, _ []Shape, out Shape) error {
	return lowerCopy(l, gDOut, gDIn(0), out.Numel())
}

// GradNeeds implements GPUDifferentiable: nothing.
func (view) GradNeeds() GradNeeds { return GradNeeds{} }

// LowerGrad implements GPUDifferentiable.
func (p Pool) LowerGrad(l GradLowerer, in []Shape, _ Shape) error {
	k, err := shaders.PoolGrad(p.Geom(in[0]), maxGroups(l))
	if err != nil {
		return err
	}
	l.Launch(k, map[string]GradRes{"dy": gDOut, "src": gIn(0), "dx": gDIn(0)})
	return nil
}

// GradNeeds implements GPUDifferentiable: the input, which a max pool's
// gradient reads (an average pool's binds it unread).
func (Pool) GradNeeds() GradNeeds { return needIn(false) }

// LowerGrad implements GPUDifferentiable as the average pool of one
// H×W window.
func (GlobalAvgPool) LowerGrad(l GradLowerer, in []Shape, out Shape) error {
	s := in[0]
	return Pool{KH: s[2], KW: s[3], Stride: [2]int{1, 1}}.LowerGrad(l, in, out)
}

// GradNeeds implements GPUDifferentiable: Pool's.
func (GlobalAvgPool) GradNeeds() GradNeeds { return Pool{}.GradNeeds() }

// bnFwd is the binding "fwd" of the batch-norm gradient kernels, which
// read the output only for a fused ReLU's mask: the output, or else the
// input in its place, unread.
func bnFwd(relu bool) GradRes {
	if relu {
		return gOut
	}
	return gIn(0)
}

// LowerGrad implements GPUDifferentiable: the statistics (into scratch
// 0: mean and 1/sqrt(var+eps), a row of C each) and the parameters'
// gradients, then the input gradient.
func (b *BatchNormTrain) LowerGrad(l GradLowerer, in []Shape, _ Shape) error {
	s := in[0]
	c := s[1]
	ks, ki, err := shaders.BatchNormGrad(s[0], c, s.Numel()/(s[0]*c), b.Eps, b.ReLU, maxGroups(l))
	if err != nil {
		return err
	}
	stats, fwd := gScratch(0, 2*c), bnFwd(b.ReLU)
	l.Launch(ks, map[string]GradRes{"dy": gDOut, "src": gIn(0), "fwd": fwd, "stats": stats, "dgamma": gDParam(0), "dbeta": gDParam(1)})
	l.Launch(ki, map[string]GradRes{"dy": gDOut, "src": gIn(0), "fwd": fwd, "gamma": gParam(0), "stats": stats,
		"dgamma": gDParam(0), "dbeta": gDParam(1), "dx": gDIn(0)})
	return nil
}

// GradNeeds implements GPUDifferentiable: the input and, for a fused
// ReLU's mask, the output.
func (b *BatchNormTrain) GradNeeds() GradNeeds { return needIn(b.ReLU) }

// LowerGrad implements GPUDifferentiable.
func (ce SoftmaxCrossEntropy) LowerGrad(l GradLowerer, in []Shape, _ Shape) error {
	k, err := shaders.CrossEntropyGrad(in[0][0], in[0][1], maxGroups(l))
	if err != nil {
		return err
	}
	l.Launch(k, map[string]GradRes{"dy": gDOut, "src": gIn(0), "labels": {Kind: GradConst, Vals: ce.labels()}, "dx": gDIn(0)})
	return nil
}

// GradNeeds implements GPUDifferentiable: the logits.
func (SoftmaxCrossEntropy) GradNeeds() GradNeeds { return needIn(false) }

// LowerGrad implements GPUDifferentiable: the input's, Gamma's and Beta's
// gradients in one launch, Mean and Var constants.
func (b *BatchNorm) LowerGrad(l GradLowerer, in []Shape, _ Shape) error {
	s := in[0]
	c := s[1]
	k, err := shaders.BatchNormEvalGrad(s[0], c, s.Numel()/(s[0]*c), b.Eps, b.ReLU, maxGroups(l))
	if err != nil {
		return err
	}
	stats := GradRes{Kind: GradConst, Vals: append(append([]float32(nil), b.Mean...), b.Var...)}
	l.Launch(k, map[string]GradRes{"dy": gDOut, "src": gIn(0), "fwd": bnFwd(b.ReLU), "gamma": gParam(0), "stats": stats,
		"dgamma": gDParam(0), "dbeta": gDParam(1), "dx": gDIn(0)})
	return nil
}

// GradNeeds implements GPUDifferentiable: the input and, for a fused
// ReLU's mask, the output.
func (b *BatchNorm) GradNeeds() GradNeeds { return needIn(b.ReLU) }

// LowerGrad implements GPUDifferentiable: dx = y ⊙ (dy − Σ dy⊙y) along
// each row, from the output y.
func (Softmax) LowerGrad(l GradLowerer, in []Shape, _ Shape) error {
	rows, n := softmaxRows(in[0])
	k, err := shaders.SoftmaxGrad(rows, n, maxGroups(l))
	if err != nil {
		return err
	}
	l.Launch(k, map[string]GradRes{"dy": gDOut, "fwd": gOut, "dx": gDIn(0)})
	return nil
}

// GradNeeds implements GPUDifferentiable: the output.
func (Softmax) GradNeeds() GradNeeds { return GradNeeds{Out: true} }
