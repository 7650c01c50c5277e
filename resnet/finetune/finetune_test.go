package finetune

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

const dataDir = "../../testdata/finetune/data"

// tinyBase is a ResNet with one BasicBlock per stage (512 features) on
// synthetic weights, run at 16×16: a backbone the tests can afford.
func tinyBase(t *testing.T, opt resnet.Options) *resnet.Model {
	t.Helper()
	a := resnet.Arch{Name: "resnet10", Family: resnet.FamilyResNet, Blocks: [4]int{1, 1, 1, 1}, Classes: 1000, Groups: 1, WidthPerGroup: 64}
	tr := imagenet.V1
	tr.Resize, tr.Crop = 18, 16
	opt.Weights = &resnet.Weights{Name: "synthetic:0", Arch: a, State: weights.Synthetic(a.Specs(), 0), Transform: tr}
	m, err := resnet.Load(context.Background(), "", "", opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func loadData(t *testing.T) *Dataset {
	t.Helper()
	d, err := LoadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The dataset's classes are its folders in sorted order, with every image.
func TestLoadDir(t *testing.T) {
	d := loadData(t)
	if want := []string{"cat", "coffee", "rocket"}; !slices.Equal(d.Classes, want) {
		t.Fatalf("classes %v, want %v", d.Classes, want)
	}
	count := make([]int, 3)
	for _, s := range d.Samples {
		count[s.Label]++
		if !strings.Contains(s.Path, d.Classes[s.Label]) {
			t.Errorf("%s labelled %s", s.Path, d.Classes[s.Label])
		}
	}
	if !slices.Equal(count, []int{10, 10, 10}) {
		t.Errorf("images per class %v, want 10 each", count)
	}
}

// Bad folders are clear errors.
func TestLoadDirErrors(t *testing.T) {
	dir := t.TempDir()
	mk := func(p string, data string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img, err := os.ReadFile(filepath.Join(dataDir, "cat", "cat-00.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	mk(filepath.Join(dir, "one", "a", "x.jpg"), string(img))
	mk(filepath.Join(dir, "empty", "a", "x.jpg"), string(img))
	mk(filepath.Join(dir, "empty", "b", "notes.txt"), "no image")
	mk(filepath.Join(dir, "bad", "a", "x.jpg"), string(img))
	mk(filepath.Join(dir, "bad", "b", "y.png"), "not a png")
	for name, want := range map[string]string{
		"missing": "no such file",
		"one":     "1 class folders, want at least 2",
		"empty":   `class "b"`,
		"bad":     "y.png",
	} {
		_, err := LoadDir(filepath.Join(dir, name))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, want)
		}
	}
}

// The split holds out a fraction of every class, the same for the same
// seed, another for another seed, and no image is in both halves.
func TestSplit(t *testing.T) {
	d := loadData(t)
	paths := func(ss []Sample) (out []string) {
		for _, s := range ss {
			out = append(out, s.Path)
		}
		return out
	}
	train, val, err := d.Split(0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	count := make([]int, 3)
	for _, s := range val {
		count[s.Label]++
	}
	if !slices.Equal(count, []int{2, 2, 2}) || len(train) != 24 {
		t.Errorf("held out %v of each class and kept %d, want 2 each and 24", count, len(train))
	}
	for _, p := range paths(val) {
		if slices.Contains(paths(train), p) {
			t.Errorf("%s in both halves", p)
		}
	}
	_, again, _ := d.Split(0.2, 7)
	_, other, _ := d.Split(0.2, 8)
	if !slices.Equal(paths(val), paths(again)) {
		t.Error("the same seed gives another split")
	}
	if slices.Equal(paths(val), paths(other)) {
		t.Error("seeds 7 and 8 give the same split")
	}
	for _, bad := range []float64{-0.1, 1, 2} {
		if _, _, err := d.Split(bad, 1); err == nil {
			t.Errorf("Split(%v): no error", bad)
		}
	}
}

func opts() Options {
	return Options{Epochs: 6, Batch: 8, LR: 0.01, Adam: true, Val: 0.2, Seed: 3}
}

func save(t *testing.T, r *Result) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := weights.Save(&b, r.State, r.Names); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// checkLearns checks that the loss falls and the held-out images are
// classified well above chance (1/3), and that the backbone is untouched.
func checkLearns(t *testing.T, base *resnet.Model, r *Result) {
	t.Helper()
	first, last := r.Epochs[0], r.Epochs[len(r.Epochs)-1]
	t.Logf("%s: loss %.3f → %.3f, val accuracy %.2f → %.2f", r.Device, first.TrainLoss, last.TrainLoss, first.ValAcc, last.ValAcc)
	if !(last.TrainLoss < 0.7*first.TrainLoss) {
		t.Errorf("training loss %v → %v: it does not fall", first.TrainLoss, last.TrainLoss)
	}
	if !(last.ValAcc >= 5.0/6) || !(last.ValLoss < first.ValLoss) {
		t.Errorf("validation accuracy %v, loss %v → %v: want at least 5/6 and falling", last.ValAcc, first.ValLoss, last.ValLoss)
	}
	if r.Arch.Classes != 3 || len(r.Names) != len(r.Arch.Specs()) {
		t.Errorf("%v with %d entries", r.Arch, len(r.Names))
	}
	for _, n := range r.Names {
		if n == "fc.weight" || n == "fc.bias" {
			continue
		}
		if r.State[n] != base.Weights.State[n] {
			t.Errorf("%s changed", n)
		}
	}
	if s := r.State["fc.weight"].Shape; !slices.Equal(s, []int{3, 512}) {
		t.Errorf("fc.weight of shape %v", s)
	}
}

// On the CPU reference the head learns, and the same seed gives the same
// .pth bytes, whether the images stay decoded from one epoch to the next
// (each decoded once) or not (the held-out ones once, the training ones
// every epoch).
func TestRunCPU(t *testing.T) {
	d := loadData(t)
	base := tinyBase(t, resnet.Options{Device: "cpu"})
	var epochs []Epoch
	o := opts()
	o.Cache = 1 << 30
	o.Epoch = func(e Epoch) { epochs = append(epochs, e) }
	r, err := Run(context.Background(), base, d, o)
	if err != nil {
		t.Fatal(err)
	}
	checkLearns(t, base, r)
	if len(epochs) != o.Epochs || epochs[0].N != 1 {
		t.Errorf("%d epoch callbacks", len(epochs))
	}
	o.Epoch, o.Cache = nil, 0
	again, err := Run(context.Background(), base, d, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(save(t, r), save(t, again)) {
		t.Error("two runs with the same seed give different .pth bytes")
	}
	if n := r.Images.Decodes; n != len(d.Samples) {
		t.Errorf("with the cache: %d decodes of %d images, want one each", n, len(d.Samples))
	}
	if n, want := again.Images.Decodes, len(again.Val)+o.Epochs*len(again.Train); n != want || again.Images.Cached != 0 {
		t.Errorf("without the cache: %d decodes and %d bytes cached, want %d and none", n, again.Images.Cached, want)
	}
}

// gpuBase is tinyBase on the test device.
func gpuBase(t *testing.T) *resnet.Model {
	return tinyBase(t, resnet.Options{Exec: gpuexec.New(gputest.Device(t), gpuexec.Options{})})
}

// On the GPU (lavapipe in CI) the backbone and the head's backward pass
// run there; the head learns, the same seed repeats the bytes, and the
// losses follow the CPU reference's (whose first epochs are those of a
// shorter run: every epoch draws from generators seeded by the seed and
// the epoch).
func TestRunGPU(t *testing.T) {
	base := gpuBase(t)
	d := loadData(t)
	o := opts()
	var progress []int
	o.Progress = func(e, done, total int) {
		if e == 1 {
			progress = append(progress, done, total)
		}
	}
	r, err := Run(context.Background(), base, d, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Device, "gpu") {
		t.Fatalf("head trained on %q", r.Device)
	}
	if !slices.Equal(progress, []int{16, 24, 24, 24}) {
		t.Errorf("progress of epoch 1: %v, want 16 then 24 of 24", progress)
	}
	checkLearns(t, base, r)
	o.Progress = nil
	again, err := Run(context.Background(), base, d, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(save(t, r), save(t, again)) {
		t.Error("two GPU runs with the same seed give different .pth bytes")
	}
	o.Epochs = 2
	cpu, err := Run(context.Background(), tinyBase(t, resnet.Options{Device: "cpu"}), d, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cpu.Epochs {
		e := r.Epochs[i]
		if rel := math.Abs(e.TrainLoss-c.TrainLoss) / c.TrainLoss; !(rel < 1e-4) {
			t.Errorf("epoch %d: GPU loss %v, CPU %v", e.N, e.TrainLoss, c.TrainLoss)
		}
	}
}

// SGD with momentum and weight decay learns too.
func TestRunSGD(t *testing.T) {
	base := gpuBase(t)
	o := opts()
	o.Adam, o.LR, o.Momentum, o.WeightDecay = false, 0.001, 0.9, 1e-4
	r, err := Run(context.Background(), base, loadData(t), o)
	if err != nil {
		t.Fatal(err)
	}
	checkLearns(t, base, r)
}

// Bad options and bases are errors before any work.
func TestRunErrors(t *testing.T) {
	d := loadData(t)
	base := tinyBase(t, resnet.Options{Device: "cpu"})
	for name, f := range map[string]func(*Options){
		"epochs":   func(o *Options) { o.Epochs = 0 },
		"batch":    func(o *Options) { o.Batch = 0 },
		"lr":       func(o *Options) { o.LR = -1 },
		"momentum": func(o *Options) { o.Momentum = 1 },
		"decay":    func(o *Options) { o.WeightDecay = -1 },
		"val":      func(o *Options) { o.Val = 1 },
		"cache":    func(o *Options) { o.Cache = -1 },
	} {
		o := opts()
		f(&o)
		if _, err := Run(context.Background(), base, d, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	onnx := *base.Weights
	onnx.Graph = base.Weights.Build
	m, err := resnet.Load(context.Background(), "", "", resnet.Options{Device: "cpu", Weights: &onnx})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), m, d, opts()); err == nil || !strings.Contains(err.Error(), "ONNX") {
		t.Errorf("a network with its own graph: %v", err)
	}
}

// With TrainStage the last stage learns as well, on the GPU: its
// convolutions and batch-norm weights change, their running statistics
// and the rest of the backbone do not, and the losses follow the CPU
// reference's.
func TestRunStage(t *testing.T) {
	base := gpuBase(t)
	d := loadData(t)
	o := opts()
	o.TrainStage, o.LR, o.Epochs = true, 0.001, 4
	r, err := Run(context.Background(), base, d, o)
	if err != nil {
		t.Fatal(err)
	}
	first, last := r.Epochs[0], r.Epochs[len(r.Epochs)-1]
	t.Logf("%s: loss %.3f → %.3f, val accuracy %.2f → %.2f", r.Device, first.TrainLoss, last.TrainLoss, first.ValAcc, last.ValAcc)
	if !(last.TrainLoss < 0.7*first.TrainLoss) || !(last.ValAcc >= 5.0/6) {
		t.Errorf("loss %v → %v, validation accuracy %v: want falling by 30%% and at least 5/6", first.TrainLoss, last.TrainLoss, last.ValAcc)
	}
	for _, n := range r.Names {
		same := slices.Equal(r.State[n].Data, base.Weights.State[n].Data) && slices.Equal(r.State[n].Int, base.Weights.State[n].Int)
		trained := strings.HasPrefix(n, "layer4.") && !strings.Contains(n, "running_") && !strings.Contains(n, "num_batches") || strings.HasPrefix(n, "fc.")
		if trained == same {
			t.Errorf("%s: changed %v, want %v", n, !same, trained)
		}
	}
	o.Epochs = 2
	cpu, err := Run(context.Background(), tinyBase(t, resnet.Options{Device: "cpu"}), d, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cpu.Epochs {
		e := r.Epochs[i]
		if rel := math.Abs(e.TrainLoss-c.TrainLoss) / c.TrainLoss; !(rel < 1e-4) {
			t.Errorf("epoch %d: GPU loss %v, CPU %v", e.N, e.TrainLoss, c.TrainLoss)
		}
		if math.Abs(e.ValLoss-c.ValLoss) > 1e-4*c.ValLoss || e.ValAcc != c.ValAcc {
			t.Errorf("epoch %d: GPU validation %v %v, CPU %v %v", e.N, e.ValLoss, e.ValAcc, c.ValLoss, c.ValAcc)
		}
	}
}
