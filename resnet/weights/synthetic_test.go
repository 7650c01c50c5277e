package weights

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const testdata = "../../testdata/"

func TestStreamCheckValues(t *testing.T) {
	if got := fnv1a64("conv1.weight"); got != 0x69a29a2cee47d254 {
		t.Errorf("fnv1a64(conv1.weight) = %#x, want 0x69a29a2cee47d254", got)
	}
	want := []float64{0.54507498, 0.74516175, 0.02292174, 0.73619782, 0.36935018}
	got := Uniform("conv1.weight", 0, len(want))
	for i := range want {
		if math.Abs(got[i]-want[i]) > 5e-9 {
			t.Errorf("u(conv1.weight, 0, %d) = %.10f, want %.8f", i, got[i], want[i])
		}
	}
	if other := Uniform("conv1.weight", 1, 1); other[0] == got[0] {
		t.Errorf("seed 1 gives the same stream as seed 0")
	}
}

// reference is the part of testdata/reference.json that these tests read.
type reference struct {
	Models map[string]struct {
		Keys [][3]json.RawMessage `json:"keys"`
	} `json:"models"`
}

// referenceSpecs returns the state_dict entries of every architecture in
// reference.json, in torchvision's order.
func referenceSpecs(t *testing.T) map[string][]Spec {
	t.Helper()
	b, err := os.ReadFile(testdata + "reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	out := map[string][]Spec{}
	for arch, m := range ref.Models {
		out[arch] = specsOf(t, m.Keys)
	}
	if len(out) != 5 {
		t.Fatalf("reference.json has %d models, want 5", len(out))
	}
	return out
}

// specsOf converts [name, shape, dtype] triples into specs.
func specsOf(t testing.TB, keys [][3]json.RawMessage) []Spec {
	t.Helper()
	specs := make([]Spec, len(keys))
	for i, k := range keys {
		var dtype string
		if err := json.Unmarshal(k[0], &specs[i].Name); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(k[1], &specs[i].Shape); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(k[2], &dtype); err != nil {
			t.Fatal(err)
		}
		specs[i].Int = dtype == "torch.int64"
	}
	return specs
}

func TestSyntheticReferenceKeys(t *testing.T) {
	for arch, specs := range referenceSpecs(t) {
		sd := Synthetic(specs, 0)
		if err := sd.Check(specs); err != nil {
			t.Errorf("%s: %v", arch, err)
		}
		if len(sd) != len(specs) {
			t.Errorf("%s: %d entries, want %d", arch, len(sd), len(specs))
		}
		bottleneck := arch != "resnet18" && arch != "resnet34"
		for _, s := range specs {
			tensor := sd[s.Name]
			if s.Int {
				if len(tensor.Int) != 1 || tensor.Int[0] != 0 || tensor.DType != "int64" {
					t.Errorf("%s: %s = %v %s, want [0] int64", arch, s.Name, tensor.Int, tensor.DType)
				}
				continue
			}
			lo, hi := valueRange(s, bottleneck)
			for i, v := range tensor.Data {
				if v < lo || v > hi || math.IsNaN(float64(v)) {
					t.Errorf("%s: %s[%d] = %g, outside [%g, %g]", arch, s.Name, i, v, lo, hi)
					break
				}
			}
		}
	}
}

// valueRange is the interval that the synthetic-v1 rule of an entry maps
// [0, 1) into.
func valueRange(s Spec, bottleneck bool) (lo, hi float32) {
	last := "bn2"
	if bottleneck {
		last = "bn3"
	}
	parts := strings.Split(s.Name, ".")
	switch leaf := parts[len(parts)-1]; {
	case len(s.Shape) == 4:
		b := float32(math.Sqrt(6 / float64(s.Shape[1]*s.Shape[2]*s.Shape[3])))
		return -b, b
	case s.Name == "fc.weight":
		b := float32(math.Sqrt(3 / float64(s.Shape[1])))
		return -b, b
	case leaf == "weight" && len(parts) == 4 && parts[2] == last:
		return 0.2, 0.4
	case leaf == "weight", leaf == "running_var":
		return 0.5, 1.5
	}
	return -0.1, 0.1
}

func TestSyntheticInputFile(t *testing.T) {
	b, err := os.ReadFile(testdata + "inputs/synthetic-seed0-2x3x224x224.f32")
	if err != nil {
		t.Fatal(err)
	}
	got := SyntheticInput(2, 3, 224, 224, 0)
	if len(b) != 4*len(got) {
		t.Fatalf("file has %d bytes, want %d", len(b), 4*len(got))
	}
	for i, v := range got {
		if w := binary.LittleEndian.Uint32(b[4*i:]); math.Float32bits(v) != w {
			t.Fatalf("input[%d] = %g (%#08x), file has %g (%#08x)", i, v, math.Float32bits(v), math.Float32frombits(w), w)
		}
	}
}

func TestSyntheticPanicsWithoutRule(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Synthetic of an entry without a rule did not panic")
		}
	}()
	Synthetic([]Spec{{Name: "head.scale", Shape: []int{3}}}, 0)
}

// ResNet-family references: the u stream and the float32 values of a few
// entries of every family, as testdata/models/make_models.py computed them,
// equal Uniform's and Synthetic's exactly. Only the checked entries are
// computed, with the last batch norms that Synthetic finds in the whole
// architecture.
func TestSyntheticFamilies(t *testing.T) {
	ref := modelReference(t)
	for _, family := range []string{"resnet", "wide_resnet", "resnext", "densenet"} {
		table, ok := ref.Families[family]
		if !ok {
			t.Errorf("models/reference.json has no %s check table", family)
			continue
		}
		specs := specsOf(t, ref.Models[table.Arch].Keys)
		if len(specs) == 0 {
			t.Fatalf("%s: no keys for %s", family, table.Arch)
		}
		last := lastBNs(specs)
		for _, c := range table.Checks {
			i := slices.IndexFunc(specs, func(s Spec) bool { return s.Name == c.Name })
			if i < 0 || !slices.Equal(specs[i].Shape, c.Shape) {
				t.Errorf("%s: no entry %s %v", table.Arch, c.Name, c.Shape)
				continue
			}
			got := syntheticTensor(specs[i], 0, last[c.Name])
			u := Uniform(c.Name, 0, got.Numel())
			for j, i := range c.Index {
				if u[i] != c.U[j] {
					t.Errorf("%s: u(%s, 0, %d) = %v, PyTorch side %v", table.Arch, c.Name, i, u[i], c.U[j])
				}
				if math.Float32bits(got.Data[i]) != math.Float32bits(float32(c.Value[j])) {
					t.Errorf("%s: %s[%d] = %v, PyTorch side %v", table.Arch, c.Name, i, got.Data[i], float32(c.Value[j]))
				}
			}
		}
	}
}

// Every model of testdata/models/reference.json that lists its keys: the
// keys match their digest, synthetic-v1 has a rule for each, and the last
// batch norm of each residual block is bn2 in BasicBlock nets, bn3 in
// Bottleneck nets and absent from DenseNets.
func TestSyntheticModelKeys(t *testing.T) {
	ref := modelReference(t)
	full := 0
	for name, m := range ref.Models {
		if m.Keys == nil {
			continue
		}
		full++
		specs := specsOf(t, m.Keys)
		if len(specs) != m.NumKeys {
			t.Errorf("%s: %d keys, num_keys %d", name, len(specs), m.NumKeys)
		}
		if got := Digest(specs); got != m.KeysSHA256 {
			t.Errorf("%s: Digest = %s, keys_sha256 %s", name, got, m.KeysSHA256)
		}
		last := lastBNs(specs)
		blocks := 0
		for _, s := range specs {
			if !s.Int && !hasRule(s, last[s.Name]) {
				t.Errorf("%s: no synthetic-v1 rule for %s %v", name, s.Name, s.Shape)
			}
			if blockConv1.MatchString(s.Name) {
				blocks++
			}
		}
		want := ".bn3.weight"
		switch {
		case strings.HasPrefix(name, "resnet18"), strings.HasPrefix(name, "resnet34"):
			want = ".bn2.weight"
		case strings.HasPrefix(name, "densenet"):
			want = ""
		}
		if len(last) != blocks {
			t.Errorf("%s: %d last batch norms in %d blocks", name, len(last), blocks)
		}
		for n := range last {
			if want == "" || !strings.HasSuffix(n, want) {
				t.Errorf("%s: %s taken for the last batch norm of its block", name, n)
			}
		}
	}
	if full < 4 {
		t.Errorf("models/reference.json lists the keys of %d models, want one per family", full)
	}
}

// blockConv1 matches the first conv of each residual block.
var blockConv1 = regexp.MustCompile(`^layer[0-9]+\.[0-9]+\.conv1\.weight$`)

// hasRule reports whether synthetic-v1 has a rule for s.
func hasRule(s Spec, last bool) (ok bool) {
	defer func() { ok = recover() == nil }()
	rule(s, last)
	return true
}

// modelsReference is the part of testdata/models/reference.json that these
// tests read.
type modelsReference struct {
	Families map[string]struct {
		Arch   string `json:"arch"`
		Checks []struct {
			Name  string    `json:"name"`
			Shape []int     `json:"shape"`
			Index []int     `json:"index"`
			U     []float64 `json:"u"`
			Value []float64 `json:"value"`
		} `json:"checks"`
	} `json:"families"`
	Models map[string]struct {
		NumKeys    int                  `json:"num_keys"`
		KeysSHA256 string               `json:"keys_sha256"`
		Keys       [][3]json.RawMessage `json:"keys"`
	} `json:"models"`
}

func modelReference(t *testing.T) *modelsReference {
	t.Helper()
	b, err := os.ReadFile(testdata + "models/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref modelsReference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return &ref
}
