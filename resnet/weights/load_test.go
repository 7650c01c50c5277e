package weights

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

var synthFixtures = []string{
	"pth/resnet18-stem-layer1-synthetic-seed0.zip.pth",
	"pth/resnet18-stem-layer1-synthetic-seed0.legacy.pth",
}

func TestLoadSyntheticFixtures(t *testing.T) {
	var specs []Spec
	for _, s := range referenceSpecs(t)["resnet18"] {
		if strings.HasPrefix(s.Name, "conv1.") || strings.HasPrefix(s.Name, "bn1.") || strings.HasPrefix(s.Name, "layer1.") {
			specs = append(specs, s)
		}
	}
	want := Synthetic(specs, 0)
	for _, name := range synthFixtures {
		got, err := LoadFile(testdata + name)
		if err != nil {
			t.Fatal(err)
		}
		if err := got.Check(specs); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if len(got) != len(specs) {
			t.Errorf("%s: %d entries, want %d", name, len(got), len(specs))
		}
		for _, s := range specs {
			g, w := got[s.Name], want[s.Name]
			if g == nil {
				continue // Check reported it
			}
			if g.DType != w.DType {
				t.Errorf("%s: %s has dtype %s, want %s", name, s.Name, g.DType, w.DType)
			}
			if !slices.Equal(g.Int, w.Int) {
				t.Errorf("%s: %s = %v, want %v", name, s.Name, g.Int, w.Int)
			}
			if i := firstBitDiff(g.Data, w.Data); i >= 0 {
				t.Errorf("%s: %s differs from Synthetic first at %d", name, s.Name, i)
			}
		}
	}
}

// firstBitDiff returns the first index where a and b differ bit for bit, or
// -1 if they are identical.
func firstBitDiff(a, b []float32) int {
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// oddTensor is one entry of testdata/pth/odd-tensors.json.
type oddTensor struct {
	DType  string    `json:"dtype"`
	Shape  []int     `json:"shape"`
	Stride []int     `json:"stride"`
	Values []float64 `json:"values"`
}

func TestLoadOddTensors(t *testing.T) {
	b, err := os.ReadFile(testdata + "pth/odd-tensors.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]oddTensor
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadFile(testdata + "pth/odd-tensors.pth")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d entries, want %d", len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		if g == nil {
			t.Errorf("%s missing", name)
			continue
		}
		if "torch."+g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) {
			t.Errorf("%s: %s %v, want %s %v", name, g.DType, g.Shape, w.DType, w.Shape)
			continue
		}
		if g.IsInt() {
			for i, v := range w.Values {
				if g.Int[i] != int64(v) {
					t.Errorf("%s[%d] = %d, want %g", name, i, g.Int[i], v)
				}
			}
			continue
		}
		if len(g.Data) != len(w.Values) {
			t.Errorf("%s has %d values, want %d", name, len(g.Data), len(w.Values))
			continue
		}
		for i, v := range w.Values {
			if g.DType == "float16" && float64(g.Data[i]) != v {
				t.Errorf("%s[%d] = %g, want exactly %g", name, i, g.Data[i], v)
				break
			}
			if math.Float32bits(g.Data[i]) != math.Float32bits(float32(v)) {
				t.Errorf("%s[%d] = %g, want %g", name, i, g.Data[i], float32(v))
				break
			}
		}
	}
}

func TestHalfToFloat32(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 0x1p-24}, {0x03ff, 1023 * 0x1p-24},
		{0x0400, 0x1p-14}, {0x8000, float32(math.Copysign(0, -1))}, {0x7c00, float32(math.Inf(1))},
	} {
		if got := halfToFloat32(c.h); math.Float32bits(got) != math.Float32bits(c.want) {
			t.Errorf("halfToFloat32(%#04x) = %g, want %g", c.h, got, c.want)
		}
	}
	// Every value equals the binary16 definition. (gopickle's
	// pytorch.FloatBits16to32 gets -0, subnormals, infinities and NaNs wrong.)
	for h := 0; h < 1<<16; h++ {
		sign, exp, mant := h>>15, (h>>10)&0x1f, h&0x3ff
		var want float64
		switch {
		case exp == 0x1f && mant == 0:
			want = math.Inf(1)
		case exp == 0x1f:
			want = math.NaN()
		case exp == 0:
			want = math.Ldexp(float64(mant), -24)
		default:
			want = math.Ldexp(float64(1024+mant), exp-25)
		}
		if sign == 1 {
			want = -want
		}
		got := halfToFloat32(uint16(h))
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) || math.Float32bits(got)>>31 != uint32(sign) {
				t.Errorf("halfToFloat32(%#04x) = %g, want a NaN of sign %d", h, got, sign)
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(float32(want)) {
			t.Errorf("halfToFloat32(%#04x) = %g, want %g", h, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	specs := []Spec{
		{Name: "conv1.weight", Shape: []int{64, 3, 7, 7}},
		{Name: "bn1.weight", Shape: []int{64}},
		{Name: "bn1.num_batches_tracked", Int: true},
		{Name: "layer1.0.conv1.weight", Shape: []int{64, 64, 3, 3}},
	}
	good := func() StateDict { return Synthetic(specs, 0) }
	if err := good().Check(specs); err != nil {
		t.Fatalf("Check of matching weights: %v", err)
	}
	noCount := good()
	delete(noCount, "bn1.num_batches_tracked")
	if err := noCount.Check(specs); err != nil {
		t.Errorf("Check without num_batches_tracked: %v", err)
	}
	for _, c := range []struct {
		name   string
		change func(StateDict)
		want   string
	}{
		{"missing", func(sd StateDict) { delete(sd, "bn1.weight") }, "weights: missing entry bn1.weight"},
		{"extra", func(sd StateDict) { sd["fc.bias"] = &Tensor{Shape: []int{1}, Data: []float32{0}, DType: "float32"} },
			"weights: unexpected entry fc.bias"},
		{"shape", func(sd StateDict) {
			sd["layer1.0.conv1.weight"] = &Tensor{Shape: []int{64, 64, 1, 1}, Data: make([]float32, 4096), DType: "float32"}
		}, "weights: layer1.0.conv1.weight has shape [64 64 1 1], want [64 64 3 3]"},
		{"kind", func(sd StateDict) { sd["bn1.num_batches_tracked"] = &Tensor{Data: []float32{0}, DType: "float32"} },
			"weights: bn1.num_batches_tracked has dtype float32, want an integer type"},
		{"values", func(sd StateDict) { sd["bn1.weight"].Data = sd["bn1.weight"].Data[:3] },
			"weights: bn1.weight has 3 values for shape [64]"},
	} {
		sd := good()
		c.change(sd)
		if err := sd.Check(specs); err == nil || err.Error() != c.want {
			t.Errorf("%s: Check = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestLoadFileMissing(t *testing.T) {
	if _, err := LoadFile(testdata + "pth/no-such-file.pth"); err == nil || !strings.Contains(err.Error(), "no-such-file") {
		t.Errorf("LoadFile of a missing file = %v", err)
	}
}
