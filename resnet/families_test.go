package resnet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/graphtest"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// familyRef is testdata/models/reference.json: PyTorch's float64 logits
// for every torchvision ResNet-family architecture with synthetic-v1
// weights (seed 0), made by testdata/models/make_models.py.
type familyRef struct {
	Images []string `json:"images"`
	Models map[string]struct {
		Arch            string      `json:"arch"`
		Classes         int         `json:"num_classes"`
		NumKeys         int         `json:"num_keys"`
		KeysSHA256      string      `json:"keys_sha256"`
		Keys            [][]any     `json:"keys"`
		SyntheticLogits [][]float64 `json:"synthetic_logits"`
		SyntheticTop5   [][]int     `json:"synthetic_top5"`
		ImageLogits     [][]float64 `json:"image_logits"`
		ImageTop5       [][]int     `json:"image_top5"`
	} `json:"models"`
}

func loadFamilies(t testing.TB) *familyRef {
	t.Helper()
	b, err := os.ReadFile("../testdata/models/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r familyRef
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Models) == 0 {
		t.Fatal("testdata/models/reference.json has no models")
	}
	return &r
}

// familyArch is the architecture of a reference model, with its head.
func familyArch(t testing.TB, r *familyRef, model string) resnet.Arch {
	t.Helper()
	m := r.Models[model]
	a, err := resnet.Lookup(m.Arch)
	if err != nil {
		t.Fatal(err)
	}
	return a.WithClasses(m.Classes)
}

// Every architecture's state_dict entries are torchvision's, in its order
// (the digest of "name:d0,d1,…" lines, and every entry where the reference
// lists them), and its state_dict's architecture is inferred back exactly.
func TestFamilySpecs(t *testing.T) {
	r := loadFamilies(t)
	covered := map[string]bool{}
	for name, m := range r.Models {
		a := familyArch(t, r, name)
		covered[a.Name] = true
		specs := a.Specs()
		if d := weights.Digest(specs); len(specs) != m.NumKeys || d != m.KeysSHA256 {
			t.Errorf("%s: %d entries (digest %.8s), torchvision has %d (%.8s)", name, len(specs), d, m.NumKeys, m.KeysSHA256)
		}
		for i, k := range m.Keys {
			if i >= len(specs) || specs[i].Name != k[0].(string) || fmt.Sprint(specs[i].Shape) != fmt.Sprint(k[1]) {
				t.Errorf("%s entry %d: torchvision has %s %v", name, i, k[0], k[1])
				break
			}
		}
		got, err := resnet.InferArch(a.ShapeWeights())
		if err != nil || got != a {
			t.Errorf("%s: inferred %+v, %v; want %+v", name, got, err, a)
		}
	}
	for name := range loadReference(t).Models { // resnet18…152: TestSpecsMatchTorchvision
		covered[name] = true
	}
	for _, name := range resnet.ArchNames() {
		if !covered[name] {
			t.Errorf("%s has no PyTorch reference", name)
		}
	}
}

// quickGPU are the reference models the GPU test runs by default: one of
// each family and each changed head; RESNET_GPU_LONG=1 runs them all.
var quickGPU = []string{"resnet34-c10", "wide_resnet50_2", "resnext50_32x4d", "densenet121", "densenet121-c5"}

// quickCPU run on the CPU reference, on the first synthetic input only
// (RESNET_GPU_LONG=1: every model, still one input: the reference takes
// up to a minute per image for the 101-layer ResNeXts on two cores).
var quickCPU = []string{"resnext50_32x4d-c10", "densenet121-c5"}

func long() bool { return os.Getenv("RESNET_GPU_LONG") == "1" }

// familyInputs is the batch the family tests run: the two synthetic
// inputs then the four images, with PyTorch's logits and top-5 for each.
func familyInputs(t *testing.T, r *familyRef, model string) (x []float32, logits [][]float64, top5 [][]int) {
	m := r.Models[model]
	x = graphtest.ReadF32(t, "../testdata/inputs/synthetic-seed0-2x3x224x224.f32")
	for _, name := range r.Images {
		x = append(x, graphtest.ReadF32(t, "../testdata/inputs/"+name[:len(name)-4]+".3x224x224.f32")...)
	}
	return x, append(m.SyntheticLogits, m.ImageLogits...), append(m.SyntheticTop5, m.ImageTop5...)
}

// checkFamily runs model on ex over the first n inputs and compares with
// PyTorch: relative error within 1e-5, top-5 identical.
func checkFamily(t *testing.T, r *familyRef, model string, ex graph.Executor, n int) {
	a := familyArch(t, r, model)
	x, want, top5 := familyInputs(t, r, model)
	sd := weights.Synthetic(a.Specs(), 0)
	g, err := resnet.Build(a, sd, resnet.BuildOptions{Batch: n})
	if err != nil {
		t.Fatal(err)
	}
	graph.Optimize(g)
	p, err := ex.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out, err := p.Run(x[:n*3*224*224])
	if err == nil {
		if gp, ok := p.(*gpuexec.Program); ok {
			err = gp.CheckGuards()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	k := a.Classes
	for i := 0; i < n; i++ {
		got := out[0][i*k : (i+1)*k]
		e := resnet.RelErr(got, want[i])
		t.Logf("%s on %s, input %d: max|Δ|/max|ref| = %.2e", model, ex.Name(), i, e)
		if e > logitTol {
			t.Errorf("%s on %s, input %d: relative error %.2e > %.0e", model, ex.Name(), i, e, logitTol)
		}
		if tk := graphtest.TopK(got, 5); !slices.Equal(tk, top5[i]) {
			t.Errorf("%s on %s, input %d: top-5 %v, PyTorch %v", model, ex.Name(), i, tk, top5[i])
		}
	}
}

// Every family on the GPU against PyTorch float64: the two synthetic
// inputs and the four images in one batch.
func TestFamiliesGPU(t *testing.T) {
	dev := gputest.Device(t)
	ex := gpuexec.New(dev, gpuexec.Options{Guard: 16})
	r := loadFamilies(t)
	models := quickGPU
	if long() {
		models = slices.Sorted(func(yield func(string) bool) {
			for m := range r.Models {
				if !yield(m) {
					return
				}
			}
		})
	}
	for _, m := range models {
		t.Run(m, func(t *testing.T) { checkFamily(t, r, m, ex, 6) })
	}
}

// Every family on the CPU reference against PyTorch float64.
func TestFamiliesCPU(t *testing.T) {
	r := loadFamilies(t)
	models, n := quickCPU, 1
	if long() {
		models = nil
		for m := range r.Models {
			models = append(models, m)
		}
		slices.Sort(models)
	}
	for _, m := range models {
		t.Run(m, func(t *testing.T) { checkFamily(t, r, m, ref.Executor{}, n) })
	}
}

// A fine-tuned-style checkpoint of a custom DenseNet configuration with a
// 3-class head (testdata/tiny/make_tiny.py) loads with its architecture
// inferred and gives PyTorch's logits on the GPU and the CPU reference.
func TestTinyCheckpoint(t *testing.T) {
	w, err := resnet.LoadWeights(context.Background(), "", "../testdata/tiny/densenet-tiny-c3.pth", resnet.WeightsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "densenet(growth=8, blocks=[2 2 2 2], init=16, bn_size=2) with 3 classes"; w.Arch.String() != want || w.Pretrained {
		t.Fatalf("loaded as %q (pretrained %v), want %q", w.Arch, w.Pretrained, want)
	}
	b, err := os.ReadFile("../testdata/tiny/densenet-tiny-c3.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Images []string    `json:"images"`
		Logits [][]float64 `json:"image_logits"`
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	var batch [][]float32
	for _, name := range want.Images {
		batch = append(batch, graphtest.ReadF32(t, "../testdata/inputs/"+name[:len(name)-4]+".3x224x224.f32"))
	}
	for _, dev := range []string{"cpu", "gpu"} {
		opt := resnet.Options{Device: dev, Weights: w}
		if dev == "gpu" {
			opt.Exec = gpuexec.New(gputest.Device(t), gpuexec.Options{Guard: 16})
		}
		m, err := resnet.Load(context.Background(), "", "", opt)
		if err != nil {
			t.Fatal(err)
		}
		logits, _, err := m.Forward(batch)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i := range batch {
			if e := resnet.RelErr(logits[i], want.Logits[i]); !(e <= logitTol) {
				t.Errorf("%s, %s: relative error %.2e > %.0e", dev, want.Images[i], e, logitTol)
			}
		}
	}
}
