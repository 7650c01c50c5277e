package resnet

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// The architecture families.
const (
	FamilyResNet   = "resnet"   // torchvision.models.ResNet: resnet, wide_resnet, resnext
	FamilyDenseNet = "densenet" // torchvision.models.DenseNet
)

// Arch describes one torchvision ResNet-family network: a ResNet (with
// BasicBlock or Bottleneck blocks; grouped, as ResNeXt, or widened, as
// wide_resnet) or a DenseNet, with its number of classes.
type Arch struct {
	Name    string // "resnet50", "resnext50_32x4d", or a description of a custom configuration
	Family  string // FamilyResNet or FamilyDenseNet
	Blocks  [4]int // residual blocks per stage; for DenseNet, dense layers per block
	Classes int    // outputs of the classifier head

	// ResNet family.
	Bottleneck    bool // Bottleneck blocks (1×1, 3×3, 1×1; expansion 4) instead of BasicBlock
	Groups        int  // groups of each Bottleneck's 3×3 convolution (ResNeXt: 32 or 64)
	WidthPerGroup int  // channels per group at 64 planes (64; wide_resnet: 128; ResNeXt: 4 or 8)

	// DenseNet.
	Growth       int // channels each dense layer adds
	InitFeatures int // channels of the stem convolution
	BNSize       int // a dense layer's bottleneck width in multiples of Growth
}

func resnetArch(name string, blocks [4]int, bottleneck bool, groups, wpg int) Arch {
	return Arch{Name: name, Family: FamilyResNet, Blocks: blocks, Classes: 1000, Bottleneck: bottleneck, Groups: groups, WidthPerGroup: wpg}
}

func densenetArch(name string, growth int, blocks [4]int, init int) Arch {
	return Arch{Name: name, Family: FamilyDenseNet, Blocks: blocks, Classes: 1000, Growth: growth, InitFeatures: init, BNSize: 4}
}

// Archs are torchvision's ResNet-family architectures with their ImageNet
// heads (1000 classes).
var Archs = map[string]Arch{
	"resnet18":         resnetArch("resnet18", [4]int{2, 2, 2, 2}, false, 1, 64),
	"resnet34":         resnetArch("resnet34", [4]int{3, 4, 6, 3}, false, 1, 64),
	"resnet50":         resnetArch("resnet50", [4]int{3, 4, 6, 3}, true, 1, 64),
	"resnet101":        resnetArch("resnet101", [4]int{3, 4, 23, 3}, true, 1, 64),
	"resnet152":        resnetArch("resnet152", [4]int{3, 8, 36, 3}, true, 1, 64),
	"wide_resnet50_2":  resnetArch("wide_resnet50_2", [4]int{3, 4, 6, 3}, true, 1, 128),
	"wide_resnet101_2": resnetArch("wide_resnet101_2", [4]int{3, 4, 23, 3}, true, 1, 128),
	"resnext50_32x4d":  resnetArch("resnext50_32x4d", [4]int{3, 4, 6, 3}, true, 32, 4),
	"resnext101_32x8d": resnetArch("resnext101_32x8d", [4]int{3, 4, 23, 3}, true, 32, 8),
	"resnext101_64x4d": resnetArch("resnext101_64x4d", [4]int{3, 4, 23, 3}, true, 64, 4),
	"densenet121":      densenetArch("densenet121", 32, [4]int{6, 12, 24, 16}, 64),
	"densenet161":      densenetArch("densenet161", 48, [4]int{6, 12, 36, 24}, 96),
	"densenet169":      densenetArch("densenet169", 32, [4]int{6, 12, 32, 32}, 64),
	"densenet201":      densenetArch("densenet201", 32, [4]int{6, 12, 48, 32}, 64),
}

// CoreArchs are the architectures whose layers the op checker takes by
// default: the five ResNets and one of each other family. The others'
// layers repeat theirs at other widths and depths.
var CoreArchs = []string{"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "densenet121"}

// ArchNames lists the architectures: ResNets by depth, then wide ResNets,
// ResNeXts and DenseNets.
func ArchNames() []string {
	names := make([]string, 0, len(Archs))
	for n := range Archs {
		names = append(names, n)
	}
	family := func(n string) int {
		for i, p := range []string{"resnet", "wide_", "resnext", "densenet"} {
			if strings.HasPrefix(n, p) {
				return i
			}
		}
		return 4
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := names[i], names[j]
		if fa, fb := family(a), family(b); fa != fb {
			return fa < fb
		}
		return len(a) < len(b) || len(a) == len(b) && a < b
	})
	return names
}

// Lookup returns the architecture called name, with 1000 classes.
func Lookup(name string) (Arch, error) {
	a, ok := Archs[strings.ToLower(name)]
	if !ok {
		return Arch{}, fmt.Errorf("resnet: unknown architecture %q (have %s)", name, strings.Join(ArchNames(), ", "))
	}
	return a, nil
}

// WithClasses returns a with a head of n classes.
func (a Arch) WithClasses(n int) Arch {
	a.Classes = n
	return a
}

// String names the architecture and, unless it is ImageNet's 1000, its
// class count: "resnext50_32x4d with 10 classes".
func (a Arch) String() string {
	switch a.Classes {
	case 1000:
		return a.Name
	case 1:
		return a.Name + " with 1 class"
	}
	return fmt.Sprintf("%s with %d classes", a.Name, a.Classes)
}

// sameNet reports whether a and b are the same network up to the name and
// the class count.
func (a Arch) sameNet(b Arch) bool {
	a.Name, a.Classes, b.Name, b.Classes = "", 0, "", 0
	return a == b
}

// named gives a custom configuration the name of the torchvision
// architecture it equals, else a description of it.
func (a Arch) named() Arch {
	for _, n := range ArchNames() {
		if k := Archs[n]; k.sameNet(a) {
			a.Name = k.Name
			return a
		}
	}
	b := a.Blocks
	switch {
	case a.Family == FamilyDenseNet:
		a.Name = fmt.Sprintf("densenet(growth=%d, blocks=%v, init=%d, bn_size=%d)", a.Growth, b, a.InitFeatures, a.BNSize)
	case !a.Bottleneck:
		a.Name = fmt.Sprintf("resnet(BasicBlock, layers=%v)", b)
	default:
		a.Name = fmt.Sprintf("resnet(Bottleneck, layers=%v, groups=%d, width_per_group=%d)", b, a.Groups, a.WidthPerGroup)
	}
	return a
}

// Features is the width of the feature vector the classifier reads
// (512 or 2048 for ResNets, 1024 for densenet121).
func (a Arch) Features() int {
	if a.Family == FamilyDenseNet {
		c := a.InitFeatures
		for i, n := range a.Blocks {
			c += n * a.Growth
			if i < len(a.Blocks)-1 {
				c /= 2
			}
		}
		return c
	}
	return 512 * a.expansion()
}

// Stages names the graph outputs of a network built WithStages, in order:
// the stem, each stage (ResNet layer or dense block), the logits.
func (a Arch) Stages() []string {
	stage := "layer"
	if a.Family == FamilyDenseNet {
		stage = "denseblock"
	}
	out := []string{"stem"}
	for i := range a.Blocks {
		out = append(out, fmt.Sprintf("%s%d", stage, i+1))
	}
	return append(out, "logits")
}

// expansion is the ratio of a block's output channels to its planes.
func (a Arch) expansion() int {
	if a.Bottleneck {
		return 4
	}
	return 1
}

// convSpec is one convolution of the architecture with its batch-norm.
type convSpec struct {
	name, bn                 string // "layer1.0.conv1", "layer1.0.bn1"
	cin, cout, k, stride, pd int
	groups                   int
}

// block is one residual block: its convolutions in order and, if present,
// the downsample convolution of the identity path.
type block struct {
	prefix string
	convs  []convSpec
	down   *convSpec
}

// walk returns the stem convolution and the blocks of a ResNet, in
// torchvision's order.
func (a Arch) walk() (convSpec, []block) {
	stem := convSpec{"conv1", "bn1", 3, 64, 7, 2, 3, 1}
	return stem, a.blocksAfter(stem)
}

// blocksAfter returns the blocks of a's stages after stem: stage s has
// stem.cout<<s planes, and its first block (past the first stage) halves
// the resolution.
func (a Arch) blocksAfter(stem convSpec) []block {
	var blocks []block
	in := stem.cout
	for s, n := range a.Blocks {
		planes := stem.cout << s
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
				width := planes * a.WidthPerGroup / 64 * a.Groups
				bl.convs = []convSpec{
					{p + ".conv1", p + ".bn1", in, width, 1, 1, 0, 1},
					{p + ".conv2", p + ".bn2", width, width, 3, stride, 1, a.Groups},
					{p + ".conv3", p + ".bn3", width, out, 1, 1, 0, 1},
				}
			} else {
				bl.convs = []convSpec{
					{p + ".conv1", p + ".bn1", in, planes, 3, stride, 1, 1},
					{p + ".conv2", p + ".bn2", planes, planes, 3, 1, 1, 1},
				}
			}
			if stride != 1 || in != out {
				bl.down = &convSpec{p + ".downsample.0", p + ".downsample.1", in, out, 1, stride, 0, 1}
			}
			blocks = append(blocks, bl)
			in = out
		}
	}
	return blocks
}

// denseLayer is one DenseNet layer: norm1, relu1, conv1 (1×1 to
// BNSize·Growth), norm2, relu2, conv2 (3×3 to Growth), reading cin channels.
type denseLayer struct {
	prefix string // "features.denseblock1.denselayer1"
	cin    int
}

// transition halves the channels (BN, ReLU, 1×1 conv) and the resolution
// (2×2 average pool) between dense blocks.
type transition struct {
	prefix    string // "features.transition1"
	cin, cout int
}

// denseWalk returns each dense block's layers and the transition after it
// (none after the last), in torchvision's order.
func (a Arch) denseWalk() ([][]denseLayer, []transition) {
	var blocks [][]denseLayer
	var trans []transition
	c := a.InitFeatures
	for b, n := range a.Blocks {
		var layers []denseLayer
		for l := 0; l < n; l++ {
			layers = append(layers, denseLayer{fmt.Sprintf("features.denseblock%d.denselayer%d", b+1, l+1), c})
			c += a.Growth
		}
		blocks = append(blocks, layers)
		if b < len(a.Blocks)-1 {
			trans = append(trans, transition{fmt.Sprintf("features.transition%d", b+1), c, c / 2})
			c /= 2
		}
	}
	return blocks, trans
}

// Specs lists the architecture's state_dict entries in torchvision's order.
func (a Arch) Specs() []weights.Spec {
	var out []weights.Spec
	convW := func(name string, cout, cin, k int) {
		out = append(out, weights.Spec{Name: name + ".weight", Shape: []int{cout, cin, k, k}})
	}
	bn := func(name string, c int) {
		for _, leaf := range []string{"weight", "bias", "running_mean", "running_var"} {
			out = append(out, weights.Spec{Name: name + "." + leaf, Shape: []int{c}})
		}
		out = append(out, weights.Spec{Name: name + ".num_batches_tracked", Shape: []int{}, Int: true})
	}
	head := "fc"
	if a.Family == FamilyDenseNet {
		head = "classifier"
		convW("features.conv0", a.InitFeatures, 3, 7)
		bn("features.norm0", a.InitFeatures)
		blocks, trans := a.denseWalk()
		for i, layers := range blocks {
			for _, l := range layers {
				w := a.BNSize * a.Growth
				bn(l.prefix+".norm1", l.cin)
				convW(l.prefix+".conv1", w, l.cin, 1)
				bn(l.prefix+".norm2", w)
				convW(l.prefix+".conv2", a.Growth, w, 3)
			}
			if i < len(trans) {
				t := trans[i]
				bn(t.prefix+".norm", t.cin)
				convW(t.prefix+".conv", t.cout, t.cin, 1)
			}
		}
		bn("features.norm5", a.Features())
	} else {
		conv := func(c convSpec) {
			convW(c.name, c.cout, c.cin/c.groups, c.k)
			bn(c.bn, c.cout)
		}
		stem, blocks := a.walk()
		conv(stem)
		for _, b := range blocks {
			for _, c := range b.convs {
				conv(c)
			}
			if b.down != nil {
				conv(*b.down)
			}
		}
	}
	return append(out,
		weights.Spec{Name: head + ".weight", Shape: []int{a.Classes, a.Features()}},
		weights.Spec{Name: head + ".bias", Shape: []int{a.Classes}})
}

// InferArch returns the architecture a state_dict fits, from its keys and
// shapes: the family, the blocks per stage, the grouping or width, the
// growth rate and the number of classes. It names torchvision's
// architectures ("resnext50_32x4d") and describes other configurations of
// the same families; a state_dict that fits none is an error naming the
// first entry that does not fit.
func InferArch(sd weights.StateDict) (Arch, error) {
	shape := func(name string, rank int) ([]int, error) {
		t, ok := sd[name]
		if !ok {
			return nil, fmt.Errorf("has no %s", name)
		}
		if len(t.Shape) != rank || slices.Contains(t.Shape, 0) {
			return nil, fmt.Errorf("%s has shape %v, want %d non-empty dimensions", name, t.Shape, rank)
		}
		return t.Shape, nil
	}
	count := func(format string, stage int) int {
		n := 0
		for sd[fmt.Sprintf(format, stage, n+1)] != nil {
			n++
		}
		return n
	}
	var a Arch
	var head string
	switch {
	case sd["features.conv0.weight"] != nil:
		a = Arch{Family: FamilyDenseNet, BNSize: 4}
		head = "classifier.weight"
		for b := range a.Blocks {
			a.Blocks[b] = count("features.denseblock%d.denselayer%d.conv1.weight", b+1)
		}
		c0, err := shape("features.conv0.weight", 4)
		if err != nil {
			return Arch{}, inferErr(err)
		}
		c2, err := shape("features.denseblock1.denselayer1.conv2.weight", 4)
		if err != nil {
			return Arch{}, inferErr(err)
		}
		a.InitFeatures, a.Growth = c0[0], c2[0]
		if c2[1]%a.Growth != 0 {
			return Arch{}, inferErr(fmt.Errorf("features.denseblock1.denselayer1.conv2.weight has shape %v: %d input channels are not a multiple of the growth rate %d", c2, c2[1], a.Growth))
		}
		a.BNSize = c2[1] / a.Growth
	case sd["conv1.weight"] != nil && sd["layer1.0.conv1.weight"] != nil:
		a = Arch{Family: FamilyResNet, Groups: 1, WidthPerGroup: 64}
		head = "fc.weight"
		for s := range a.Blocks {
			n := 0
			for sd[fmt.Sprintf("layer%d.%d.conv1.weight", s+1, n)] != nil {
				n++
			}
			a.Blocks[s] = n
		}
		a.Bottleneck = sd["layer1.0.conv3.weight"] != nil
		if a.Bottleneck {
			c1, err := shape("layer1.0.conv1.weight", 4)
			if err != nil {
				return Arch{}, inferErr(err)
			}
			c2, err := shape("layer1.0.conv2.weight", 4)
			if err != nil {
				return Arch{}, inferErr(err)
			}
			width := c1[0]
			if width%c2[1] != 0 {
				return Arch{}, inferErr(fmt.Errorf("layer1.0.conv2.weight has shape %v, which no grouping of %d channels gives", c2, width))
			}
			a.Groups = width / c2[1]
			a.WidthPerGroup = width / a.Groups
		}
	default:
		first := "(empty)"
		if len(sd) > 0 {
			names := slices.Sorted(maps.Keys(sd))
			first = fmt.Sprintf("%s %v", names[0], sd[names[0]].Shape)
		}
		return Arch{}, fmt.Errorf("resnet: the state_dict is neither a torchvision ResNet (no conv1.weight and layer1.0.conv1.weight) nor a DenseNet (no features.conv0.weight); its first entry is %s", first)
	}
	for i, n := range a.Blocks {
		if n == 0 {
			return Arch{}, inferErr(fmt.Errorf("stage %d has no blocks", i+1))
		}
	}
	h, err := shape(head, 2)
	if err != nil {
		return Arch{}, inferErr(err)
	}
	a.Classes = h[0]
	a = a.named()
	if err := sd.Check(a.Specs()); err != nil {
		return Arch{}, fmt.Errorf("resnet: the state_dict looks like %s but does not fit it: %w", a, err)
	}
	return a, nil
}

func inferErr(err error) error {
	return fmt.Errorf("resnet: the state_dict fits no ResNet-family architecture: %w", err)
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

// LayerGraphs returns the optimised graphs of the given architectures (all
// of Archs if none) at each of the given batch sizes and 224×224, with zero
// weights: the layer shapes the op checker must cover.
func LayerGraphs(archs []string, batches ...int) ([]*graph.Graph, error) {
	if len(archs) == 0 {
		archs = ArchNames()
	}
	var out []*graph.Graph
	for _, name := range archs {
		a, err := Lookup(name)
		if err != nil {
			return nil, err
		}
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
