package resnet_test

import (
	"encoding/json"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpugrad"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

// normsGolden is testdata/grad/norms_ARCH_SIZE.json, PyTorch's gradient
// norms on our initial weights (make_norms.py).
type normsGolden struct {
	Torch  string   `json:"torch"`
	Arch   string   `json:"arch"`
	Size   int      `json:"size"`
	Seed   uint64   `json:"seed"`
	Images []string `json:"images"`
	Labels []int    `json:"labels"`
	ResNet struct {
		Loss   float64            `json:"loss"`
		Layers []resnet.LayerGrad `json:"layers"`
	} `json:"resnet"`
	Plain struct {
		Loss   float64            `json:"loss"`
		Layers []resnet.LayerGrad `json:"layers"`
	} `json:"plain"`
}

// The CPU reference's gradient norms at every layer of plain-N and
// ResNet-N match PyTorch autograd's on the same weights and images within
// 1e-5 relative. The larger pairs (resnet34 and resnet50 at 64², resnet110
// at 32²; a minute or more each) run with RESNET_GPU_LONG=1 only.
func TestGradNormsTorch(t *testing.T) {
	files := []string{"norms_resnet18_32.json", "norms_resnet20_32.json"}
	if long() {
		files = append(files, "norms_resnet34_64.json", "norms_resnet50_64.json", "norms_resnet110_32.json")
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("../testdata/grad", f))
			if err != nil {
				t.Fatal(err)
			}
			var g normsGolden
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatal(err)
			}
			var imgs []image.Image
			for _, name := range g.Images {
				img, err := imagenet.Open(filepath.Join("../testdata/images", name))
				if err != nil {
					t.Fatal(err)
				}
				imgs = append(imgs, img)
			}
			input, err := resnet.TrainBatch(imgs, g.Size)
			if err != nil {
				t.Fatal(err)
			}
			for _, plain := range []bool{false, true} {
				want, wantLoss := g.ResNet.Layers, g.ResNet.Loss
				if plain {
					want, wantLoss = g.Plain.Layers, g.Plain.Loss
				}
				net, err := resnet.TrainGraph(g.Arch, resnet.TrainOptions{Plain: plain, Batch: len(imgs), Height: g.Size, Width: g.Size, Labels: g.Labels, Seed: g.Seed})
				if err != nil {
					t.Fatal(err)
				}
				loss, got, err := net.GradNorms(input)
				if err != nil {
					t.Fatal(err)
				}
				if e := math.Abs(loss-wantLoss) / wantLoss; e > 1e-9 {
					t.Errorf("%s: loss %.9g, PyTorch %.9g", net.Name, loss, wantLoss)
				}
				if len(got) != len(want) {
					t.Fatalf("%s: %d layers, PyTorch %d", net.Name, len(got), len(want))
				}
				worst := 0.0
				for i, l := range got {
					w := want[i]
					if l.Name != w.Name {
						t.Fatalf("%s: layer %d is %s, PyTorch's %s", net.Name, i, l.Name, w.Name)
					}
					for _, p := range [][2]float64{{l.WeightGradNorm, w.WeightGradNorm}, {l.ActivationGradNorm, w.ActivationGradNorm}} {
						e := math.Abs(p[0]-p[1]) / p[1]
						worst = math.Max(worst, e)
						if !(e <= 1e-5) {
							t.Errorf("%s %s: norm %.9g, PyTorch %.9g (rel err %.2e)", net.Name, l.Name, p[0], p[1], e)
						}
					}
				}
				t.Logf("%s: %d layers, worst rel err against PyTorch %s %.2e", net.Name, len(got), g.Torch, worst)
			}
		})
	}
}

// The plain network is the residual one without its identity paths and
// projections: the same main-path layers, with the same initial weights
// (each tensor seeded by its name), and no additions.
func TestPlainIsResNetWithoutShortcuts(t *testing.T) {
	opt := resnet.TrainOptions{Batch: 2, Height: 32, Width: 32, Labels: []int{1, 2}, Seed: 7}
	res, err := resnet.TrainGraph("resnet20", opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Plain = true
	plain, err := resnet.TrainGraph("resnet20", opt)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]float32{}
	for _, x := range res.Tensors {
		byName[x.Name] = x.Data
	}
	for _, x := range plain.Tensors {
		if w, ok := byName[x.Name]; !ok || !slices.Equal(w, x.Data) {
			t.Errorf("%s: plain20's values differ from resnet20's (or it has none)", x.Name)
		}
	}
	if len(res.Layers) != 22 || len(plain.Layers) != 20 { // 19 convs + fc; 2 projections
		t.Errorf("resnet20 has %d weighted layers, plain20 %d; want 22 and 20", len(res.Layers), len(plain.Layers))
	}
	for _, n := range plain.Graph.Nodes {
		if _, ok := n.Op.(graph.Add); ok {
			t.Errorf("plain20 has an addition %s", n.Name)
		}
	}
	// He init: a convolution's weights have standard deviation near
	// sqrt(2/fan_out).
	for _, x := range res.Tensors {
		if x.Name != "layer3.1.conv1.weight" {
			continue
		}
		var s float64
		for _, v := range x.Data {
			s += float64(v) * float64(v)
		}
		std, want := math.Sqrt(s/float64(len(x.Data))), math.Sqrt(2/float64(64*9))
		if math.Abs(std-want) > 0.05*want {
			t.Errorf("%s: std %.4f, want about %.4f", x.Name, std, want)
		}
	}
}

// Bad options are errors.
func TestTrainGraphErrors(t *testing.T) {
	for _, c := range []struct {
		arch string
		opt  resnet.TrainOptions
	}{
		{"resnet101", resnet.TrainOptions{Batch: 1, Height: 32, Width: 32, Labels: []int{0}}},
		{"resnet21", resnet.TrainOptions{Batch: 1, Height: 32, Width: 32, Labels: []int{0}}},
		{"resnet18", resnet.TrainOptions{Batch: 2, Height: 32, Width: 32, Labels: []int{0}}},
		{"resnet18", resnet.TrainOptions{Batch: 1, Height: 32, Width: 32, Labels: []int{1000}}},
		{"resnet20", resnet.TrainOptions{Batch: 0, Height: 32, Width: 32}},
	} {
		if _, err := resnet.TrainGraph(c.arch, c.opt); err == nil {
			t.Errorf("TrainGraph(%q, %+v) succeeded", c.arch, c.opt)
		}
	}
}

// A training step on the GPU (forward and backward in float32, one
// submission) gives the loss and every layer's gradient norms within 1e-4
// of the CPU reference's (float64) on plain-20 and ResNet-20 at 16². The
// per-op kernels agree within 1e-6 (opcheck's TestGradGPU); through the
// plain net's 19 batch-norms the float32 forward's rounding grows to
// 6.5e-5 at the stem on lavapipe (the residual net's stays below 1e-6).
func TestGradNormsGPU(t *testing.T) {
	ex := gpugrad.New(gputest.Device(t))
	var imgs []image.Image
	for _, name := range []string{"astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"} {
		img, err := imagenet.Open(filepath.Join("../testdata/images", name))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	input, err := resnet.TrainBatch(imgs, 16)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []bool{false, true} {
		net, err := resnet.TrainGraph("resnet20", resnet.TrainOptions{Plain: plain, Batch: 4, Height: 16, Width: 16, Labels: []int{0, 3, 5, 9}, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		wantLoss, want, err := net.GradNorms(input)
		if err != nil {
			t.Fatal(err)
		}
		loss, got, err := net.GradNormsGPU(input, ex)
		if err != nil {
			t.Fatal(err)
		}
		if e := math.Abs(loss-wantLoss) / wantLoss; !(e <= 1e-5) {
			t.Errorf("%s: GPU loss %.7g, CPU %.7g", net.Name, loss, wantLoss)
		}
		worst := 0.0
		for i, l := range got {
			for _, p := range [][2]float64{{l.WeightGradNorm, want[i].WeightGradNorm}, {l.ActivationGradNorm, want[i].ActivationGradNorm}} {
				e := math.Abs(p[0]-p[1]) / p[1]
				worst = math.Max(worst, e)
				if testing.Verbose() && e > 1e-5 {
					t.Logf("%s %s: %.2e", net.Name, l.Name, e)
				}
				if !(e <= 1e-4) {
					t.Errorf("%s %s: GPU %.7g, CPU %.7g (rel err %.2e)", net.Name, l.Name, p[0], p[1], e)
				}
			}
		}
		t.Logf("%s on %s: %d layers, worst rel err %.2e", net.Name, ex.Name(), len(got), worst)
	}
}
