package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
)

// saveSample is a state_dict with float, integer, scalar and empty
// tensors and values that need every float32 bit.
func saveSample() StateDict {
	sd := StateDict{
		"fc.weight":               {Shape: []int{3, 4}, Data: []float32{1, -2, 3.5, 1e-38, -0, 7, 8, 9, 10, 11, 12, 0.1}, DType: "float32"},
		"fc.bias":                 {Shape: []int{3}, Data: []float32{0.5, -0.25, 3}, DType: "float32"},
		"bn1.num_batches_tracked": {Shape: []int{}, Int: []int64{-7}, DType: "int64"},
		"empty":                   {Shape: []int{0, 5}, Data: []float32{}, DType: "float32"},
		"big":                     {Shape: []int{300, 300}, Data: make([]float32, 90000), DType: "float32"},
	}
	for i := range sd["big"].Data {
		sd["big"].Data[i] = float32(i) * 1.5
	}
	return sd
}

// What Save writes LoadFile reads back exactly, in the order given, with
// every storage aligned; the same input gives the same bytes.
func TestSaveRoundTrip(t *testing.T) {
	sd := saveSample()
	names := []string{"fc.weight", "fc.bias", "bn1.num_batches_tracked", "empty", "big"}
	var b bytes.Buffer
	if err := Save(&b, sd, names); err != nil {
		t.Fatal(err)
	}
	got, err := loadFrom("saved", bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sd) {
		t.Fatalf("%d entries back, want %d", len(got), len(sd))
	}
	for name, want := range sd {
		g := got[name]
		if g == nil {
			t.Fatalf("%s missing", name)
		}
		if !slices.Equal(g.Shape, want.Shape) || !slices.Equal(g.Int, want.Int) || g.IsInt() != want.IsInt() {
			t.Errorf("%s: got shape %v int %v, want %v %v", name, g.Shape, g.Int, want.Shape, want.Int)
		}
		if len(g.Data) != len(want.Data) {
			t.Fatalf("%s: %d values, want %d", name, len(g.Data), len(want.Data))
		}
		for i := range want.Data {
			if g.Data[i] != want.Data[i] {
				t.Fatalf("%s[%d] = %v, want %v", name, i, g.Data[i], want.Data[i])
			}
		}
	}
	var again bytes.Buffer
	if err := Save(&again, sd, names); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), again.Bytes()) {
		t.Error("two saves of the same state_dict differ")
	}

	zr, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var recs []string
	for _, f := range zr.File {
		recs = append(recs, f.Name)
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(f.Name, "archive/data/") && off%alignment != 0 {
			t.Errorf("%s starts at %d, not a multiple of %d", f.Name, off, alignment)
		}
		if f.Method != zip.Store {
			t.Errorf("%s compressed (method %d)", f.Name, f.Method)
		}
	}
	want := []string{"archive/data.pkl", "archive/byteorder", "archive/data/0", "archive/data/1", "archive/data/2", "archive/data/3", "archive/data/4", "archive/version"}
	if !slices.Equal(recs, want) {
		t.Errorf("records %v, want %v", recs, want)
	}
}

// The pickle Save writes uses only the opcodes the loader's scanner
// accepts and names only the classes it knows (nothing opaque), in the
// order given: the OrderedDict's keys come in names' order.
func TestSaveAllowList(t *testing.T) {
	sd := saveSample()
	names := []string{"big", "fc.bias", "empty", "fc.weight", "bn1.num_batches_tracked"}
	var b bytes.Buffer
	if err := Save(&b, sd, names); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open("archive/data.pkl")
	if err != nil {
		t.Fatal(err)
	}
	var pkl bytes.Buffer
	if _, err := pkl.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	p := pkl.Bytes()
	u := newUnpickler(false)
	n, err := u.scan(p)
	if err != nil || n != len(p) {
		t.Fatalf("scan: %d of %d bytes, %v", n, len(p), err)
	}
	if u.refused != "" {
		t.Fatalf("the pickle names %s, which torch.load(weights_only=True) refuses", u.refused)
	}
	obj, _, err := newUnpickler(false).load(p)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := stateDict(obj)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range entries {
		order = append(order, e.name)
	}
	if !slices.Equal(order, names) {
		t.Errorf("entries in order %v, want %v", order, names)
	}
	if binary.LittleEndian.Uint16(p[0:2]) != 0x0280 {
		t.Errorf("pickle starts % x, want protocol 2", p[:2])
	}
}

// Bad state_dicts are errors.
func TestSaveErrors(t *testing.T) {
	sd := saveSample()
	for name, c := range map[string]struct {
		sd    StateDict
		names []string
	}{
		"missing name":  {sd, []string{"fc.weight", "fc.bias", "bn1.num_batches_tracked", "empty", "nope"}},
		"too few names": {sd, []string{"fc.weight"}},
		"twice":         {StateDict{"a": sd["fc.bias"], "b": sd["fc.bias"]}, []string{"a", "a"}},
		"short data":    {StateDict{"a": {Shape: []int{4}, Data: []float32{1}}}, nil},
		"negative":      {StateDict{"a": {Shape: []int{-1}, Data: []float32{}}}, nil},
	} {
		if err := Save(&bytes.Buffer{}, c.sd, c.names); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
