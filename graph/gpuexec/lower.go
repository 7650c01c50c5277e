package gpuexec

import (
	"errors"
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// scratch names the program-wide buffers and textures between the
// launches of multi-launch convolutions (shaders.ConvLaunch).
type scratch int

const (
	noScratch scratch = iota
	scratch0          // buffer: Pre's output
	scratch1          // buffer: Post's input
	packed0           // texture: the input copied as it is (ConvLaunch.Texels)
	packed1           // texture: the input packed, four channels a texel
)

// binding is what one named binding of a step binds, resolved once the
// program's buffers exist: a node's input or output or a parameter
// (Res), or a scratch; a parameter may be transformed before upload and
// may go into a texture.
type binding struct {
	res graph.Res
	scr scratch
	xf  func([]float32) []float32
	tag string
	tex bool
}

// step is one launch of a node, as lowered.
type step struct {
	node     *graph.Node
	variant  string
	l        shaders.Launch
	binds    map[string]binding
	inTexels int // > 0: copy the node's input 0 into packed0 first
}

// lowering collects one node's launches (graph.Lowerer).
type lowering struct {
	e      *Executor
	n      *graph.Node
	plan   *graph.Plan
	steps  []step
	elems  [2]int // scratch buffer sizes needed
	texels int    // scratch texture size needed
	err    error
}

// Caps implements graph.Lowerer.
func (lw *lowering) Caps() gpu.Caps { return lw.e.caps }

// Layout implements graph.Lowerer: the plan's layout of a node input or
// output; a parameter is contiguous.
func (lw *lowering) Layout(r graph.Res) graph.Layout {
	switch r.Kind {
	case graph.ResIn:
		if r.Index >= 0 && r.Index < len(lw.n.Inputs) {
			return lw.plan.Layout[lw.n.Inputs[r.Index].ID]
		}
	case graph.ResOut:
		return lw.plan.Layout[lw.n.Out.ID]
	}
	return graph.Layout{}
}

// InPlace implements graph.Lowerer.
func (lw *lowering) InPlace(i int) bool {
	return i >= 0 && i < len(lw.n.Inputs) && lw.plan.InPlace(lw.n, i)
}

// Launch implements graph.Lowerer.
func (lw *lowering) Launch(l shaders.Launch, binds map[string]graph.Res) {
	bs := map[string]binding{}
	for name, r := range binds {
		bs[name] = binding{res: r}
	}
	lw.add(step{node: lw.n, l: l, binds: bs})
}

// add appends a step. Its bindings are checked once, against the kernel's
// WGSL, when the dispatch is recorded (gpu.Device.Bind); the shaders tests
// check every launch's Binds against its WGSL.
func (lw *lowering) add(s step) { lw.steps = append(lw.steps, s) }

func (lw *lowering) fail(err error) {
	if lw.err == nil {
		lw.err = err
	}
}

// Conv implements graph.Lowerer: the kernel is chosen (chooseConv) and
// its launches bound by role (shaders.ConvLaunch).
func (lw *lowering) Conv(g shaders.ConvGeom, in graph.Res, w, scale, bias, pre []float32, res graph.Res) {
	variant, cl, err := lw.e.chooseConv(g)
	if err != nil {
		lw.fail(err)
		return
	}
	weight := binding{res: graph.Param("weight", w), xf: cl.Weights, tag: cl.WeightsTag, tex: cl.Texels > 0}
	epi := map[string]binding{
		"scale": {res: graph.ParamOr("scale", scale, g.Cout, 1)},
		"bias":  {res: graph.ParamOr("bias", bias, g.Cout, 0)},
		"res":   {res: res}, // unread without a residual
		"pre":   {res: graph.Param("pre", pre)},
	}
	pick := func(l shaders.Launch, all map[string]binding) map[string]binding {
		out := map[string]binding{}
		for _, name := range l.Binds {
			if b, ok := all[name]; ok {
				out[name] = b
			} else if b, ok := epi[name]; ok {
				out[name] = b
			}
		}
		return out
	}
	src := binding{res: in}
	if cl.Pre != nil {
		dst, copyIn := binding{scr: scratch0}, 0
		if cl.Texels > 0 {
			dst, copyIn = binding{scr: packed1}, cl.InTexels
		}
		lw.add(step{node: lw.n, variant: variant, l: *cl.Pre, inTexels: copyIn,
			binds: pick(*cl.Pre, map[string]binding{"src": src, "flat": {scr: packed0}, "dst": dst})})
		src = dst
	}
	dst := binding{res: graph.Out()}
	if cl.Post != nil {
		dst = binding{scr: scratch1}
	}
	lw.add(step{node: lw.n, variant: variant, l: cl.Launch, binds: pick(cl.Launch, map[string]binding{"src": src, "weight": weight, "dst": dst})})
	if cl.Post != nil {
		lw.add(step{node: lw.n, variant: variant, l: *cl.Post,
			binds: pick(*cl.Post, map[string]binding{"part": {scr: scratch1}, "prod": {scr: scratch1}, "dst": {res: graph.Out()}})})
	}
	lw.elems[0], lw.elems[1] = max(lw.elems[0], cl.Scratch[0]), max(lw.elems[1], cl.Scratch[1])
	lw.texels = max(lw.texels, cl.Texels)
}

// chooseConv picks g's kernel: Options.ConvKernel's choice, else the
// first of the registry's defaults (shaders.Defaults) whose launches build
// and whose scratch buffers fit the device's limits (Winograd's at a
// large batch may not).
func (e *Executor) chooseConv(g shaders.ConvGeom) (string, shaders.ConvLaunch, error) {
	order, forced := e.convOrder(g)
	if forced {
		l, err := shaders.Conv2D(g, order[0], e.caps)
		return order[0], l, err
	}
	var errs []error
	for _, v := range order {
		l, err := shaders.Conv2D(g, v, e.caps)
		if err == nil && !Fits(l, e.caps) {
			err = fmt.Errorf("%s: scratch of %v floats passes the device's buffer limits", v, l.Scratch)
		}
		if err == nil {
			return v, l, nil
		}
		errs = append(errs, err)
	}
	return "", shaders.ConvLaunch{}, fmt.Errorf("no convolution kernel for %s: %w", g, errors.Join(errs...))
}

// convOrder lists the kernels chooseConv tries for g, in order: the one
// Options.ConvKernel names, else the one Options.Tuner picks (forced: no
// other is tried), else the defaults.
func (e *Executor) convOrder(g shaders.ConvGeom) (order []string, forced bool) {
	if e.Opt.ConvKernel != nil {
		if v := e.Opt.ConvKernel(g); v != "" {
			return []string{v}, true
		}
	}
	if e.Opt.Tuner != nil {
		if v := e.Opt.Tuner.Kernel(g); v != "" {
			return []string{v}, true
		}
	}
	return shaders.Defaults(g, e.caps), false
}

// Fits reports whether l's scratch buffers are within the buffer limits
// of a device with capabilities c.
func Fits(l shaders.ConvLaunch, c gpu.Caps) bool {
	for _, e := range l.Scratch {
		if n := 4 * uint64(e); n > c.MaxBufferSize || n > c.MaxStorageBufferBinding {
			return false
		}
	}
	return true
}

// Kernel returns the convolution kernel node n runs as on the executor's
// device ("" for other ops): a convolution's choice, or on devices where
// linear layers run as convolutions (graph.LinearAsConv) a Linear's. Tools
// that time or label single layers use it to pick what the network runs.
func (e *Executor) Kernel(n *graph.Node) string {
	var g shaders.ConvGeom
	switch op := n.Op.(type) {
	case *graph.Conv2D:
		g = op.Geom(n.Inputs[0].Shape)
	case *graph.Linear:
		if !e.caps.CPU {
			return ""
		}
		g = op.AsConv().Geom(graph.Shape{n.Inputs[0].Shape[0], op.In, 1, 1})
	default:
		return ""
	}
	v, _, err := e.chooseConv(g)
	if err != nil {
		return ""
	}
	return v
}
