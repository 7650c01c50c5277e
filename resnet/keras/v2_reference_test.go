package keras_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/graphtest"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	"github.com/resnet-gpu/resnet-gpu/resnet/keras"
)

// v2Dir holds the ResNet50V2 reference of make_v2.py and tfjs_v2.js: the
// network as keras-applications defines it, on weights of a documented
// rule, with float64 logits and TensorFlow.js' (float32).
const v2Dir = "../../testdata/keras/v2/"

type v2Reference struct {
	Size       int               `json:"size"`
	KernelGain float64           `json:"kernel_gain"`
	Images     []string          `json:"images"`
	Weights    []json.RawMessage `json:"weights"` // [name, shape], in Keras' order
	Logits     [][]float64       `json:"logits"`
	Top5       [][]int           `json:"top5"`
	TFJS       struct {
		Logits [][]float64 `json:"logits"`
	} `json:"tfjs_f32"`
}

// v2Model returns the reference and ResNet50V2 with the rule's weights,
// named and shaped as the reference's list (make_v2.py's transcription of
// keras-applications), which must be our resnet50v2's.
func v2Model(t *testing.T) (*v2Reference, *keras.Model) {
	t.Helper()
	b, err := os.ReadFile(v2Dir + "reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r v2Reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.TFJS.Logits) != len(r.Images) || len(r.Logits) != len(r.Images) {
		t.Fatalf("reference.json: %d images, %d float64 and %d TF.js logits", len(r.Images), len(r.Logits), len(r.TFJS.Logits))
	}
	vars := make([]keras.RuleVar, len(r.Weights))
	for i, w := range r.Weights {
		var pair [2]json.RawMessage
		if err := json.Unmarshal(w, &pair); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(pair[0], &vars[i].Name); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(pair[1], &vars[i].Shape); err != nil {
			t.Fatal(err)
		}
	}
	m, err := keras.RuleModel(vars, r.KernelGain)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := keras.Lookup("resnet50v2"); m.Arch != want {
		t.Fatalf("the reference's layers are %+v, want resnet50v2", m.Arch)
	}
	return &r, m
}

// make_v2.py's .h5 (git-ignored: run it to make one) loads as the rule's
// weights: the Python and Go rules agree, and the file's names and layout
// are where Load looks.
func TestV2RuleFile(t *testing.T) {
	_, m := v2Model(t)
	file := v2Dir + "resnet50v2.h5"
	if _, err := os.Stat(file); err != nil {
		t.Skipf("%v: run testdata/keras/v2/make_v2.py to check the file", err)
	}
	f, err := keras.Load(file, "resnet50v2")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SameParams(m); err != nil {
		t.Errorf("%s and the rule: %v", file, err)
	}
}

// runV2 runs ResNet50V2 on the reference's images (indices) with ex: the
// logits within logitTol of the float64 reference, the same top 5.
func runV2(t *testing.T, ex graph.Executor, images []int) {
	r, m := v2Model(t)
	var in []float32
	for _, i := range images {
		file := fixtures + "inputs/keras/" + r.Images[i] + ".rgb8"
		if _, err := os.Stat(file); err != nil {
			if os.Getenv("CI") == "" {
				t.Skipf("the shared Keras inputs are absent (%v); set CI=1 to make this a failure", err)
			}
			t.Fatal(err)
		}
		pix, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if len(pix) != 3*r.Size*r.Size {
			t.Fatalf("%s: %d bytes, want %d", file, len(pix), 3*r.Size*r.Size)
		}
		if m.Arch.Mode() != keras.TF {
			t.Fatalf("ResNet50V2 preprocesses in mode %v, Keras in 'tf'", m.Arch.Mode())
		}
		in = append(in, keras.Input(&imagenet.RGB{W: r.Size, H: r.Size, Pix: pix}, m.Arch.Mode())...)
	}
	g, err := m.Build(keras.BuildOptions{Batch: len(images), Height: r.Size, Width: r.Size})
	if err != nil {
		t.Fatal(err)
	}
	graph.Optimize(g)
	p, err := ex.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t0 := time.Now()
	out, err := p.Run(in)
	if err == nil {
		if gp, ok := p.(interface{ CheckGuards() error }); ok {
			err = gp.CheckGuards()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d images in %v", ex.Name(), len(images), time.Since(t0).Round(time.Millisecond))
	for k, i := range images {
		got := out[0][k*1000 : (k+1)*1000]
		e := resnet.RelErr(got, r.Logits[i])
		etf := resnet.RelErr(got, r.TFJS.Logits[i])
		t.Logf("%s: logits max|Δ|/max|ref| = %.2e against float64 (%.2e against TF.js float32)", r.Images[i], e, etf)
		if !(e <= logitTol) {
			t.Errorf("%s: logits relative error %.2e > %.0e", r.Images[i], e, logitTol)
		}
		if g, w := fmt.Sprint(graphtest.TopK(got, 5)), fmt.Sprint(r.Top5[i]); g != w {
			t.Errorf("%s: top-5 %s, Keras %s", r.Images[i], g, w)
		}
	}
}

// TF.js and the float64 reference agree: the reference is Keras' network.
func TestV2ReferenceAgreement(t *testing.T) {
	r, _ := v2Model(t)
	for i, name := range r.Images {
		f32 := make([]float32, len(r.TFJS.Logits[i]))
		for j, v := range r.TFJS.Logits[i] {
			f32[j] = float32(v)
		}
		if e := resnet.RelErr(f32, r.Logits[i]); !(e <= logitTol) {
			t.Errorf("%s: TF.js and float64 logits differ by %.2e", name, e)
		}
	}
}

// The CPU reference runs one image.
func TestKerasResNet50V2CPU(t *testing.T) { runV2(t, ref.Executor{}, []int{0}) }

// The GPU runs the four images as one batch.
func TestKerasResNet50V2GPU(t *testing.T) {
	runV2(t, gpuexec.New(gputest.Device(t), gpuexec.Options{Guard: 64}), []int{0, 1, 2, 3})
}
