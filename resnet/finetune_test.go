package resnet

import (
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// LastStageGraph on the previous stage's output computes the network's
// logits (the inference graph's, on the CPU reference) and names every
// convolution and batch-norm of the last stage and the classifier as
// trainable, for BasicBlock and Bottleneck ResNets.
func TestLastStageGraph(t *testing.T) {
	for _, a := range []Arch{
		{Name: "resnet10", Family: FamilyResNet, Blocks: [4]int{1, 1, 1, 2}, Classes: 5, Groups: 1, WidthPerGroup: 64},
		{Name: "resnet-b", Family: FamilyResNet, Blocks: [4]int{1, 1, 1, 1}, Classes: 3, Bottleneck: true, Groups: 1, WidthPerGroup: 64},
	} {
		sd := weights.Synthetic(a.Specs(), 1)
		g, err := Build(a, sd, BuildOptions{Batch: 2, Height: 32, Width: 32, WithStages: true})
		if err != nil {
			t.Fatal(err)
		}
		x := weights.SyntheticInput(2, 3, 32, 32, 1)
		p, err := ref.Executor{}.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		layer3, logits := out[3], out[5]
		labels := []int{1, 2}
		sg, params, err := LastStageGraph(a, sd, g.Outputs[3].Shape, labels)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := ref.NewTrainer(sg)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := tr.Forward(graph.To64(layer3))
		if err != nil {
			t.Fatal(err)
		}
		got := vals[sg.Outputs[0].Producer.Inputs[0].ID]
		if e := RelErr(logits, got); e > 1e-6 {
			t.Errorf("%s: logits differ from the network's by %.2e", a.Name, e)
		}
		want := 0
		for _, s := range a.Specs() {
			if len(s.Name) > 7 && s.Name[:7] == "layer4." && (s.Name[len(s.Name)-7:] == ".weight" || s.Name[len(s.Name)-5:] == ".bias") {
				want++
			}
		}
		want += 2 // fc
		if len(params) != want {
			t.Errorf("%s: %d trainable arrays, want %d", a.Name, len(params), want)
		}
		names, _ := sg.Nodes[params[0].Node].Op.(graph.Differentiable).Trainable()
		if len(names) == 0 || params[0].Name != "layer4.0.conv1.weight" {
			t.Errorf("%s: first parameter %+v", a.Name, params[0])
		}
	}
	dense := Archs["densenet121"]
	if _, _, err := LastStageGraph(dense, nil, graph.Shape{1, 1, 1, 1}, []int{0}); err == nil {
		t.Error("a DenseNet's last stage: no error")
	}
}
