package gpuexec

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// forDevice returns a clone of g with the rewrites for the executor's
// device applied: graph.LinearAsConv on CPU adapters, and
// graph.FusePreActivation where the kernel the executor would run for
// the convolution applies the input stage (preStaged).
func (e *Executor) forDevice(g *graph.Graph) *graph.Graph {
	g = g.Clone()
	if e.caps.CPU {
		graph.LinearAsConv(g)
	}
	graph.FusePreActivation(g, func(conv *graph.Conv2D, in graph.Shape) bool { return e.preStaged(conv.Geom(in)) })
	return g
}

// preStaged reports whether the kernel the executor picks for g (which
// has an input stage) without the stage applies the stage and is picked
// with it too: fusing a pre-activation then saves its pass without moving
// the convolution to another kernel (the Winograd and im2col GEMM kernels
// apply no input stage). The pick is the first of chooseConv's order
// (convOrder). Every kernel that applies the stage also reads its input
// at any layout, so that a DenseNet layer's input at batch 2 and more, a
// slice of its block's concatenation with a batch stride, is read in
// place (Conv2D.StridedIn).
func (e *Executor) preStaged(g shaders.ConvGeom) bool {
	pick := func(g shaders.ConvGeom) string {
		if order, _ := e.convOrder(g); len(order) > 0 {
			return order[0]
		}
		return ""
	}
	plain := g
	plain.Pre, plain.PreReLU = false, false
	v := pick(plain)
	k, ok := shaders.Kernel(v)
	return ok && k.Computes(g) && pick(g) == v
}

// lower lowers every node of g (rewritten for the device already) with
// its memory plan: the steps in order, and the scratch buffers and
// textures they need.
func (e *Executor) lower(g *graph.Graph, plan *graph.Plan) (steps []step, elems [2]int, texels int, err error) {
	for _, n := range g.Nodes {
		lw := &lowering{e: e, n: n, plan: plan}
		if err := n.Op.Lower(lw, n.InShapes(), n.Out.Shape); err != nil {
			return nil, elems, 0, fmt.Errorf("%s: %s: %w", n.Name, n, err)
		}
		if lw.err != nil {
			return nil, elems, 0, fmt.Errorf("%s: %s: %w", n.Name, n, lw.err)
		}
		steps = append(steps, lw.steps...)
		elems[0], elems[1] = max(elems[0], lw.elems[0]), max(elems[1], lw.elems[1])
		texels = max(texels, lw.texels)
	}
	return steps, elems, texels, nil
}

// NodeLaunch is one kernel launch of a lowered graph: the node it computes
// (of the graph as rewritten for the device), the convolution kernel
// chosen for it, for convolutions, and the launch.
type NodeLaunch struct {
	Node    *graph.Node
	Variant string
	shaders.Launch
}

// Launches returns, in order, the launches that CompileGPU would record for
// g on a device with capabilities c and options opt, without a device: the
// device's rewrites applied and the convolution kernels chosen as
// CompileGPU chooses them. Nothing touches a GPU unless opt.ConvKernel or
// opt.Tuner does (a Tuner times kernels on its own device, first every
// shape of g it has not seen, as CompileGPU has it do).
func Launches(g *graph.Graph, c gpu.Caps, opt Options) ([]NodeLaunch, error) {
	if opt.Tuner != nil {
		opt.Tuner.Tune(g)
	}
	e := &Executor{Opt: opt, caps: c}
	g = e.forDevice(g)
	steps, _, _, err := e.lower(g, graph.NewPlan(g))
	if err != nil {
		return nil, err
	}
	out := make([]NodeLaunch, len(steps))
	for i, s := range steps {
		out[i] = NodeLaunch{Node: s.node, Variant: s.variant, Launch: s.l}
	}
	return out, nil
}
