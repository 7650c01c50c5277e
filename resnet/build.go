package resnet

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// Stages names the graph outputs of a network built WithStages, in order.
var Stages = []string{"stem", "layer1", "layer2", "layer3", "layer4", "logits"}

// BuildOptions shape the graph Build returns.
type BuildOptions struct {
	Batch, Height, Width int  // input size; 0 means 1×224×224
	WithStages           bool // also output the stem and layer1..4 activations (before the logits)
	Softmax              bool // also output the class probabilities (after the logits)
}

// Build returns arch's forward pass over sd as an unoptimised graph (with
// separate batch-norm, ReLU and addition nodes; graph.Optimize folds and
// fuses them). Its outputs are, in order: the stages if WithStages, the
// logits [N,1000,1,1], the probabilities if Softmax. sd must pass
// sd.Check(arch.Specs()).
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
	var b graph.Builder
	x := b.Input("input", graph.Shape{opt.Batch, 3, opt.Height, opt.Width})
	convBN := func(c convSpec, x *graph.Value, relu bool) *graph.Value {
		conv := graph.Conv(c.cin, c.cout, c.k, c.stride, c.pd)
		conv.Weight = sd[c.name+".weight"].Data
		y := b.Apply(c.name, conv, x)
		y = b.Apply(c.bn, &graph.BatchNorm{
			Gamma: sd[c.bn+".weight"].Data, Beta: sd[c.bn+".bias"].Data,
			Mean: sd[c.bn+".running_mean"].Data, Var: sd[c.bn+".running_var"].Data, Eps: 1e-5,
		}, y)
		if relu {
			y = b.Apply(c.bn+".relu", graph.ReLU{}, y)
		}
		return y
	}
	var stages []*graph.Value
	stem, blocks := a.walk()
	x = convBN(stem, x, true)
	x = b.Apply("maxpool", graph.MaxPool(3, 2, 1), x)
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
		x = b.Apply(bl.prefix+".add", graph.Add{}, y, identity)
		x = b.Apply(bl.prefix+".relu", graph.ReLU{}, x)
		if i == len(blocks)-1 || blocks[i+1].prefix[:6] != bl.prefix[:6] {
			stages = append(stages, x)
		}
	}
	x = b.Apply("avgpool", graph.GlobalAvgPool{}, x)
	x = b.Apply("flatten", graph.Flatten{Axis: 1}, x)
	logits := b.Apply("fc", &graph.Linear{In: a.Features(), Out: 1000, Weight: sd["fc.weight"].Data, Bias: sd["fc.bias"].Data}, x)
	if opt.WithStages {
		for _, s := range stages {
			b.Output(s)
		}
	}
	b.Output(logits)
	if opt.Softmax {
		b.Output(b.Apply("softmax", graph.Softmax{}, logits))
	}
	return b.Graph()
}
