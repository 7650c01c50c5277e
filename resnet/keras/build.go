package keras

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/graph"
)

// BuildOptions shape the graph Build returns; its fields are those of
// resnet.BuildOptions.
type BuildOptions struct {
	Batch, Height, Width int  // input size; 0 means 1×224×224
	WithStages           bool // also output the stem's and each stack's activations (before the logits)
	Softmax              bool // also output the class probabilities (after the logits)
}

// Build returns the network's unoptimised graph over NCHW input in the
// channel order of Preprocess's tensors. Its outputs are, in order: the
// stem (pool1_pool) and the four stacks' outputs if WithStages, the logits
// (the predictions layer before its softmax), the probabilities if
// Softmax. Nodes are named as Keras names its layers.
func (m *Model) Build(o BuildOptions) (*graph.Graph, error) {
	if o.Batch == 0 {
		o.Batch = 1
	}
	if o.Height == 0 {
		o.Height, o.Width = Size, Size
	}
	if o.Batch < 0 || o.Height < 1 || o.Width < 1 {
		return nil, fmt.Errorf("keras: bad input size %dx3x%dx%d", o.Batch, o.Height, o.Width)
	}
	a, p := m.Arch, m.params
	var b graph.Builder
	convBN := func(c conv, x *graph.Value) *graph.Value {
		op := graph.Conv(c.cin, c.cout, c.k, c.stride, c.pad)
		op.Weight = p[c.name+"/kernel"]
		op.Bias = p[c.name+"/bias"] // nil without a bias
		x = b.Apply(c.name, op, x)
		if c.bn != "" {
			x = m.bn(&b, c.bn, x)
		}
		if c.relu {
			x = b.Apply(reluName(c), graph.ReLU{}, x)
		}
		return x
	}
	x := b.Input("input", graph.Shape{o.Batch, 3, o.Height, o.Width})
	x = convBN(a.stem(), x) // conv1_pad (3) and the valid conv1_conv
	if a.V2 {
		// pool1_pad pads conv1_conv's output, which may be negative, with
		// zeros, which a max pool's own padding (ignored positions) is not:
		// an identity 1×1 convolution per channel with padding 1 pads it.
		pad := graph.Conv(a.Stem, a.Stem, 1, 1, 1)
		pad.Groups = a.Stem
		pad.Weight = make([]float32, a.Stem)
		for i := range pad.Weight {
			pad.Weight[i] = 1
		}
		x = b.Apply("pool1_pad", pad, x)
		x = b.Apply("pool1_pool", graph.MaxPool(3, 2, 0), x)
	} else {
		// After conv1_relu every value is ≥ 0, so zero padding (pool1_pad)
		// and a max pool that ignores padded positions give the same maxima.
		x = b.Apply("pool1_pool", graph.MaxPool(3, 2, 1), x)
	}
	stages := []*graph.Value{x}
	blocks := a.blocks()
	for i, bl := range blocks {
		in := x
		if bl.preact != "" {
			in = m.bn(&b, bl.preact, x)
			in = b.Apply(bl.prefix+"_preact_relu", graph.ReLU{}, in)
		}
		y := in
		for _, c := range bl.convs {
			y = convBN(c, y)
		}
		short := x
		switch {
		case bl.shortcut != nil:
			short = convBN(*bl.shortcut, in)
		case bl.pool > 1:
			short = b.Apply(bl.prefix+"_shortcut_pool", graph.Pool{Max: true, KH: 1, KW: 1, Stride: [2]int{bl.pool, bl.pool}}, x)
		}
		if a.V2 {
			x = b.Apply(bl.prefix+"_out", graph.Add{}, short, y)
		} else {
			x = b.Apply(bl.prefix+"_add", graph.Add{}, short, y)
			x = b.Apply(bl.prefix+"_out", graph.ReLU{}, x)
		}
		if i == len(blocks)-1 || blocks[i+1].prefix[:5] != bl.prefix[:5] {
			stages = append(stages, x)
		}
	}
	if a.V2 {
		x = m.bn(&b, "post_bn", x)
		x = b.Apply("post_relu", graph.ReLU{}, x)
	}
	x = b.Apply("avg_pool", graph.GlobalAvgPool{}, x)
	x = b.Apply("flatten", graph.Flatten{Axis: 1}, x)
	logits := b.Apply("predictions", &graph.Linear{In: a.Features(), Out: a.Classes, Weight: p["predictions/kernel"], Bias: p["predictions/bias"]}, x)
	if o.WithStages {
		for _, s := range stages {
			b.Output(s)
		}
	}
	b.Output(logits)
	if o.Softmax {
		b.Output(b.Apply("softmax", graph.Softmax{}, logits))
	}
	return b.Graph()
}

// bn applies the batch normalisation called name.
func (m *Model) bn(b *graph.Builder, name string, x *graph.Value) *graph.Value {
	p := m.params
	return b.Apply(name, &graph.BatchNorm{
		Gamma: p[name+"/gamma"], Beta: p[name+"/beta"],
		Mean: p[name+"/moving_mean"], Var: p[name+"/moving_variance"], Eps: Eps,
	}, x)
}

// reluName is Keras' name of the activation after a convolution:
// conv1_relu, conv2_block1_1_relu.
func reluName(c conv) string { return c.name[:len(c.name)-len("conv")] + "relu" }
