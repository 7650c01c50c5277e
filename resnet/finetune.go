package resnet

import (
	"fmt"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// Param names one trainable parameter array of a training graph: the
// node, the array's position in its op's Trainable, and the state_dict
// entry it is.
type Param struct {
	Node, Index int
	Name        string
}

// LastStageGraph returns a training graph over sd of a ResNet's last
// stage and classifier, for fine-tuning them on a frozen backbone: its
// input is the previous stage's output (shape in, [N, C, H, W]), then the
// last stage's blocks with their batch-norms in evaluation mode (sd's
// running statistics, fixed; their weight and bias trained, as when
// fine-tuning with the batch-norm statistics frozen), the global average
// pool, the classifier fc (sd's fc.weight and fc.bias, a.Classes
// outputs), and the mean cross-entropy against labels. It returns the
// graph and its trainable parameters. The ops read sd's arrays: change
// them and build again to train.
func LastStageGraph(a Arch, sd weights.StateDict, in graph.Shape, labels []int) (*graph.Graph, []Param, error) {
	if a.Family != FamilyResNet {
		return nil, nil, fmt.Errorf("resnet: training the last stage of %s: only ResNets (not %s) have one", a.Name, a.Family)
	}
	if err := sd.Check(a.Specs()); err != nil {
		return nil, nil, err
	}
	if len(in) != 4 || len(labels) != in[0] {
		return nil, nil, fmt.Errorf("resnet: last-stage input of shape %v for %d labels", in, len(labels))
	}
	var b graph.Builder
	var params []Param
	apply := func(name string, op graph.Op, names []string, x ...*graph.Value) *graph.Value {
		y := b.Apply(name, op, x...)
		for i, n := range names {
			params = append(params, Param{Node: y.Producer.ID, Index: i, Name: n})
		}
		return y
	}
	convBN := func(c convSpec, x *graph.Value, relu bool) *graph.Value {
		conv := graph.Conv(c.cin, c.cout, c.k, c.stride, c.pd)
		conv.Groups = c.groups
		conv.Weight = sd[c.name+".weight"].Data
		y := apply(c.name, conv, []string{c.name + ".weight"}, x)
		bn := &graph.BatchNorm{Gamma: sd[c.bn+".weight"].Data, Beta: sd[c.bn+".bias"].Data,
			Mean: sd[c.bn+".running_mean"].Data, Var: sd[c.bn+".running_var"].Data, Eps: 1e-5, ReLU: relu}
		return apply(c.bn, bn, []string{c.bn + ".weight", c.bn + ".bias"}, y)
	}
	x := b.Input(fmt.Sprintf("layer%d", len(a.Blocks)-1), in)
	_, blocks := a.walk()
	last := fmt.Sprintf("layer%d.", len(a.Blocks))
	for _, bl := range blocks {
		if !strings.HasPrefix(bl.prefix+".", last) {
			continue
		}
		y := x
		for k, c := range bl.convs {
			y = convBN(c, y, k < len(bl.convs)-1)
		}
		identity := x
		if bl.down != nil {
			identity = convBN(*bl.down, x, false)
		}
		x = b.Apply(bl.prefix+".add", graph.Add{ReLU: true}, y, identity)
	}
	x = b.Apply("avgpool", graph.GlobalAvgPool{}, x)
	x = b.Apply("flatten", graph.Flatten{Axis: 1}, x)
	fc := &graph.Linear{In: a.Features(), Out: a.Classes, Weight: sd["fc.weight"].Data, Bias: sd["fc.bias"].Data}
	x = apply("fc", fc, []string{"fc.weight", "fc.bias"}, x)
	b.Output(b.Apply("loss", graph.SoftmaxCrossEntropy{Labels: labels}, x))
	g, err := b.Graph()
	if err != nil {
		return nil, nil, err
	}
	return g, params, nil
}
