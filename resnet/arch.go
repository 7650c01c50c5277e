package resnet

import (
	"fmt"
	"sort"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// Arch describes one torchvision ResNet.
type Arch struct {
	Name       string
	Blocks     [4]int // residual blocks per stage
	Bottleneck bool   // Bottleneck blocks (1×1, 3×3, 1×1; expansion 4) instead of BasicBlock
}

// Archs are torchvision's five ResNets.
var Archs = map[string]Arch{
	"resnet18":  {"resnet18", [4]int{2, 2, 2, 2}, false},
	"resnet34":  {"resnet34", [4]int{3, 4, 6, 3}, false},
	"resnet50":  {"resnet50", [4]int{3, 4, 6, 3}, true},
	"resnet101": {"resnet101", [4]int{3, 4, 23, 3}, true},
	"resnet152": {"resnet152", [4]int{3, 8, 36, 3}, true},
}

// ArchNames lists the architectures by depth.
func ArchNames() []string {
	names := make([]string, 0, len(Archs))
	for n := range Archs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return len(names[i]) < len(names[j]) || len(names[i]) == len(names[j]) && names[i] < names[j]
	})
	return names
}

// Lookup returns the architecture called name.
func Lookup(name string) (Arch, error) {
	a, ok := Archs[strings.ToLower(name)]
	if !ok {
		return Arch{}, fmt.Errorf("resnet: unknown architecture %q (have %s)", name, strings.Join(ArchNames(), ", "))
	}
	return a, nil
}

// expansion is the ratio of a block's output channels to its planes.
func (a Arch) expansion() int {
	if a.Bottleneck {
		return 4
	}
	return 1
}

// Features is the width of the final feature vector (512 or 2048).
func (a Arch) Features() int { return 512 * a.expansion() }

// convSpec is one convolution of the architecture with its batch-norm.
type convSpec struct {
	name, bn                 string // "layer1.0.conv1", "layer1.0.bn1"
	cin, cout, k, stride, pd int
}

// block is one residual block: its convolutions in order and, if present,
// the downsample convolution of the identity path.
type block struct {
	prefix string
	convs  []convSpec
	down   *convSpec
}

// walk returns the stem convolution and the blocks, in torchvision's order.
func (a Arch) walk() (convSpec, []block) {
	stem := convSpec{"conv1", "bn1", 3, 64, 7, 2, 3}
	var blocks []block
	in := 64
	for s, n := range a.Blocks {
		planes := 64 << s
		for b := 0; b < n; b++ {
			stride := 1
			if s > 0 && b == 0 {
				stride = 2
			}
			p := fmt.Sprintf("layer%d.%d", s+1, b)
			out := planes * a.expansion()
			var bl block
			bl.prefix = p
			if a.Bottleneck {
				bl.convs = []convSpec{
					{p + ".conv1", p + ".bn1", in, planes, 1, 1, 0},
					{p + ".conv2", p + ".bn2", planes, planes, 3, stride, 1},
					{p + ".conv3", p + ".bn3", planes, out, 1, 1, 0},
				}
			} else {
				bl.convs = []convSpec{
					{p + ".conv1", p + ".bn1", in, planes, 3, stride, 1},
					{p + ".conv2", p + ".bn2", planes, planes, 3, 1, 1},
				}
			}
			if stride != 1 || in != out {
				bl.down = &convSpec{p + ".downsample.0", p + ".downsample.1", in, out, 1, stride, 0}
			}
			blocks = append(blocks, bl)
			in = out
		}
	}
	return stem, blocks
}

// Specs lists the architecture's state_dict entries in torchvision's order.
func (a Arch) Specs() []weights.Spec {
	var out []weights.Spec
	conv := func(c convSpec, convName, bnName string) {
		out = append(out, weights.Spec{Name: convName + ".weight", Shape: []int{c.cout, c.cin, c.k, c.k}})
		for _, leaf := range []string{"weight", "bias", "running_mean", "running_var"} {
			out = append(out, weights.Spec{Name: bnName + "." + leaf, Shape: []int{c.cout}})
		}
		out = append(out, weights.Spec{Name: bnName + ".num_batches_tracked", Shape: []int{}, Int: true})
	}
	stem, blocks := a.walk()
	conv(stem, stem.name, stem.bn)
	for _, b := range blocks {
		for _, c := range b.convs {
			conv(c, c.name, c.bn)
		}
		if b.down != nil {
			conv(*b.down, b.down.name, b.down.bn)
		}
	}
	out = append(out,
		weights.Spec{Name: "fc.weight", Shape: []int{1000, a.Features()}},
		weights.Spec{Name: "fc.bias", Shape: []int{1000}})
	return out
}

// ShapeWeights returns a state_dict of a's shapes filled with zeros: enough
// to build the graph and enumerate its layers without generating weights.
func (a Arch) ShapeWeights() weights.StateDict {
	sd := weights.StateDict{}
	for _, s := range a.Specs() {
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		t := &weights.Tensor{Shape: s.Shape, DType: "float32"}
		if s.Int {
			t.Int, t.DType = make([]int64, n), "int64"
		} else {
			t.Data = make([]float32, n)
		}
		sd[s.Name] = t
	}
	return sd
}

// LayerGraphs returns the optimised graphs of every architecture at each of
// the given batch sizes and 224×224, with zero weights: the layer shapes the
// op checker must cover.
func LayerGraphs(batches ...int) ([]*graph.Graph, error) {
	var out []*graph.Graph
	for _, name := range ArchNames() {
		a := Archs[name]
		sd := a.ShapeWeights()
		for _, n := range batches {
			g, err := Build(a, sd, BuildOptions{Batch: n, Softmax: true})
			if err != nil {
				return nil, err
			}
			graph.Optimize(g)
			out = append(out, g)
		}
	}
	return out, nil
}
