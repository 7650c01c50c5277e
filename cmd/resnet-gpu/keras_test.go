package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

const (
	tinyKeras    = "../../testdata/keras/keras2-fixed.h5"
	kerasFixture = "../../../shared/fixtures/keras/"
)

// kerasJSON is what classify --json prints.
type kerasJSON struct {
	Arch    string `json:"arch"`
	Classes int    `json:"classes"`
	Weights string `json:"weights"`
	Results []struct {
		Input string `json:"input"`
		Top   []struct {
			Index int     `json:"index"`
			Label string  `json:"label"`
			WNID  string  `json:"wnid"`
			Prob  float64 `json:"prob"`
		} `json:"top"`
		Logits []float32 `json:"logits"`
	} `json:"results"`
}

// A Keras .h5 file is recognised by its content and gets its architecture
// and Keras' preprocessing: the logits --json --logits prints are the
// library's for Keras' preprocessing of the image, and the text output is
// decode_predictions' tuples.
func TestClassifyKerasFile(t *testing.T) {
	img := "../../testdata/images/chelsea.png"
	out, e, c := cli(t, nil, "classify", "--device", "cpu", "--weights", tinyKeras, "--json", "--logits", "--top", "3", img)
	if c != 0 {
		t.Fatalf("exit %d: %s", c, e)
	}
	var got kerasJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.HasPrefix(got.Arch, "keras resnet v1") || got.Classes != 7 || !strings.Contains(got.Weights, "Keras 2.2.4 HDF5") {
		t.Errorf("arch %q, %d classes, weights %q", got.Arch, got.Classes, got.Weights)
	}
	w, err := resnet.LoadWeights(context.Background(), "", tinyKeras, resnet.WeightsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := w.Build(resnet.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	graph.Optimize(g)
	p, err := ref.Executor{}.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	m, err := imagenet.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	want, err := p.Run(w.Preprocess(m))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 1 || len(got.Results[0].Logits) != 7 {
		t.Fatalf("results %+v", got.Results)
	}
	if e := resnet.RelErr(got.Results[0].Logits, want[0]); e != 0 {
		t.Errorf("the CLI's logits differ from the library's by %.2e", e)
	}
	if top := got.Results[0].Top; len(top) != 3 || top[0].Prob < top[1].Prob || top[0].Label != "class "+strconv.Itoa(top[0].Index) {
		t.Errorf("top %+v", top)
	}

	out, e, c = cli(t, nil, "classify", "--device", "cpu", "--weights", tinyKeras, "--top", "2", img)
	if c != 0 {
		t.Fatalf("exit %d: %s", c, e)
	}
	tuple := regexp.MustCompile(`^  \('', 'class [0-6]', (1\.0|0\.[0-9]+|[0-9.]+e-[0-9]+)\)$`)
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  (") {
			n++
			if !tuple.MatchString(l) {
				t.Errorf("line %q is not a decode_predictions tuple", l)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d tuples, want 2:\n%s", n, out)
	}
}

// The ResNet50 fixture on the GPU: Keras' wnids and spellings, the
// probabilities within float32 rounding of the float64 reference.
func TestClassifyKerasFixture(t *testing.T) {
	file := kerasFixture + "resnet50-calibrated.h5"
	if _, err := os.Stat(file); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("the shared Keras fixture is absent (%v); set CI=1 to make this a failure", err)
		}
		t.Fatal(err)
	}
	b, err := os.ReadFile(kerasFixture + "reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Images []string    `json:"images"`
		Top5   [][]int     `json:"top5"`
		Probs  [][]float64 `json:"top5_probs"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	args := []string{"classify", "--weights", file, "--top", "2", "--batch", "3", "--json"}
	for _, n := range ref.Images[:3] {
		args = append(args, "../../testdata/images/"+n+".png")
	}
	out, e, c := cli(t, nil, args...)
	if c != 0 {
		if os.Getenv("CI") == "" && strings.Contains(e, "no WebGPU adapter") {
			t.Skip(e)
		}
		t.Fatalf("exit %d: %s", c, e)
	}
	var got kerasJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Arch != "keras resnet50" || len(got.Results) != 3 {
		t.Fatalf("arch %q, %d results", got.Arch, len(got.Results))
	}
	for i, r := range got.Results {
		for k, p := range r.Top {
			if p.Index != ref.Top5[i][k] {
				t.Errorf("%s: class %d is %d, Keras' %d", r.Input, k, p.Index, ref.Top5[i][k])
				continue
			}
			if d := p.Prob/ref.Probs[i][k] - 1; d > 1e-4 || d < -1e-4 {
				t.Errorf("%s: class %d probability %g, Keras' %g", r.Input, k, p.Prob, ref.Probs[i][k])
			}
		}
		if top := r.Top[0]; top.WNID != "n02099712" || top.Label != "Labrador_retriever" {
			t.Errorf("%s: top class %s %q, want Keras' n02099712 Labrador_retriever", r.Input, top.WNID, top.Label)
		}
	}
}

// --weights keras downloads from the mirror in RESNET_GPU_KERAS_BASE, checks
// Keras' MD5 and leaves nothing in the cache on a mismatch; bad names and
// files are one error line.
func TestKerasWeightsErrors(t *testing.T) {
	mirror := t.TempDir()
	bad := filepath.Join(mirror, "resnet101_weights_tf_dim_ordering_tf_kernels.h5")
	if err := os.WriteFile(bad, []byte("not the weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	env := []string{"RESNET_GPU_KERAS_BASE=" + mirror, "XDG_CACHE_HOME=" + cache}
	_, e, c := cli(t, env, "classify", "--device", "cpu", "--weights", "keras:resnet101", "x.png")
	oneErrorLine(t, e, c, 1, "resnet101_weights_tf_dim_ordering_tf_kernels.h5: md5 mismatch: got ")
	if left, _ := filepath.Glob(filepath.Join(cache, "resnet-gpu", "*")); len(left) != 0 {
		t.Errorf("the cache holds %v after a failed download", left)
	}
	_, e, c = cli(t, env, "classify", "--device", "cpu", "--weights", "keras", "x.png")
	oneErrorLine(t, e, c, 1, "(use --weights FILE.h5, or set RESNET_GPU_KERAS_BASE to a mirror of the keras-applications files)")
	_, e, c = cli(t, env, "classify", "--device", "cpu", "--weights", "keras:resnet18", "x.png")
	oneErrorLine(t, e, c, 1, `keras: unknown architecture "resnet18"`)
	_, e, c = cli(t, env, "classify", "--device", "cpu", "--arch", "resnet50", "--weights", "keras:resnet101", "x.png")
	oneErrorLine(t, e, c, 1, "is another architecture than resnet50")
	_, e, c = cli(t, nil, "classify", "--device", "cpu", "--arch", "resnet101", "--weights", tinyKeras, "x.png")
	oneErrorLine(t, e, c, 1, "do not fit resnet101: this looks like resnet v1")

	b, err := os.ReadFile(tinyKeras)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.h5")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, e, c = cli(t, nil, "classify", "--device", "cpu", "--weights", cut, "x.png")
	oneErrorLine(t, e, c, 1, "h5: cut.h5: ")
}

// The tuples read as Python prints them: repr of the strings, NumPy's repr
// of a float32.
func TestPythonRepr(t *testing.T) {
	for in, want := range map[string]string{"grille": "'grille'", "jack-o'-lantern": `"jack-o'-lantern"`, `a'b"c`: `'a\'b"c'`} {
		if got := pyRepr(in); got != want {
			t.Errorf("pyRepr(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[float32]string{0.5067527: "0.5067527", 0.1820804: "0.1820804", 1: "1.0", 1.2e-5: "1.2e-05", 0.0001: "0.0001"} {
		if got := pyFloat32(float64(in)); got != want {
			t.Errorf("pyFloat32(%v) = %s, want %s", in, got, want)
		}
	}
}
