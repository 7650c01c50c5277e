package keras_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/graphtest"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
)

const fixtures = "../../../shared/fixtures/"

// logitTol is the target: max|Δ|/max|ref| of the float64 logits
// (float32 arithmetic on these weights reaches about 1e-5).
const logitTol = 2e-5

// reference is the part of fixtures/keras/reference.json the tests use.
type reference struct {
	Images []string    `json:"images"`
	Logits [][]float64 `json:"logits"`
	Top5   [][]int     `json:"top5"`
	TFJS   struct {
		Logits [][]float64 `json:"logits"`
	} `json:"tfjs_f32"`
}

var fixture = sync.OnceValues(func() (*fixtureData, error) {
	var r reference
	b, err := os.ReadFile(fixtures + "keras/reference.json")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	t0 := time.Now()
	w, err := resnet.LoadWeights(context.Background(), "", fixtures+"keras/resnet50-calibrated.h5", resnet.WeightsOptions{})
	if err != nil {
		return nil, err
	}
	d := &fixtureData{ref: r, w: w, load: time.Since(t0)}
	for _, name := range r.Images {
		b, err := os.ReadFile(fixtures + "inputs/keras/" + name + ".nhwc.f32")
		if err != nil {
			return nil, err
		}
		n := len(b) / 12
		x := make([]float32, len(b)/4)
		for i := 0; i < n; i++ {
			for c := 0; c < 3; c++ {
				x[c*n+i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*(3*i+c):]))
			}
		}
		d.inputs = append(d.inputs, x)
	}
	return d, nil
})

type fixtureData struct {
	ref    reference
	w      *resnet.Weights
	load   time.Duration
	inputs [][]float32 // Keras' preprocessed images, CHW
}

func loadFixture(t *testing.T) *fixtureData {
	t.Helper()
	if _, err := os.Stat(fixtures + "keras/resnet50-calibrated.h5"); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("the shared Keras fixture is absent (%v); set CI=1 to make this a failure", err)
		}
		t.Fatal(err)
	}
	d, err := fixture()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// run runs the fixture's network on images (indices) with ex and compares
// each image's logits with the float64 reference and its top 5.
func run(t *testing.T, ex graph.Executor, images []int) {
	d := loadFixture(t)
	if d.w.Arch.Name != "keras resnet50" || d.w.Arch.Family != "keras" || d.w.Arch.Classes != 1000 {
		t.Fatalf("the fixture loads as %+v", d.w.Arch)
	}
	g, err := d.w.Build(resnet.BuildOptions{Batch: len(images)})
	if err != nil {
		t.Fatal(err)
	}
	graph.Optimize(g)
	p, err := ex.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var in []float32
	for _, i := range images {
		in = append(in, d.inputs[i]...)
	}
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
	t.Logf("%s: %d images in %v (weights loaded in %v)", ex.Name(), len(images), time.Since(t0).Round(time.Millisecond), d.load.Round(time.Millisecond))
	for k, i := range images {
		got := out[0][k*1000 : (k+1)*1000]
		e := resnet.RelErr(got, d.ref.Logits[i])
		etf := resnet.RelErr(got, d.ref.TFJS.Logits[i])
		t.Logf("%s: logits max|Δ|/max|ref| = %.2e against float64 (%.2e against TF.js float32)", d.ref.Images[i], e, etf)
		if !(e <= logitTol) {
			t.Errorf("%s: logits relative error %.2e > %.0e", d.ref.Images[i], e, logitTol)
		}
		if g, w := fmt.Sprint(graphtest.TopK(got, 5)), fmt.Sprint(d.ref.Top5[i]); g != w {
			t.Errorf("%s: top-5 %s, Keras %s", d.ref.Images[i], g, w)
		}
	}
}

// The CPU reference runs one image (it takes about 15 s a ResNet50 image).
func TestKerasResNet50CPU(t *testing.T) { run(t, ref.Executor{}, []int{0}) }

// The GPU runs the four images as one batch.
func TestKerasResNet50GPU(t *testing.T) {
	loadFixture(t)
	run(t, gpuexec.New(gputest.Device(t), gpuexec.Options{Guard: 64}), []int{0, 1, 2, 3})
}

// The tiny V1 and V2 networks (every kind of block: projection and max-pool
// shortcuts, pre-activation, the V2 stem's zero padding) give the CPU
// reference's stages and logits on the GPU.
func TestTinyGPU(t *testing.T) {
	ex := gpuexec.New(gputest.Device(t), gpuexec.Options{Guard: 64})
	for _, file := range []string{"keras2-fixed.h5", "keras215-vlen.h5"} {
		w, err := resnet.LoadWeights(context.Background(), "", "../../testdata/keras/"+file, resnet.WeightsOptions{})
		if err != nil {
			t.Fatal(err)
		}
		g, err := w.Build(resnet.BuildOptions{Batch: 2, Height: 64, Width: 48, WithStages: true, Softmax: true})
		if err != nil {
			t.Fatal(err)
		}
		graph.Optimize(g)
		in := make([]float32, 2*3*64*48)
		for i := range in {
			in[i] = float32(math.Sin(float64(i)*0.37)) * 100
		}
		var outs [][][]float32
		for _, e := range []graph.Executor{ref.Executor{}, ex} {
			p, err := e.Compile(g)
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.Run(in)
			if err == nil {
				if gp, ok := p.(interface{ CheckGuards() error }); ok {
					err = gp.CheckGuards()
				}
			}
			p.Close()
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, out)
		}
		if len(outs[0]) != 7 {
			t.Fatalf("%s: %d outputs, want 5 stages, logits, probabilities", file, len(outs[0]))
		}
		for i := range outs[0] {
			if e := resnet.RelErr(outs[1][i], outs[0][i]); !(e <= 1e-5) {
				t.Errorf("%s: output %d (%s) differs on the GPU by %.2e", file, i, g.Outputs[i].Name, e)
			}
		}
	}
}
