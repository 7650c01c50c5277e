package graph

import (
	"math"
	"slices"
)

// FoldBatchNorm folds every batch-norm that directly follows a convolution
// (and is that convolution's only reader) into the convolution's weights and
// bias, computed in float64 and rounded once:
//
//	s = gamma / sqrt(var + eps);  w' = w * s;  b' = (b - mean) * s + beta.
//
// A convolution's existing scale is folded into its weights first.
func FoldBatchNorm(g *Graph) {
	cons := g.Consumers()
	var kept []*Node
	for _, n := range g.Nodes {
		bn, ok := n.Op.(*BatchNorm)
		if !ok {
			kept = append(kept, n)
			continue
		}
		src := n.Inputs[0]
		conv, ok := opOf[*Conv2D](src)
		if !ok || conv.Residual || conv.ReLU || len(cons[src.ID]) != 1 || g.isOutput(src) {
			kept = append(kept, n)
			continue
		}
		per := conv.Geom(nil).K()
		w := make([]float32, len(conv.Weight))
		bias := make([]float32, conv.Cout)
		for o := 0; o < conv.Cout; o++ {
			s := float64(bn.Gamma[o]) / math.Sqrt(float64(bn.Var[o])+bn.Eps)
			cs, cb := 1.0, 0.0
			if conv.Scale != nil {
				cs = float64(conv.Scale[o])
			}
			if conv.Bias != nil {
				cb = float64(conv.Bias[o])
			}
			for i := o * per; i < (o+1)*per; i++ {
				w[i] = float32(float64(conv.Weight[i]) * float64(cs*s))
			}
			bias[o] = float32(float64((cb-float64(bn.Mean[o]))*s) + float64(bn.Beta[o]))
		}
		folded := *conv
		folded.Weight, folded.Scale, folded.Bias = w, nil, bias
		folded.ReLU = bn.ReLU
		src.Producer.Op = &folded
		replace(g, n.Out, src)
	}
	g.Nodes = kept
	g.renumber()
}

// Fuse merges into each convolution's epilogue the residual addition and the
// ReLU that follow it when the convolution's output has no other reader:
// conv → add(·, r) → relu becomes one conv with Residual and ReLU set. A
// ReLU after a batch-norm that was not folded (DenseNet's pre-activations)
// joins the batch-norm in the same way.
func Fuse(g *Graph) {
	for changed := true; changed; {
		changed = false
		cons := g.Consumers()
		var kept []*Node
		for _, n := range g.Nodes {
			if fuseInto(g, n, cons) {
				changed = true
				continue
			}
			kept = append(kept, n)
		}
		g.Nodes = kept
		g.renumber()
	}
}

// fuseInto tries to absorb node n into the convolution producing its input.
func fuseInto(g *Graph, n *Node, cons map[int][]*Node) bool {
	single := func(v *Value) bool { return len(cons[v.ID]) == 1 && !g.isOutput(v) }
	switch op := n.Op.(type) {
	case ReLU:
		src := n.Inputs[0]
		if !single(src) {
			return false
		}
		if bn, ok := opOf[*BatchNorm](src); ok && !bn.ReLU {
			b := *bn
			b.ReLU = true
			src.Producer.Op = &b
			replace(g, n.Out, src)
			return true
		}
		conv, ok := opOf[*Conv2D](src)
		if !ok {
			return false
		}
		c := *conv
		c.ReLU = true
		src.Producer.Op = &c
		replace(g, n.Out, src)
		return true
	case Add:
		for i, src := range n.Inputs {
			other := n.Inputs[1-i]
			conv, ok := opOf[*Conv2D](src)
			if !ok || conv.Residual || conv.ReLU || !single(src) || other == src {
				continue
			}
			// The residual must be computed before the convolution reads it.
			if other.Producer != nil && other.Producer.ID > src.Producer.ID {
				continue
			}
			c := *conv
			c.Residual, c.ReLU = true, op.ReLU
			src.Producer.Op = &c
			src.Producer.Inputs = append(src.Producer.Inputs[:1:1], other)
			replace(g, n.Out, src)
			return true
		}
	}
	return false
}

// FusePreActivation merges each batch-norm (with its ReLU, after Fuse)
// into the convolution that reads it as the convolution's input stage
// (Conv2D.PreScale, PreShift, PreReLU): DenseNet's pre-activations then
// cost no pass of their own. It merges where the batch-norm's output has
// no other reader and is no graph output, the convolution has no padding
// and no input stage yet, and ok accepts the merged convolution on its
// input shape (the GPU executor asks whether a kernel that applies the
// stage is the one its device would run anyway). ok nil accepts all.
func FusePreActivation(g *Graph, ok func(c *Conv2D, in Shape) bool) {
	cons := g.Consumers()
	gone := map[*Node]bool{}
	for _, n := range g.Nodes {
		conv, isConv := n.Op.(*Conv2D)
		if !isConv || conv.PreScale != nil || conv.Pad != [4]int{} {
			continue
		}
		v := n.Inputs[0]
		bn, isBN := opOf[*BatchNorm](v)
		if !isBN || len(cons[v.ID]) != 1 || g.isOutput(v) {
			continue
		}
		c := *conv
		c.PreScale, c.PreShift = bn.Affine()
		c.PreReLU = bn.ReLU
		x := v.Producer.Inputs[0]
		if ok != nil && !ok(&c, x.Shape) {
			continue
		}
		n.Op = &c
		n.Inputs[0] = x
		gone[v.Producer] = true
	}
	g.Nodes = slices.DeleteFunc(g.Nodes, func(n *Node) bool { return gone[n] })
	g.renumber()
}

// opOf returns v's producing op as T.
func opOf[T Op](v *Value) (T, bool) {
	var zero T
	if v.Producer == nil {
		return zero, false
	}
	t, ok := v.Producer.Op.(T)
	return t, ok
}

// replace makes every reader of old (and the output list) read new instead;
// new keeps old's name.
func replace(g *Graph, old, new *Value) {
	for _, n := range g.Nodes {
		for i, v := range n.Inputs {
			if v == old {
				n.Inputs[i] = new
			}
		}
	}
	for i, v := range g.Outputs {
		if v == old {
			g.Outputs[i] = new
		}
	}
	new.Name = old.Name
}

// LinearAsConv rewrites every Linear into Reshape to N×In×1×1, a 1×1
// convolution and Flatten (the views move no data): on CPU adapters a
// convolution kernel that reads textures beats the linear kernel's
// storage-buffer loads (llvmpipe loads those one lane at a time). The GPU
// executor applies it where its device's capabilities say so.
func LinearAsConv(g *Graph) {
	var lins []*Node
	for _, n := range g.Nodes {
		if _, ok := n.Op.(*Linear); ok {
			lins = append(lins, n)
		}
	}
	for _, n := range lins {
		lin := n.Op.(*Linear)
		x := n.Inputs[0]
		img := g.newNode(n.Name+".image", Reshape{To: Shape{-1, lin.In, 1, 1}}, Shape{x.Shape[0], lin.In, 1, 1}, x)
		cn := g.newNode(n.Name, lin.AsConv(), Shape{x.Shape[0], lin.Out, 1, 1}, img.Out)
		n.Op, n.Inputs = Flatten{Axis: 1}, []*Value{cn.Out}
		i := slices.Index(g.Nodes, n)
		g.Nodes = slices.Insert(g.Nodes, i, img, cn)
		g.renumber()
	}
}

// newNode returns a node (not yet in g.Nodes) applying op to in, with a
// new output value of shape s.
func (g *Graph) newNode(name string, op Op, s Shape, in ...*Value) *Node {
	out := &Value{ID: g.nextID, Name: name, Shape: s}
	g.nextID++
	n := &Node{Name: name, Op: op, Inputs: in, Out: out}
	out.Producer = n
	return n
}

// Optimize applies FoldBatchNorm then Fuse.
func Optimize(g *Graph) {
	FoldBatchNorm(g)
	Fuse(g)
}
