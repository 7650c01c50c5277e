package keras

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	"github.com/resnet-gpu/resnet-gpu/resnet/keras/h5"
)

const testdata = "../../testdata/keras/"

// shared is the project's shared fixtures: tests that read them skip
// outside CI when they are absent, and fail in CI.
const shared = "../../../shared/fixtures/"

func needShared(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not found (the shared fixtures); set CI=1 to make this a failure", path)
		}
		t.Fatalf("the shared fixtures: %v", err)
	}
}

// The tiny files of every layout load as the architectures they were made
// of, with every weight where the Keras layout puts it.
func TestLoadTiny(t *testing.T) {
	for _, c := range []struct {
		file, format string
		v2           bool
		blocks       [4]int
	}{
		{"keras2-fixed.h5", "Keras 2.2.4 HDF5, fixed-length strings", false, [4]int{1, 2, 1, 1}},
		{"keras215-vlen.h5", "Keras 2.15.0 HDF5, variable-length strings", true, [4]int{2, 2, 2, 2}},
		{"keras3.weights.h5", "Keras 3 .weights.h5", false, [4]int{1, 2, 1, 1}},
	} {
		m, err := Load(testdata+c.file, "")
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		want := Arch{V2: c.v2, Stem: 8, Blocks: c.blocks, Filters: [4]int{2, 3, 4, 5}, Classes: 7}.named()
		if m.Arch != want {
			t.Errorf("%s: arch %+v, want %+v", c.file, m.Arch, want)
		}
		if m.Format != c.format {
			t.Errorf("%s: format %q, want %q", c.file, m.Format, c.format)
		}
		if !strings.HasPrefix(m.Arch.Name, "resnet v") {
			t.Errorf("%s: named %q", c.file, m.Arch.Name)
		}
	}
}

// Weights go from Keras' layouts to the graph's: element (y, x, i, o) of a
// kernel is element (o, i, y, x), element (i, o) of the Dense kernel is
// (o, i). The Keras 3 file holds the same values as the Keras 2 one, so
// its variables, named by position, land where the named ones do.
func TestWeightLayouts(t *testing.T) {
	m, err := Load(testdata+"keras2-fixed.h5", "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := h5.Open(testdata + "keras2-fixed.h5")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root, _ := f.Root()
	read := func(path string) ([]float32, []int) {
		ds, err := root.Dataset(path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ds.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		return v, ds.Shape
	}
	k, s := read("conv2_block1_2_conv/conv2_block1_2_conv/kernel:0")
	got := m.params["conv2_block1_2_conv/kernel"]
	for _, e := range [][4]int{{0, 0, 0, 0}, {1, 2, 0, 1}, {2, 1, 1, 0}, {2, 2, 1, 1}} {
		y, x, i, o := e[0], e[1], e[2], e[3]
		want := k[((y*s[1]+x)*s[2]+i)*s[3]+o]
		if g := got[((o*s[2]+i)*s[0]+y)*s[1]+x]; g != want {
			t.Errorf("kernel %v: %v, want %v", e, g, want)
		}
	}
	d, s := read("predictions/predictions/kernel:0")
	got = m.params["predictions/kernel"]
	for _, e := range [][2]int{{0, 0}, {3, 6}, {19, 2}} {
		if g, want := got[e[1]*s[0]+e[0]], d[e[0]*s[1]+e[1]]; g != want {
			t.Errorf("dense %v: %v, want %v", e, g, want)
		}
	}
	m3, err := Load(testdata+"keras3.weights.h5", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(m3.params) != len(m.params) {
		t.Fatalf("%d weights in the Keras 3 file, %d in the Keras 2 one", len(m3.params), len(m.params))
	}
	for k, v := range m.params {
		if !slices.Equal(m3.params[k], v) {
			t.Errorf("%s differs between the Keras 2 and Keras 3 files", k)
		}
	}
}

// Each architecture's weights are Keras': ResNet50 has 25,636,712
// parameters, ResNet50V2 25,613,800 (keras.io's table), and so on.
func TestArchParams(t *testing.T) {
	want := map[string]int{
		"resnet50": 25636712, "resnet101": 44707176, "resnet152": 60419944,
		"resnet50v2": 25613800, "resnet101v2": 44675560, "resnet152v2": 60380648,
	}
	for name, n := range want {
		a, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, vs := range a.layers() {
			for _, v := range vs {
				p := 1
				for _, d := range v.shape {
					p *= d
				}
				got += p
			}
		}
		if got != n {
			t.Errorf("%s: %d parameters, want %d", name, got, n)
		}
	}
	if _, err := Lookup("resnet18"); err == nil || !strings.Contains(err.Error(), "resnet50, resnet101, resnet152, resnet50v2") {
		t.Errorf("unknown architecture: %v", err)
	}
}

// The class index is Keras' file (its MD5 is the one decode_predictions
// checks), with the same WordNet ids as torchvision's classes.
func TestLabels(t *testing.T) {
	sum := md5.Sum(classIndexJSON)
	if got := hex.EncodeToString(sum[:]); got != "c2c37ea517e94d9795004a39431a14cb" {
		t.Errorf("imagenet_class_index.json has MD5 %s, not Keras' c2c37ea517e94d9795004a39431a14cb", got)
	}
	l, w := Labels(), WNIDs()
	if len(l) != imagenet.NumClasses || len(w) != imagenet.NumClasses {
		t.Fatalf("%d labels, %d wnids", len(l), len(w))
	}
	for i := range w {
		if w[i] != imagenet.WNID(i) {
			t.Fatalf("class %d: wnid %s, torchvision's %s", i, w[i], imagenet.WNID(i))
		}
	}
	if l[817] != "sports_car" || l[581] != "grille" || w[581] != "n03459775" {
		t.Errorf("classes 817, 581: %q, %q %q", l[817], l[581], w[581])
	}
}

// The architecture is Keras' own: every Conv2D, BatchNormalization,
// ZeroPadding2D, MaxPooling2D and Dense layer of a real
// tf.keras.applications.ResNet50().to_json() has our kernel, filters,
// strides, padding, bias and epsilon, and the layers with weights are ours.
func TestTopology(t *testing.T) {
	path := shared + "keras/topology.json"
	needShared(t, path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		Config struct {
			Layers []struct {
				Class  string `json:"class_name"`
				Config struct {
					Name       string  `json:"name"`
					Filters    int     `json:"filters"`
					Kernel     []int   `json:"kernel_size"`
					Strides    []int   `json:"strides"`
					Padding    any     `json:"padding"`
					UseBias    bool    `json:"use_bias"`
					Epsilon    float64 `json:"epsilon"`
					Units      int     `json:"units"`
					Activation string  `json:"activation"`
					Pool       []int   `json:"pool_size"`
				} `json:"config"`
			} `json:"layers"`
		} `json:"config"`
	}
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	a := Archs["resnet50"]
	convs := map[string]conv{"conv1_conv": a.stem()}
	for _, bl := range a.blocks() {
		for _, c := range bl.convs {
			convs[c.name] = c
		}
		if bl.shortcut != nil {
			convs[bl.shortcut.name] = *bl.shortcut
		}
	}
	layers := a.layers()
	withWeights := 0
	for _, l := range top.Config.Layers {
		c := l.Config
		switch l.Class {
		case "Conv2D":
			withWeights++
			ours, ok := convs[c.Name]
			if !ok {
				t.Errorf("%s: not one of our convolutions", c.Name)
				continue
			}
			pad := 0
			if c.Padding == "same" {
				pad = (c.Kernel[0] - 1) / 2
			} else if c.Name == "conv1_conv" {
				pad = 3 // conv1_pad
			}
			if c.Filters != ours.cout || c.Kernel[0] != ours.k || c.Strides[0] != ours.stride || c.UseBias != ours.bias || pad != ours.pad {
				t.Errorf("%s: Keras has filters %d, kernel %v, strides %v, padding %v, bias %v; ours %+v", c.Name, c.Filters, c.Kernel, c.Strides, c.Padding, c.UseBias, ours)
			}
		case "BatchNormalization":
			withWeights++
			if c.Epsilon != Eps || layers[c.Name] == nil {
				t.Errorf("%s: epsilon %g, ours %g (layer ours: %v)", c.Name, c.Epsilon, Eps, layers[c.Name] != nil)
			}
		case "Dense":
			withWeights++
			if c.Name != "predictions" || c.Units != 1000 || c.Activation != "softmax" {
				t.Errorf("dense layer %s: %d units, %s", c.Name, c.Units, c.Activation)
			}
		case "ZeroPadding2D":
			want := map[string]float64{"conv1_pad": 3, "pool1_pad": 1}[c.Name]
			p, _ := c.Padding.([]any)
			if len(p) != 2 || p[0].([]any)[0].(float64) != want {
				t.Errorf("%s: padding %v, want %v", c.Name, c.Padding, want)
			}
		case "MaxPooling2D":
			if c.Name != "pool1_pool" || c.Pool[0] != 3 || c.Strides[0] != 2 || c.Padding != "valid" {
				t.Errorf("%s: pool %v, strides %v, padding %v", c.Name, c.Pool, c.Strides, c.Padding)
			}
		}
	}
	if withWeights != len(layers) {
		t.Errorf("Keras' ResNet50 has %d layers with weights, ours %d", withWeights, len(layers))
	}
}

// chw turns a 1×H×W×3 NHWC tensor into 3×H×W.
func chw(x []float32) []float32 {
	n := len(x) / 3
	out := make([]float32, len(x))
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			out[c*n+i] = x[3*i+c]
		}
	}
	return out
}

// Every layer and weight a file names must be there, every weight the
// architecture needs must have its shape, and weights stored once fit in
// the file; each fault is one error line. A named architecture must be
// the file's.
func TestLoadErrors(t *testing.T) {
	for file, want := range map[string]string{
		"broken-missing-layer.h5":  `layer "conv9_block1_1_conv" of layer_names has no group`,
		"broken-missing-weight.h5": `weight "conv2_block1_1_conv/gamma:0" of layer "conv2_block1_1_conv" is not in the file`,
		"broken-bad-shape.h5":      "predictions/bias has shape [8], resnet v1 (stem 8, blocks [1 2 1 1], filters [2 3 4 5]) with 7 classes needs [7]",
		"broken-shared.h5":         "the weights add up to more than the file holds",
		"broken-nan.h5":            "keras: /conv1_bn/conv1_bn/gamma:0 holds NaN at element 3",
		"dense.h5":                 "not Keras weights",
		"odd.h5":                   "not Keras weights",
		"v2super.h5":               "not Keras weights",
	} {
		_, err := Load(testdata+file, "")
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", file, err, want)
		}
	}
	if _, err := Load(testdata+"keras2-fixed.h5", "resnet50"); err == nil || !strings.Contains(err.Error(), "do not fit resnet50: this looks like resnet v1") {
		t.Errorf("a named architecture that is not the file's: %v", err)
	}
	if _, err := Load(testdata+"make_h5.py", ""); err == nil || !strings.Contains(err.Error(), "not an HDF5 file") {
		t.Errorf("a text file: %v", err)
	}
}
