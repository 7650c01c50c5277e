package weights

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
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
		for _, k := range m.Keys {
			var s Spec
			var dtype string
			if err := json.Unmarshal(k[0], &s.Name); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(k[1], &s.Shape); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(k[2], &dtype); err != nil {
				t.Fatal(err)
			}
			s.Int = dtype == "torch.int64"
			out[arch] = append(out[arch], s)
		}
	}
	if len(out) != 5 {
		t.Fatalf("reference.json has %d models, want 5", len(out))
	}
	return out
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
