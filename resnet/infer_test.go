package resnet

import (
	"math"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// A state_dict's architecture and head are inferred from its keys and
// shapes: torchvision's names for its configurations, a description of
// any other configuration of the families.
func TestInferArch(t *testing.T) {
	custom := Arch{Family: FamilyResNet, Blocks: [4]int{1, 2, 1, 1}, Classes: 7, Bottleneck: true, Groups: 8, WidthPerGroup: 16}
	dense := Arch{Family: FamilyDenseNet, Blocks: [4]int{2, 3, 2, 2}, Classes: 3, Growth: 12, InitFeatures: 24, BNSize: 2}
	for _, c := range []struct {
		a    Arch
		want string
	}{
		{Archs["resnet34"].WithClasses(10), "resnet34 with 10 classes"},
		{Archs["resnext50_32x4d"].WithClasses(10), "resnext50_32x4d with 10 classes"},
		{Archs["wide_resnet101_2"], "wide_resnet101_2"},
		{Archs["resnext101_64x4d"].WithClasses(1), "resnext101_64x4d with 1 class"},
		{Archs["densenet161"].WithClasses(2), "densenet161 with 2 classes"},
		{custom, "resnet(Bottleneck, layers=[1 2 1 1], groups=8, width_per_group=16) with 7 classes"},
		{dense, "densenet(growth=12, blocks=[2 3 2 2], init=24, bn_size=2) with 3 classes"},
	} {
		got, err := InferArch(c.a.ShapeWeights())
		if err != nil {
			t.Errorf("%s: %v", c.want, err)
			continue
		}
		if got.String() != c.want || !got.sameNet(c.a) || got.Classes != c.a.Classes {
			t.Errorf("inferred %q (%+v), want %q", got, got, c.want)
		}
	}
}

// A state_dict that fits no family names what does not fit.
func TestInferArchErrors(t *testing.T) {
	drop := func(sd weights.StateDict, key string) weights.StateDict {
		delete(sd, key)
		return sd
	}
	reshape := func(sd weights.StateDict, key string, shape ...int) weights.StateDict {
		n := 1
		for _, d := range shape {
			n *= d
		}
		sd[key] = &weights.Tensor{Shape: shape, DType: "float32", Data: make([]float32, n)}
		return sd
	}
	r50 := func() weights.StateDict { return Archs["resnet50"].ShapeWeights() }
	for _, c := range []struct {
		name string
		sd   weights.StateDict
		want string
	}{
		{"empty", weights.StateDict{}, "first entry is (empty)"},
		{"other model", reshape(weights.StateDict{}, "encoder.weight", 3, 4), "first entry is encoder.weight [3 4]"},
		{"no stage 3", drop(drop(r50(), "layer3.0.conv1.weight"), "layer3.1.conv1.weight"), "stage 3 has no blocks"},
		{"missing bn", drop(r50(), "layer2.1.bn2.running_var"), "looks like resnet50 but does not fit it: weights: missing entry layer2.1.bn2.running_var"},
		{"extra entry", reshape(r50(), "layer1.0.se.weight", 4), "unexpected entry layer1.0.se.weight"},
		{"bad grouping", reshape(r50(), "layer1.0.conv2.weight", 64, 48, 3, 3), "no grouping of 64 channels"},
		{"no head", drop(r50(), "fc.weight"), "has no fc.weight"},
		{"head rank", reshape(r50(), "fc.weight", 1000, 2048, 1), "fc.weight has shape [1000 2048 1]"},
		{"densenet growth", reshape(Archs["densenet121"].ShapeWeights(), "features.denseblock1.denselayer1.conv2.weight", 32, 100, 3, 3), "not a multiple of the growth rate 32"},
	} {
		_, err := InferArch(c.sd)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// A named architecture must agree with the file's; otherwise the error
// says what the file looks like.
func TestFitArch(t *testing.T) {
	sd := Archs["resnext50_32x4d"].WithClasses(10).ShapeWeights()
	if a, err := fitArch(sd, "", "x.pth"); err != nil || a.String() != "resnext50_32x4d with 10 classes" {
		t.Errorf("no arch named: %v, %v", a, err)
	}
	if a, err := fitArch(sd, "resnext50_32x4d", "x.pth"); err != nil || a.Classes != 10 {
		t.Errorf("the file's own arch named: %v, %v; want its 10 classes", a, err)
	}
	_, err := fitArch(sd, "resnet50", "x.pth")
	if err == nil || err.Error() != "resnet: weights x.pth do not fit resnet50: this looks like resnext50_32x4d with 10 classes" {
		t.Errorf("another arch named: %v", err)
	}
	if _, err := fitArch(sd, "resnet20", "x.pth"); err == nil || !strings.Contains(err.Error(), `unknown architecture "resnet20"`) {
		t.Errorf("unknown arch: %v", err)
	}
	partial := Archs["resnet18"].ShapeWeights()
	delete(partial, "layer4.0.conv1.weight")
	delete(partial, "layer4.1.conv1.weight")
	if a, err := fitArch(partial, "resnet18", "x.pth"); err != nil || a.Name != "resnet18" {
		t.Errorf("nothing fits but resnet18 named: %v, %v; want resnet18 for the caller's check", a, err)
	}
	if _, err := fitArch(partial, "", "x.pth"); err == nil || !strings.Contains(err.Error(), "x.pth: resnet: the state_dict fits no") {
		t.Errorf("nothing fits, none named: %v", err)
	}
}

// Non-finite weights are refused at load, naming the tensor.
func TestFiniteWeights(t *testing.T) {
	sd := Archs["resnet18"].ShapeWeights()
	if err := finite(sd); err != nil {
		t.Fatal(err)
	}
	sd["layer2.0.bn1.running_var"].Data[3] = float32(math.Inf(1))
	sd["layer3.1.conv2.weight"].Data[7] = float32(math.NaN())
	if err := finite(sd); err == nil || err.Error() != "layer2.0.bn1.running_var holds +Inf at element 3" {
		t.Errorf("%v, want the first tensor by name", err)
	}
}
