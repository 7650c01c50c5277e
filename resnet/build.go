package resnet

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// BuildOptions shape the graph Build returns.
type BuildOptions struct {
	Batch, Height, Width int  // input size; 0 means 1×224×224
	WithStages           bool // also output the stem and each stage's activations (before the logits)
	Softmax              bool // also output the class probabilities (after the logits)
}

// Build returns arch's forward pass over sd as an unoptimised graph (with
// separate batch-norm, ReLU and addition nodes named as torchvision names
// its modules; graph.Optimize folds and fuses them). Its outputs are, in
// order: the stages (a.Stages()) if WithStages, the logits [N,Classes],
// the probabilities if Softmax. sd must pass sd.Check(arch.Specs()).
func Build(a Arch, sd weights.StateDict, opt BuildOptions) (*graph.Graph, error) {
	if err := sd.Check(a.Specs()); err != nil {
		return nil, err
	}
	if opt.Batch == 0 {
		opt.Batch = 1
	}
	if opt.Height == 0 {
		opt.Height, opt.Width = 224, 224
	}
	if opt.Batch < 0 || opt.Height < 1 || opt.Width < 1 {
		return nil, fmt.Errorf("resnet: bad input size %dx3x%dx%d", opt.Batch, opt.Height, opt.Width)
	}
	n := &net{sd: sd}
	x := n.b.Input("input", graph.Shape{opt.Batch, 3, opt.Height, opt.Width})
	var stages []*graph.Value
	head := "fc"
	if a.Family == FamilyDenseNet {
		head = "classifier"
		x, stages = n.densenet(a, x)
	} else {
		x, stages = n.resnet(a, x)
	}
	x = n.b.Apply("avgpool", graph.GlobalAvgPool{}, x)
	x = n.b.Apply("flatten", graph.Flatten{Axis: 1}, x)
	logits := n.b.Apply(head, &graph.Linear{In: a.Features(), Out: a.Classes, Weight: sd[head+".weight"].Data, Bias: sd[head+".bias"].Data}, x)
	if opt.WithStages {
		for _, s := range stages {
			n.b.Output(s)
		}
	}
	n.b.Output(logits)
	if opt.Softmax {
		n.b.Output(n.b.Apply("softmax", graph.Softmax{}, logits))
	}
	return n.b.Graph()
}

// net builds a graph over one state_dict.
type net struct {
	b  graph.Builder
	sd weights.StateDict
}

// conv applies the convolution name (weights name+".weight", no bias).
func (n *net) conv(name string, cin, cout, k, stride, pad, groups int, x *graph.Value) *graph.Value {
	c := graph.Conv(cin, cout, k, stride, pad)
	c.Groups = groups
	c.Weight = n.sd[name+".weight"].Data
	return n.b.Apply(name, c, x)
}

// bn applies the batch-norm name and, if relu, a ReLU named reluName.
func (n *net) bn(name string, x *graph.Value, relu bool, reluName string) *graph.Value {
	y := n.b.Apply(name, &graph.BatchNorm{
		Gamma: n.sd[name+".weight"].Data, Beta: n.sd[name+".bias"].Data,
		Mean: n.sd[name+".running_mean"].Data, Var: n.sd[name+".running_var"].Data, Eps: 1e-5,
	}, x)
	if relu {
		y = n.b.Apply(reluName, graph.ReLU{}, y)
	}
	return y
}

// resnet builds a ResNet's stem and stages; it returns the last stage's
// output and every stage's.
func (n *net) resnet(a Arch, x *graph.Value) (*graph.Value, []*graph.Value) {
	convBN := func(c convSpec, x *graph.Value, relu bool) *graph.Value {
		y := n.conv(c.name, c.cin, c.cout, c.k, c.stride, c.pd, c.groups, x)
		return n.bn(c.bn, y, relu, c.bn+".relu")
	}
	var stages []*graph.Value
	stem, blocks := a.walk()
	x = convBN(stem, x, true)
	x = n.b.Apply("maxpool", graph.MaxPool(3, 2, 1), x)
	stages = append(stages, x)
	for i, bl := range blocks {
		identity := x
		y := x
		for k, c := range bl.convs {
			y = convBN(c, y, k < len(bl.convs)-1)
		}
		if bl.down != nil {
			identity = convBN(*bl.down, x, false)
		}
		x = n.b.Apply(bl.prefix+".add", graph.Add{}, y, identity)
		x = n.b.Apply(bl.prefix+".relu", graph.ReLU{}, x)
		if i == len(blocks)-1 || blocks[i+1].prefix[:6] != bl.prefix[:6] {
			stages = append(stages, x)
		}
	}
	return x, stages
}

// densenet builds a DenseNet's features: the stem, the dense blocks and
// transitions, and norm5 with its ReLU; it returns the features and the
// stem's and every block's output.
//
// A dense block is a chain of concatenations along the channels: the block
// input x0, then Concat(previous, y) after each layer's output y, so every
// layer reads a prefix of the block's last concatenation (the memory
// planner can then place every producer in one buffer).
func (n *net) densenet(a Arch, x *graph.Value) (*graph.Value, []*graph.Value) {
	x = n.conv("features.conv0", 3, a.InitFeatures, 7, 2, 3, 1, x)
	x = n.bn("features.norm0", x, true, "features.relu0")
	x = n.b.Apply("features.pool0", graph.MaxPool(3, 2, 1), x)
	stages := []*graph.Value{x}
	blocks, trans := a.denseWalk()
	w := a.BNSize * a.Growth
	for i, layers := range blocks {
		for _, l := range layers {
			y := n.bn(l.prefix+".norm1", x, true, l.prefix+".relu1")
			y = n.conv(l.prefix+".conv1", l.cin, w, 1, 1, 0, 1, y)
			y = n.bn(l.prefix+".norm2", y, true, l.prefix+".relu2")
			y = n.conv(l.prefix+".conv2", w, a.Growth, 3, 1, 1, 1, y)
			x = n.b.Apply(l.prefix+".cat", graph.Concat{Axis: 1, N: 2}, x, y)
		}
		stages = append(stages, x)
		if i < len(trans) {
			t := trans[i]
			x = n.bn(t.prefix+".norm", x, true, t.prefix+".relu")
			x = n.conv(t.prefix+".conv", t.cin, t.cout, 1, 1, 0, 1, x)
			x = n.b.Apply(t.prefix+".pool", graph.Pool{KH: 2, KW: 2, Stride: [2]int{2, 2}}, x)
		}
	}
	x = n.bn("features.norm5", x, true, "features.relu5")
	return x, stages
}
