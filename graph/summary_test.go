package graph_test

import (
	"math"
	"slices"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
)

// summaries memoises summarize, for the tests of this file (which do not
// run in parallel).
var summaries = map[string]graph.Summary{}

// summarize summarises torchvision architecture arch at 1×3×224×224.
func summarize(t *testing.T, arch string) graph.Summary {
	t.Helper()
	if s, ok := summaries[arch]; ok {
		return s
	}
	a, err := resnet.Lookup(arch)
	if err != nil {
		t.Fatal(err)
	}
	g, err := resnet.Build(a, a.ShapeWeights(), resnet.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := graph.Summarize(g)
	summaries[arch] = s
	return s
}

// The totals are torchvision's: sum(p.numel() for p in model.parameters())
// is 11,689,512 for resnet18 and 25,557,032 for resnet50, and torchinfo
// reports 4.09 G multiply-adds for resnet50 at 224×224.
func TestSummarizeTorchvisionTotals(t *testing.T) {
	for arch, want := range map[string]int64{"resnet18": 11_689_512, "resnet50": 25_557_032} {
		if s := summarize(t, arch); s.Params != want {
			t.Errorf("%s: %d parameters, torchvision has %d", arch, s.Params, want)
		}
	}
	s := summarize(t, "resnet50")
	if g := float64(s.MACs) / 1e9; math.Abs(g-4.09) > 0.005 {
		t.Errorf("resnet50: %.4f G multiply-adds, torchinfo says 4.09 G", g)
	}
}

// Every registry architecture the resnet package builds has torchvision's
// parameter count (num_params) and operation count (_ops, in billions of
// multiply-adds, to three decimals).
func TestSummarizeRegistry(t *testing.T) {
	checked := 0
	for _, w := range hub.All() {
		if w.Version != "v1" {
			continue // the same architecture as v1
		}
		if _, err := resnet.Lookup(w.Arch); err != nil {
			t.Logf("%s: not built by package resnet yet", w.Arch)
			continue
		}
		s := summarize(t, w.Arch)
		if s.Params != int64(w.NumParams) {
			t.Errorf("%s: %d parameters, torchvision has %d", w.Arch, s.Params, w.NumParams)
		}
		if g := float64(s.MACs) / 1e9; math.Abs(g-w.GOps) > 0.0005 {
			t.Errorf("%s: %.4f G multiply-adds, torchvision has %v", w.Arch, g, w.GOps)
		}
		checked++
	}
	if checked < 5 {
		t.Errorf("only %d architectures checked, want at least the 5 ResNets", checked)
	}
}

// The rows are the modules of torchvision's resnet18 with torchinfo's
// output shapes and parameter counts; multiply-adds are those of the
// convolutions (torchinfo: 118,013,952 for conv1) and the fc layer's
// products (512 × 1000; torchinfo adds the 1000 bias additions).
func TestSummarizeLayers(t *testing.T) {
	s := summarize(t, "resnet18")
	rows := map[string]graph.Layer{}
	var params int64
	for _, l := range s.Layers {
		rows[l.Name] = l
		params += l.Params
	}
	if params != s.Params {
		t.Errorf("the rows hold %d parameters, the total says %d", params, s.Params)
	}
	for _, want := range []graph.Layer{
		{Name: "conv1", Kind: "conv2d", Out: graph.Shape{1, 64, 112, 112}, Params: 9408, MACs: 118_013_952},
		{Name: "bn1", Kind: "batchnorm", Out: graph.Shape{1, 64, 112, 112}, Params: 128},
		{Name: "maxpool", Kind: "maxpool", Out: graph.Shape{1, 64, 56, 56}},
		{Name: "layer1.0.conv1", Kind: "conv2d", Out: graph.Shape{1, 64, 56, 56}, Params: 36_864, MACs: 115_605_504},
		{Name: "layer2.0.downsample.0", Kind: "conv2d", Out: graph.Shape{1, 128, 28, 28}, Params: 8192, MACs: 6_422_528},
		{Name: "layer4.1.bn2", Kind: "batchnorm", Out: graph.Shape{1, 512, 7, 7}, Params: 1024},
		{Name: "avgpool", Kind: "avgpool", Out: graph.Shape{1, 512, 1, 1}},
		{Name: "fc", Kind: "linear", Out: graph.Shape{1, 1000}, Params: 513_000, MACs: 512_000},
	} {
		got, ok := rows[want.Name]
		if !ok {
			t.Errorf("no row %s", want.Name)
			continue
		}
		if got.Kind != want.Kind || !slices.Equal(got.Out, want.Out) || got.Params != want.Params || got.MACs != want.MACs {
			t.Errorf("%s: %+v, want %+v", want.Name, got, want)
		}
	}
	if conv := rows["conv1"]; conv.Attrs != "c=3,o=64,k=7x7,s=2,p=3" {
		t.Errorf("conv1 attributes %q", conv.Attrs)
	}
	if !slices.EqualFunc(s.Inputs, []graph.Shape{{1, 3, 224, 224}}, graph.Shape.Equal) || s.InputBytes != 4*3*224*224 {
		t.Errorf("inputs %v of %d bytes", s.Inputs, s.InputBytes)
	}
	if s.PeakBytes <= s.InputBytes || s.PeakBytes >= s.ActivationBytes {
		t.Errorf("peak %d bytes: want more than the input's %d and less than all activations' %d", s.PeakBytes, s.InputBytes, s.ActivationBytes)
	}
}

// On a small graph every total can be counted by hand, and the graph is
// left unoptimised.
func TestSummarizeSmall(t *testing.T) {
	var b graph.Builder
	x := b.Input("x", graph.Shape{1, 2, 4, 4})
	conv := graph.Conv(2, 3, 1, 1, 0)
	conv.Weight = make([]float32, 6)
	ones := []float32{1, 1, 1}
	x = b.Apply("conv", conv, x)                                                           // [1,3,4,4]: 48 values
	x = b.Apply("bn", &graph.BatchNorm{Gamma: ones, Beta: ones, Mean: ones, Var: ones}, x) // 48
	x = b.Apply("relu", graph.ReLU{}, x)                                                   // 48
	x = b.Apply("pool", graph.GlobalAvgPool{}, x)                                          // [1,3,1,1]: 3
	x = b.Apply("flatten", graph.Flatten{Axis: 1}, x)                                      // a view
	x = b.Apply("fc", &graph.Linear{In: 3, Out: 2, Weight: make([]float32, 6), Bias: make([]float32, 2)}, x)
	b.Output(x)
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	s := graph.Summarize(g)
	// Parameters: the convolution's 6 weights (not the stand-ins for its
	// absent scale and bias), batch-norm's gamma and beta (not its running
	// statistics), the linear layer's 6 weights and 2 biases.
	if s.Params != 6+6+8 {
		t.Errorf("%d parameters, want 20", s.Params)
	}
	// Multiply-adds: 48 outputs × 2 input channels, and 2 outputs × 3 inputs.
	if s.MACs != 96+6 {
		t.Errorf("%d multiply-adds, want 102", s.MACs)
	}
	if s.InputBytes != 4*32 || s.ActivationBytes != 4*(3*48+3+2) {
		t.Errorf("input %d bytes, activations %d; want 128 and 596", s.InputBytes, s.ActivationBytes)
	}
	// Optimised, the convolution absorbs bn and relu; the planner keeps the
	// input (32), the convolution's output (48, still read by the pool),
	// the pool's (3, shared by the flatten view) and the output (2), each
	// in whole float quadruples.
	if s.PeakBytes != 4*(32+48+4+4) {
		t.Errorf("peak %d bytes, want 352", s.PeakBytes)
	}
	var kinds []string
	for _, l := range s.Layers {
		kinds = append(kinds, l.Kind)
	}
	if want := []string{"conv2d", "batchnorm", "relu", "avgpool", "flatten", "linear"}; !slices.Equal(kinds, want) {
		t.Errorf("rows %v, want %v", kinds, want)
	}
	if len(g.Nodes) != 6 || g.Nodes[1].Op.Kind() != "batchnorm" {
		t.Errorf("Summarize changed the graph: %d nodes", len(g.Nodes))
	}
}
