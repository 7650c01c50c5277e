package gpugrad

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// forward records node n's forward launches (its Op.Lower) into the
// values' buffers. A view's output is a copy of its input (the backward
// pass writes the two gradients apart).
func (b *backward) forward(n *graph.Node) error {
	l := &fwdLowerer{b: b, n: n}
	if v, ok := n.Op.(graph.View); ok && v.IsView() {
		k, err := shaders.Copy(n.Out.Shape.Numel(), b.dev.Caps().MaxWorkgroupsPerDimension)
		if err != nil {
			return err
		}
		return b.launch(n.Name, k, gpu.Binds{"src": b.val[n.Inputs[0].ID], "dst": b.val[n.Out.ID]})
	}
	if err := n.Op.Lower(l, n.InShapes(), n.Out.Shape); err != nil {
		return fmt.Errorf("gpugrad: %s: %w", n.Name, err)
	}
	if l.err != nil {
		return fmt.Errorf("gpugrad: %s: %w", n.Name, l.err)
	}
	return nil
}

// fwdLowerer is the graph.Lowerer of one node's forward pass: every value
// contiguous in its own buffer.
type fwdLowerer struct {
	b   *backward
	n   *graph.Node
	err error
}

// Caps implements graph.Lowerer.
func (l *fwdLowerer) Caps() gpu.Caps { return l.b.dev.Caps() }

// Layout implements graph.Lowerer: every value is contiguous.
func (l *fwdLowerer) Layout(r graph.Res) graph.Layout {
	if r.Kind == graph.ResIn {
		return graph.Contiguous(l.n.Inputs[r.Index].Shape)
	}
	return graph.Contiguous(l.n.Out.Shape)
}

// InPlace implements graph.Lowerer: no value lies in another's memory.
func (l *fwdLowerer) InPlace(int) bool { return false }

// Launch implements graph.Lowerer.
func (l *fwdLowerer) Launch(k shaders.Launch, binds map[string]graph.Res) {
	if l.err != nil {
		return
	}
	gb, err := bindAll(k, binds, l.resolve)
	if err != nil {
		l.err = err
		return
	}
	l.err = l.b.launch(l.n.Name+"."+k.Key.Kernel, k, gb)
}

func (l *fwdLowerer) resolve(r graph.Res) (*gpu.Buffer, error) {
	switch r.Kind {
	case graph.ResIn:
		if r.Index < 0 || r.Index >= len(l.n.Inputs) {
			return nil, fmt.Errorf("input %d out of range", r.Index)
		}
		return l.b.val[l.n.Inputs[r.Index].ID], nil
	case graph.ResOut:
		return l.b.val[l.n.Out.ID], nil
	}
	v := r.Data()
	return l.b.mem.constant(l.n.Name+"."+r.Name, v)
}

// Conv implements graph.Lowerer through the general convolution kernel,
// which takes every geometry in one launch.
func (l *fwdLowerer) Conv(g shaders.ConvGeom, in graph.Res, w, scale, bias, pre []float32, res graph.Res) {
	if l.err != nil {
		return
	}
	cl, err := shaders.Conv2D(g, shaders.ConvGeneralVariant, l.Caps())
	if err != nil {
		l.err = err
		return
	}
	if cl.Pre != nil || cl.Post != nil || cl.Texels > 0 {
		l.err = fmt.Errorf("%s: the general kernel needs more than one launch", g)
		return
	}
	if cl.Weights != nil {
		w = cl.Weights(w)
	}
	l.Launch(cl.Launch, map[string]graph.Res{"src": in, "weight": graph.Param("weight", w),
		"scale": graph.ParamOr("scale", scale, g.Cout, 1), "bias": graph.ParamOr("bias", bias, g.Cout, 0),
		"res": res, "pre": graph.Param("pre", pre), "dst": graph.Out()})
}
