package h5

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const testdata = "../../../testdata/keras/"

// expected is testdata/keras/expected.json: what h5py reads from each file.
type expected map[string]struct {
	Superblock int                       `json:"superblock"`
	Groups     []string                  `json:"groups"`
	Attrs      map[string]map[string]any `json:"attrs"`
	Datasets   map[string]struct {
		Shape  []int     `json:"shape"`
		DType  string    `json:"dtype"`
		Chunks []int     `json:"chunks"`
		SHA256 string    `json:"sha256"`
		First  []float64 `json:"first"`
	} `json:"datasets"`
}

func loadExpected(t *testing.T) expected {
	t.Helper()
	b, err := os.ReadFile(testdata + "expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// Every file h5py wrote reads back as h5py reads it: the superblock
// version, every group, every string attribute, every float dataset (its
// shape and the SHA-256 of its values).
func TestFilesMatchH5py(t *testing.T) {
	for name, want := range loadExpected(t) {
		t.Run(name, func(t *testing.T) {
			f, err := Open(testdata + name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Version != want.Superblock {
				t.Errorf("superblock version %d, want %d", f.Version, want.Superblock)
			}
			var groups []string
			datasets := map[string]bool{}
			err = f.Walk(func(path string, g *Group, ds *Dataset) error {
				var attrs []*Attribute
				var err error
				if g != nil {
					groups = append(groups, path)
					attrs, err = g.Attrs()
				} else {
					attrs, err = ds.Attrs()
				}
				if err != nil {
					return err
				}
				checkAttrs(t, path, attrs, want.Attrs[path])
				if ds == nil {
					return nil
				}
				w, ok := want.Datasets[path]
				if !ok {
					return nil
				}
				datasets[path] = true
				if !slices.Equal(ds.Shape, w.Shape) && !(len(ds.Shape) == 0 && len(w.Shape) == 0) {
					t.Errorf("%s: shape %v, want %v", path, ds.Shape, w.Shape)
				}
				v, err := ds.Float32s()
				if w.DType == "<f8" {
					if err == nil || !strings.Contains(err.Error(), "holds float64, not float32") {
						t.Errorf("%s: float64 dataset read with error %v", path, err)
					}
					return nil
				}
				if err != nil {
					return err
				}
				b := make([]byte, 4*len(v))
				for i, x := range v {
					binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
				}
				sum := sha256.Sum256(b)
				if got := hex.EncodeToString(sum[:]); got != w.SHA256 {
					t.Errorf("%s: values differ from h5py's (sha256 %s, want %s); first %v, want %v", path, got[:12], w.SHA256[:12], v[:min(4, len(v))], w.First)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(groups)
			sort.Strings(want.Groups)
			if !slices.Equal(groups, want.Groups) {
				t.Errorf("groups %v\nwant %v", groups, want.Groups)
			}
			for p := range want.Datasets {
				if !datasets[p] {
					t.Errorf("dataset %s not found", p)
				}
			}
		})
	}
}

// checkAttrs compares the string attributes h5py read.
func checkAttrs(t *testing.T, path string, got []*Attribute, want map[string]any) {
	t.Helper()
	byName := map[string]*Attribute{}
	for _, a := range got {
		byName[a.Name] = a
	}
	for name, w := range want {
		a := byName[name]
		if a == nil {
			t.Errorf("%s: no attribute %s", path, name)
			continue
		}
		s, err := a.Strings()
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		switch w := w.(type) {
		case string:
			if len(s) != 1 || s[0] != w {
				t.Errorf("%s: attribute %s = %q, want %q", path, name, s, w)
			}
		case []any:
			ws := make([]string, len(w))
			for i, x := range w {
				ws[i] = x.(string)
			}
			if !slices.Equal(s, ws) {
				t.Errorf("%s: attribute %s = %q, want %q", path, name, s, ws)
			}
		}
	}
}

// The root B-tree of keras2-fixed.h5 has several levels, and the kernels of
// keras215-vlen.h5 several chunk B-tree levels: the files test what they
// are meant to.
func TestMultiLevelTrees(t *testing.T) {
	f, err := Open(testdata + "keras2-fixed.h5")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Root(); err != nil {
		t.Fatal(err)
	}
	st := f.headers[f.root].find(msgSymbolTable)
	if st == nil {
		t.Fatal("root has no symbol table")
	}
	tree := binary.LittleEndian.Uint64(st.data)
	b, err := f.read(tree, 8, "root B-tree")
	if err != nil {
		t.Fatal(err)
	}
	if b[5] < 2 {
		t.Errorf("root group B-tree has level %d, want at least 2", b[5])
	}

	f, err = Open(testdata + "keras215-vlen.h5")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root, err := f.Root()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := root.Dataset("predictions/predictions/kernel:0")
	if err != nil {
		t.Fatal(err)
	}
	lm := ds.obj.find(msgLayout).data
	if lm[0] != 3 || lm[1] != layoutChunked {
		t.Fatalf("layout version %d class %d, want 3 and chunked", lm[0], lm[1])
	}
	b, err = f.read(binary.LittleEndian.Uint64(lm[3:]), 8, "chunk B-tree")
	if err != nil {
		t.Fatal(err)
	}
	if b[5] < 1 {
		t.Errorf("chunk B-tree has level %d, want at least 1", b[5])
	}
}

// A dataset or group that is not there, or is of the other kind, is an
// error naming it.
func TestLookupErrors(t *testing.T) {
	f, err := Open(testdata + "v2super.h5")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root, err := f.Root()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"nope":            `/ has no "nope"`,
		"a/nope":          `/a has no "nope"`,
		"a/a/kernel:0/x":  "is not a group",
		"b/c/d/chunked/y": "is not a group",
	} {
		_, err := root.Dataset(path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", path, err, want)
		}
	}
	if _, err := root.Dataset("b/c"); err == nil || !strings.Contains(err.Error(), "is not a dataset") {
		t.Errorf("a group read as a dataset: %v", err)
	}
	if !root.Has("a/a/kernel:0") || root.Has("a/b") {
		t.Error("Has is wrong")
	}
	if !root.IsGroup("b/c") || root.IsGroup("a/a/kernel:0") {
		t.Error("IsGroup is wrong")
	}
}

// Files h5py reads: their signature is found, where a user block moves it.
func TestIs(t *testing.T) {
	names, _ := filepath.Glob(testdata + "*.h5")
	if len(names) < 5 {
		t.Fatalf("only %d test files", len(names))
	}
	for _, n := range names {
		if !IsFile(n) {
			t.Errorf("%s: not recognised", n)
		}
	}
	if IsFile(testdata+"make_h5.py") || IsFile(testdata+"missing.h5") {
		t.Error("a non-HDF5 file recognised")
	}
}
