package gpuexec

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// forDevice returns g with the rewrites for a device with capabilities c
// applied (graph.LinearAsConv on CPU adapters): g itself, or a rewritten
// clone.
func forDevice(g *graph.Graph, c gpu.Caps) *graph.Graph {
	if c.CPU {
		g = g.Clone()
		graph.LinearAsConv(g)
	}
	return g
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
// CompileGPU chooses them. Nothing touches a GPU unless opt.ConvKernel does
// (a Tuner times kernels on its own device).
func Launches(g *graph.Graph, c gpu.Caps, opt Options) ([]NodeLaunch, error) {
	e := &Executor{Opt: opt, caps: c}
	g = forDevice(g, c)
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
