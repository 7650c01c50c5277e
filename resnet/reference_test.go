package resnet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/graphtest"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// reference is testdata/reference.json: PyTorch's float64 outputs for the
// synthetic-v1 weights (seed 0).
type reference struct {
	Images []string `json:"images"`
	Models map[string]struct {
		Keys            [][]any               `json:"keys"`
		SyntheticLogits [][]float64           `json:"synthetic_logits"`
		SyntheticStages map[string]stageStats `json:"synthetic_stages"`
		ImageLogits     [][]float64           `json:"image_logits"`
		ImageStages     map[string]stageStats `json:"image_stages"`
		ImageTop5       [][]int               `json:"image_top5"`
	} `json:"models"`
}

type stageStats struct {
	Shape []int     `json:"shape"`
	Mean  float64   `json:"mean"`
	Std   float64   `json:"std"`
	First []float64 `json:"first"`
}

func loadReference(t testing.TB) *reference {
	t.Helper()
	b, err := os.ReadFile("../testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// The ResNets' state_dict entries are torchvision's, in its order (the
// other families: TestFamilySpecs).
func TestSpecsMatchTorchvision(t *testing.T) {
	r := loadReference(t)
	for name := range r.Models {
		specs := resnet.Archs[name].Specs()
		keys := r.Models[name].Keys
		if len(specs) != len(keys) {
			t.Fatalf("%s: %d entries, torchvision has %d", name, len(specs), len(keys))
		}
		for i, k := range keys {
			shape := fmt.Sprint(k[1])
			if specs[i].Name != k[0].(string) || fmt.Sprint(specs[i].Shape) != shape {
				t.Fatalf("%s entry %d: %s %v, torchvision has %s %s", name, i, specs[i].Name, specs[i].Shape, k[0], shape)
			}
		}
	}
}

// stageErr compares a stage's activations with PyTorch's statistics:
// the largest of the relative errors of mean, std and first 8 values.
func stageErr(got []float32, want stageStats) float64 {
	var sum, sq float64
	for _, v := range got {
		sum += float64(v)
	}
	mean := sum / float64(len(got))
	for _, v := range got {
		sq += (float64(v) - mean) * (float64(v) - mean)
	}
	std := math.Sqrt(sq / float64(len(got)-1))
	scale := math.Abs(want.Mean) + want.Std
	e := math.Max(math.Abs(mean-want.Mean), math.Abs(std-want.Std)) / scale
	for i, f := range want.First {
		e = math.Max(e, math.Abs(float64(got[i])-f)/scale)
	}
	return e
}

// Tolerance for max|Δ|/max|ref| of the logits.
const logitTol = 1e-5

func runReference(t *testing.T, ex graph.Executor, arch string) {
	r := loadReference(t)
	m := r.Models[arch]
	a := resnet.Archs[arch]
	sd := weights.Synthetic(a.Specs(), 0)
	// One batch per input set, with PyTorch's outputs for it.
	type inputSet struct {
		name   string
		data   []float32
		n      int
		logits [][]float64
		stages map[string]stageStats
		top5   [][]int
	}
	var imgs []float32
	for _, name := range r.Images {
		base := name[:len(name)-4]
		imgs = append(imgs, graphtest.ReadF32(t, "../testdata/inputs/"+base+".3x224x224.f32")...)
	}
	sets := []inputSet{
		{"synthetic", graphtest.ReadF32(t, "../testdata/inputs/synthetic-seed0-2x3x224x224.f32"), 2, m.SyntheticLogits, m.SyntheticStages, nil},
		{"images", imgs, len(r.Images), m.ImageLogits, m.ImageStages, m.ImageTop5},
	}
	for _, in := range sets {
		which := in.name
		g, err := resnet.Build(a, sd, resnet.BuildOptions{Batch: in.n, WithStages: true})
		if err != nil {
			t.Fatal(err)
		}
		graph.Optimize(g)
		p, err := ex.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Run(in.data)
		if err == nil {
			// On the GPU: no kernel wrote past an activation buffer.
			if gp, ok := p.(interface{ CheckGuards() error }); ok {
				err = gp.CheckGuards()
			}
		}
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		for s, stage := range a.Stages()[:5] {
			e := stageErr(out[s], in.stages[stage])
			t.Logf("%s %s %s: stage error %.2e", arch, which, stage, e)
			if e > logitTol {
				t.Errorf("%s %s: %s differs from PyTorch: %.2e", arch, which, stage, e)
			}
		}
		logits := out[5]
		for i := 0; i < in.n; i++ {
			got := logits[i*1000 : (i+1)*1000]
			e := resnet.RelErr(got, in.logits[i])
			t.Logf("%s %s[%d]: logits max|Δ|/max|ref| = %.2e", arch, which, i, e)
			if e > logitTol {
				t.Errorf("%s %s[%d]: logits relative error %.2e > %.0e", arch, which, i, e, logitTol)
			}
			want := graphtest.TopK(in.logits[i], 5)
			if in.top5 != nil {
				if fmt.Sprint(want) != fmt.Sprint(in.top5[i]) {
					t.Fatalf("reference top-5 %v disagrees with its logits %v", in.top5[i], want)
				}
			}
			if g := graphtest.TopK(got, 5); fmt.Sprint(g) != fmt.Sprint(want) {
				t.Errorf("%s %s[%d]: top-5 %v, PyTorch %v", arch, which, i, g, want)
			}
		}
	}
}

// The CPU reference against PyTorch on resnet18 and resnet50, which
// between them hold every op and layer kind of the five depths (basic and
// bottleneck blocks, every stride and downsample); the GPU runs all five.
func TestPyTorchCPU(t *testing.T) {
	for _, arch := range []string{"resnet18", "resnet50"} {
		t.Run(arch, func(t *testing.T) {
			if testing.Short() && arch != "resnet18" {
				t.Skip("short: resnet18 only")
			}
			runReference(t, ref.Executor{}, arch)
		})
	}
}

// The GPU against PyTorch on the five ResNets of testdata/reference.json
// (the other families: TestFamiliesGPU).
func TestPyTorchGPU(t *testing.T) {
	dev := gputest.Device(t)
	for _, arch := range []string{"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"} {
		t.Run(arch, func(t *testing.T) {
			if testing.Short() && arch != "resnet18" {
				t.Skip("short: resnet18 only")
			}
			// Guard: activations are poisoned before the run (an unwritten
			// element shows as NaN) and followed by checked guard regions.
			runReference(t, gpuexec.New(dev, gpuexec.Options{Guard: 64}), arch)
		})
	}
}

// The fixture images through our preprocessing (Pillow-exact for PNG) and
// the CPU reference give PyTorch's logits; JPEG decoders differ, so
// rocket.jpg is only reported.
func TestImagesEndToEnd(t *testing.T) {
	r := loadReference(t)
	m, err := resnet.Load(context.Background(), "resnet18", "synthetic:0", resnet.Options{Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var batch [][]float32
	for _, name := range r.Images {
		img, err := imagenet.Open("../testdata/images/" + name)
		if err != nil {
			t.Fatal(err)
		}
		x, err := m.Preprocess(img)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, x)
	}
	logits, _, err := m.Forward(batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range r.Images {
		e := resnet.RelErr(logits[i], r.Models["resnet18"].ImageLogits[i])
		t.Logf("%s: logits max|Δ|/max|ref| = %.2e", name, e)
		if strings.HasSuffix(name, ".png") && e > logitTol {
			t.Errorf("%s: relative error %.2e > %.0e", name, e, logitTol)
		}
		if math.IsNaN(e) || e > 0.5 {
			t.Errorf("%s: relative error %.2e", name, e)
		}
	}
}
