package resnet

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/graph"
)

// TrainNets are the architectures TrainGraph builds: torchvision's
// ResNet-18, -34 and -50 (ImageNet stem and four stages, 1000 classes)
// and He et al.'s CIFAR ResNets resnet20 … resnet110 (6n+2 layers: a 3×3
// stem of 16 channels, no max pool, three stages of n BasicBlocks at 16,
// 32 and 64 channels, 10 classes).
var TrainNets = []string{"resnet18", "resnet34", "resnet50", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"}

// TrainOptions shape the graph TrainGraph returns.
type TrainOptions struct {
	// Plain removes the identity paths: every block's output is its
	// residual branch alone, F(x), through the block's last ReLU, and the
	// projection shortcuts (downsample convolutions) go too, so that the
	// plain network is the residual one's main path, layer for layer, as
	// He et al.'s plain baselines are (their plain nets have no 1×1
	// projections either: each stage's first 3×3 convolution changes the
	// width and stride).
	Plain bool
	// Batch, Height and Width are the input size.
	Batch, Height, Width int
	// Labels are the class of each image of the batch.
	Labels []int
	// Seed seeds the initialisation (InitWeights).
	Seed uint64
}

// TrainNet is a training graph: the network with batch-norms in training
// mode (batch statistics, graph.BatchNormTrain) and the mean softmax
// cross-entropy against the labels as its one output, every op
// graph.Differentiable (ref.Trainer runs it). It is read-only once
// TrainGraph returns, so concurrent GradNorms calls are safe; InitWeights
// changes it.
type TrainNet struct {
	Name  string // "resnet34" or "plain34"
	Graph *graph.Graph
	// Layers are the weighted layers (convolutions and the classifier) in
	// forward order, as indices into Graph.Nodes.
	Layers []int
	// Tensors are the network's parameters named as torchvision's
	// state_dict names them ("layer1.0.conv1.weight", "layer1.0.bn1.bias",
	// "fc.weight"), in forward order.
	Tensors []Tensor
}

// Tensor is one named parameter array of a TrainNet; Data is shared with
// the graph's op.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// trainArch returns the blocks of a training architecture: an ImageNet
// ResNet's (Arch.walk) or a CIFAR ResNet's, and whether it has the
// ImageNet stem with its max pool, and its classes.
func trainArch(name string) (convSpec, []block, bool, int, error) {
	if a, ok := Archs[name]; ok && slices.Contains(TrainNets, name) {
		stem, blocks := a.walk()
		return stem, blocks, true, a.Classes, nil
	}
	var depth int
	if _, err := fmt.Sscanf(name, "resnet%d", &depth); err != nil || !slices.Contains(TrainNets, name) {
		return convSpec{}, nil, false, 0, fmt.Errorf("resnet: no training graph for %q (have %s)", name, strings.Join(TrainNets, ", "))
	}
	stem, blocks := cifarWalk((depth - 2) / 6)
	return stem, blocks, false, 10, nil
}

// TrainClasses returns the classes of training architecture arch's
// classifier: 1000 for the ImageNet ResNets, 10 for the CIFAR ones.
func TrainClasses(arch string) (int, error) {
	_, _, _, classes, err := trainArch(arch)
	return classes, err
}

// cifarWalk returns the stem and blocks of the CIFAR ResNet with n
// BasicBlocks per stage. A stage's first block halves the resolution and
// doubles the width with a 1×1 projection shortcut (He et al.'s option
// B, as torchvision's ResNets do; their CIFAR nets pad the identity with
// zeros instead).
func cifarWalk(n int) (convSpec, []block) {
	stem := convSpec{"conv1", "bn1", 3, 16, 3, 1, 1, 1}
	return stem, Arch{Blocks: [4]int{n, n, n}}.blocksAfter(stem)
}

// TrainGraph returns the training graph of arch (one of TrainNets), or
// of its plain counterpart with opt.Plain, initialised by InitWeights
// with opt.Seed.
func TrainGraph(arch string, opt TrainOptions) (*TrainNet, error) {
	stem, blocks, imagenet, classes, err := trainArch(arch)
	if err != nil {
		return nil, err
	}
	if opt.Batch < 1 || opt.Height < 1 || opt.Width < 1 {
		return nil, fmt.Errorf("resnet: bad input size %dx3x%dx%d", opt.Batch, opt.Height, opt.Width)
	}
	if len(opt.Labels) != opt.Batch {
		return nil, fmt.Errorf("resnet: %d labels for a batch of %d", len(opt.Labels), opt.Batch)
	}
	t := &trainer{net: &TrainNet{Name: arch}}
	if opt.Plain {
		t.net.Name = "plain" + strings.TrimPrefix(arch, "resnet")
	}
	b := &t.b
	x := b.Input("input", graph.Shape{opt.Batch, 3, opt.Height, opt.Width})
	x = t.convBN(stem, x, true)
	if imagenet {
		x = b.Apply("maxpool", graph.MaxPool(3, 2, 1), x)
	}
	for _, bl := range blocks {
		y := x
		for k, c := range bl.convs {
			last := k == len(bl.convs)-1
			y = t.convBN(c, y, !last || opt.Plain)
		}
		if opt.Plain {
			x = y
			continue
		}
		identity := x
		if bl.down != nil {
			identity = t.convBN(*bl.down, x, false)
		}
		x = b.Apply(bl.prefix+".add", graph.Add{ReLU: true}, y, identity)
	}
	x = b.Apply("avgpool", graph.GlobalAvgPool{}, x)
	x = b.Apply("flatten", graph.Flatten{Axis: 1}, x)
	features := x.Shape[len(x.Shape)-1]
	fc := &graph.Linear{In: features, Out: classes, Weight: make([]float32, classes*features), Bias: make([]float32, classes)}
	t.layer("fc", fc, x)
	t.tensor("fc.weight", []int{classes, features}, fc.Weight)
	t.tensor("fc.bias", []int{classes}, fc.Bias)
	b.Output(b.Apply("loss", graph.SoftmaxCrossEntropy{Labels: opt.Labels}, t.last))
	g, err := b.Graph()
	if err != nil {
		return nil, err
	}
	t.net.Graph = g
	InitWeights(t.net, opt.Seed)
	return t.net, nil
}

// trainer builds a TrainNet.
type trainer struct {
	b    graph.Builder
	net  *TrainNet
	last *graph.Value
}

func (t *trainer) tensor(name string, shape []int, data []float32) {
	t.net.Tensors = append(t.net.Tensors, Tensor{name, shape, data})
}

// layer applies a weighted layer and records it.
func (t *trainer) layer(name string, op graph.Op, x *graph.Value) *graph.Value {
	t.last = t.b.Apply(name, op, x)
	if t.last.Producer != nil {
		t.net.Layers = append(t.net.Layers, t.last.Producer.ID)
	}
	return t.last
}

// convBN applies convolution c (no bias) and its training-mode
// batch-norm, with a ReLU if relu.
func (t *trainer) convBN(c convSpec, x *graph.Value, relu bool) *graph.Value {
	conv := graph.Conv(c.cin, c.cout, c.k, c.stride, c.pd)
	conv.Groups = c.groups
	conv.Weight = make([]float32, c.cout*c.cin/c.groups*c.k*c.k)
	y := t.layer(c.name, conv, x)
	t.tensor(c.name+".weight", []int{c.cout, c.cin / c.groups, c.k, c.k}, conv.Weight)
	bn := &graph.BatchNormTrain{Gamma: make([]float32, c.cout), Beta: make([]float32, c.cout), Eps: 1e-5, ReLU: relu}
	t.tensor(c.bn+".weight", []int{c.cout}, bn.Gamma)
	t.tensor(c.bn+".bias", []int{c.cout}, bn.Beta)
	return t.b.Apply(c.bn, bn, y)
}

// InitWeights sets n's parameters to torchvision's ResNet initialisation,
// each tensor drawn from its own PCG generator seeded with seed and the
// FNV-1a hash of its name, so that a plain network's layers get the same
// values as the residual network's layers of the same name:
// convolution weights normal with standard deviation sqrt(2/fan_out),
// fan_out = Cout·KH·KW (kaiming_normal_, mode "fan_out", ReLU gain);
// batch-norm weights 1 and biases 0; the classifier's weight and bias
// uniform in ±1/sqrt(fan_in) (nn.Linear's default, kaiming_uniform_ with
// a = √5). The values depend on seed alone, not on torch's generator:
// export them (Tensors) to compare with PyTorch.
func InitWeights(n *TrainNet, seed uint64) {
	var fcIn int
	for _, t := range n.Tensors {
		h := fnv.New64a()
		h.Write([]byte(t.Name))
		r := rand.New(rand.NewPCG(seed, h.Sum64()))
		switch {
		case t.Name == "fc.weight":
			fcIn = t.Shape[1]
			fallthrough
		case t.Name == "fc.bias":
			b := 1 / math.Sqrt(float64(fcIn))
			for i := range t.Data {
				t.Data[i] = float32(b * (2*r.Float64() - 1))
			}
		case len(t.Shape) == 4:
			std := math.Sqrt(2 / float64(t.Shape[0]*t.Shape[2]*t.Shape[3]))
			for i := range t.Data {
				t.Data[i] = float32(std * r.NormFloat64())
			}
		case strings.HasSuffix(t.Name, ".weight"):
			for i := range t.Data {
				t.Data[i] = 1
			}
		default:
			clear(t.Data)
		}
	}
}
