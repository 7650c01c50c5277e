package keras

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Family is the architecture family of Keras networks, as resnet.Arch
// names it.
const Family = "keras"

// Eps is the epsilon of Keras' ResNet batch normalisations.
const Eps = 1.001e-5

// Arch describes one Keras ResNet: V1 (keras.applications.resnet) or V2
// (resnet_v2), with the blocks and bottleneck width of each of its four
// stacks (conv2 … conv5).
type Arch struct {
	Name    string // "resnet50", "resnet152v2", or a description of another configuration
	V2      bool   // pre-activation blocks (ResNet50V2, …)
	Stem    int    // filters of conv1_conv (64)
	Blocks  [4]int // blocks of each stack
	Filters [4]int // bottleneck width of each stack (64, 128, 256, 512); a block outputs 4×
	Classes int    // outputs of the predictions layer
}

func arch(name string, v2 bool, blocks [4]int) Arch {
	return Arch{Name: name, V2: v2, Stem: 64, Blocks: blocks, Filters: [4]int{64, 128, 256, 512}, Classes: 1000}
}

// Archs are Keras' ResNets with their ImageNet heads.
var Archs = map[string]Arch{
	"resnet50":    arch("resnet50", false, [4]int{3, 4, 6, 3}),
	"resnet101":   arch("resnet101", false, [4]int{3, 4, 23, 3}),
	"resnet152":   arch("resnet152", false, [4]int{3, 8, 36, 3}),
	"resnet50v2":  arch("resnet50v2", true, [4]int{3, 4, 6, 3}),
	"resnet101v2": arch("resnet101v2", true, [4]int{3, 4, 23, 3}),
	"resnet152v2": arch("resnet152v2", true, [4]int{3, 8, 36, 3}),
}

// ArchNames lists Archs: V1 by depth, then V2.
func ArchNames() []string {
	names := make([]string, 0, len(Archs))
	for n := range Archs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := Archs[names[i]], Archs[names[j]]
		if a.V2 != b.V2 {
			return !a.V2
		}
		return len(a.Name) < len(b.Name) || len(a.Name) == len(b.Name) && a.Name < b.Name
	})
	return names
}

// Lookup returns the architecture called name ("resnet50", "ResNet50V2").
func Lookup(name string) (Arch, error) {
	a, ok := Archs[strings.ToLower(name)]
	if !ok {
		return Arch{}, fmt.Errorf("keras: unknown architecture %q (have %s)", name, strings.Join(ArchNames(), ", "))
	}
	return a, nil
}

// String names the architecture and, unless it is 1000, its class count.
func (a Arch) String() string {
	if a.Classes == 1000 {
		return a.Name
	}
	return fmt.Sprintf("%s with %d classes", a.Name, a.Classes)
}

// Features is the width of the features the predictions layer reads.
func (a Arch) Features() int { return 4 * a.Filters[3] }

// sameNet reports whether a and b are the same network but for names and
// class counts.
func (a Arch) sameNet(b Arch) bool {
	a.Name, a.Classes, b.Name, b.Classes = "", 0, "", 0
	return a == b
}

// named gives a configuration the name of the Keras ResNet it equals,
// else a description.
func (a Arch) named() Arch {
	for _, n := range ArchNames() {
		if Archs[n].sameNet(a) {
			a.Name = n
			return a
		}
	}
	v := "v1"
	if a.V2 {
		v = "v2"
	}
	a.Name = fmt.Sprintf("resnet %s (stem %d, blocks %v, filters %v)", v, a.Stem, a.Blocks, a.Filters)
	return a
}

// conv is one convolution: its layer, shapes, stride and batch
// normalisation ("" for none).
type conv struct {
	name         string // "conv2_block1_1_conv"
	cin, cout, k int
	stride       int
	bias         bool
	bn           string // "conv2_block1_1_bn"
	relu         bool   // a ReLU after the batch normalisation
	pad          int    // zero padding on every side
}

// block is one residual block.
type block struct {
	prefix   string // "conv2_block1"
	cin      int
	preact   string // V2: the batch normalisation before the block ("conv2_block1_preact_bn")
	convs    []conv // the residual branch, in order
	shortcut *conv  // the projection shortcut, or nil
	pool     int    // V2: the stride of the max-pool shortcut (MaxPooling2D(1, strides)), or 0
}

// stem is the first convolution.
func (a Arch) stem() conv {
	c := conv{name: "conv1_conv", cin: 3, cout: a.Stem, k: 7, stride: 2, bias: true, pad: 3}
	if !a.V2 {
		c.bn, c.relu = "conv1_bn", true
	}
	return c
}

// blocks returns the residual blocks in Keras' order, as
// keras.applications.resnet's stack_residual_blocks_v1 and _v2 build them.
func (a Arch) blocks() []block {
	var out []block
	c := a.Stem
	for s := range a.Blocks {
		f, n := a.Filters[s], a.Blocks[s]
		for b := 0; b < n; b++ {
			p := fmt.Sprintf("conv%d_block%d", s+2, b+1)
			bl := block{prefix: p, cin: c}
			if !a.V2 {
				stride := 1
				if b == 0 && s > 0 {
					stride = 2
				}
				bl.convs = []conv{
					{name: p + "_1_conv", cin: c, cout: f, k: 1, stride: stride, bias: true, bn: p + "_1_bn", relu: true},
					{name: p + "_2_conv", cin: f, cout: f, k: 3, stride: 1, bias: true, bn: p + "_2_bn", relu: true, pad: 1},
					{name: p + "_3_conv", cin: f, cout: 4 * f, k: 1, stride: 1, bias: true, bn: p + "_3_bn"},
				}
				if b == 0 {
					bl.shortcut = &conv{name: p + "_0_conv", cin: c, cout: 4 * f, k: 1, stride: stride, bias: true, bn: p + "_0_bn"}
				}
			} else {
				stride := 1
				if b == n-1 && s < len(a.Blocks)-1 {
					stride = 2
				}
				bl.preact = p + "_preact_bn"
				bl.convs = []conv{
					{name: p + "_1_conv", cin: c, cout: f, k: 1, stride: 1, bn: p + "_1_bn", relu: true},
					{name: p + "_2_conv", cin: f, cout: f, k: 3, stride: stride, bn: p + "_2_bn", relu: true, pad: 1},
					{name: p + "_3_conv", cin: f, cout: 4 * f, k: 1, stride: 1, bias: true},
				}
				switch {
				case b == 0:
					bl.shortcut = &conv{name: p + "_0_conv", cin: c, cout: 4 * f, k: 1, stride: 1, bias: true}
				case stride > 1:
					bl.pool = stride
				}
			}
			out = append(out, bl)
			c = 4 * f
		}
	}
	return out
}

// variable is one weight of a layer, by Keras' name, with its Keras shape
// (HWIO kernels, Dense kernels [in, out]).
type variable struct {
	name  string // "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"
	shape []int
}

// layers returns every layer with weights and its variables, in Keras'
// order of the variables within a layer.
func (a Arch) layers() map[string][]variable {
	out := map[string][]variable{}
	addConv := func(c conv) {
		v := []variable{{"kernel", []int{c.k, c.k, c.cin, c.cout}}}
		if c.bias {
			v = append(v, variable{"bias", []int{c.cout}})
		}
		out[c.name] = v
		if c.bn != "" {
			addBN(out, c.bn, c.cout)
		}
	}
	addConv(a.stem())
	for _, b := range a.blocks() {
		if b.preact != "" {
			addBN(out, b.preact, b.cin)
		}
		for _, c := range b.convs {
			addConv(c)
		}
		if b.shortcut != nil {
			addConv(*b.shortcut)
		}
	}
	if a.V2 {
		addBN(out, "post_bn", a.Features())
	}
	out["predictions"] = []variable{{"kernel", []int{a.Features(), a.Classes}}, {"bias", []int{a.Classes}}}
	return out
}

// bnVars are the variables of a batch normalisation, in Keras' order.
var bnVars = []string{"gamma", "beta", "moving_mean", "moving_variance"}

func addBN(out map[string][]variable, name string, c int) {
	for _, v := range bnVars {
		out[name] = append(out[name], variable{v, []int{c}})
	}
}

// infer returns the architecture of a file's layers (name → variable →
// shape): V1 or V2, the stem's filters, each stack's blocks and width, the
// classes. It does not check the layers against it.
func infer(layers map[string]map[string][]int) (Arch, error) {
	shape := func(layer, v string, rank int) ([]int, error) {
		s, ok := layers[layer][v]
		if !ok {
			return nil, fmt.Errorf("keras: the file has no layer %s with a %s: not a Keras ResNet", layer, v)
		}
		if len(s) != rank || slices.Contains(s, 0) {
			return nil, fmt.Errorf("keras: %s/%s has shape %v, want %d non-empty dimensions", layer, v, s, rank)
		}
		return s, nil
	}
	var a Arch
	_, a.V2 = layers["post_bn"]
	stem, err := shape("conv1_conv", "kernel", 4)
	if err != nil {
		return a, err
	}
	a.Stem = stem[3]
	for s := range a.Blocks {
		for layers[fmt.Sprintf("conv%d_block%d_1_conv", s+2, a.Blocks[s]+1)] != nil {
			a.Blocks[s]++
		}
		k, err := shape(fmt.Sprintf("conv%d_block1_1_conv", s+2), "kernel", 4)
		if err != nil {
			return a, err
		}
		a.Filters[s] = k[3]
		if a.V2 && a.Blocks[s] < 2 {
			return a, fmt.Errorf("keras: stack conv%d of a V2 network has %d block, want at least 2", s+2, a.Blocks[s])
		}
	}
	head, err := shape("predictions", "kernel", 2)
	if err != nil {
		return a, err
	}
	a.Classes = head[1]
	return a.named(), nil
}

// check reports the first difference between a file's layers and the
// architecture's: a missing layer or variable, a shape, or a layer with
// weights that the architecture does not have.
func (a Arch) check(layers map[string]map[string][]int) error {
	want := a.layers()
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		got, ok := layers[n]
		if !ok {
			return fmt.Errorf("keras: the file has no layer %s, which %s needs", n, a)
		}
		for _, v := range want[n] {
			s, ok := got[v.name]
			if !ok {
				return fmt.Errorf("keras: layer %s has no %s, which %s needs", n, v.name, a)
			}
			if !slices.Equal(s, v.shape) {
				return fmt.Errorf("keras: %s/%s has shape %v, %s needs %v", n, v.name, s, a, v.shape)
			}
		}
		if len(got) != len(want[n]) {
			return fmt.Errorf("keras: layer %s has %d weights, %s needs %d", n, len(got), a, len(want[n]))
		}
	}
	extra := []string{}
	for n := range layers {
		if _, ok := want[n]; !ok {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("keras: layer %s has weights but is not part of %s", extra[0], a)
	}
	return nil
}
