package h5

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// readAll opens a file from memory and reads everything in it: every
// group, attribute and float32 dataset. It returns the first error.
func readAll(data []byte) error {
	f, err := NewFile(bytes.NewReader(data), int64(len(data)), "test.h5")
	if err != nil {
		return err
	}
	return f.Walk(func(path string, g *Group, ds *Dataset) error {
		var attrs []*Attribute
		var err error
		if g != nil {
			attrs, err = g.Attrs()
		} else {
			attrs, err = ds.Attrs()
		}
		if err != nil {
			return err
		}
		for _, a := range attrs {
			if a.typ.class == classString || a.typ.vlenStr {
				if _, err := a.Strings(); err != nil {
					return err
				}
			}
		}
		if ds != nil && ds.typ.ieee32 && !strings.HasPrefix(path, "/huge") && path != "/gzip" {
			_, err = ds.Float32s()
		}
		return err
	})
}

func readTestFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testdata + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hostile checks that reading data fails with one line naming the file,
// within a memory budget of a few times the file.
func hostile(t *testing.T, what string, data []byte, want string) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := readAll(data)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Errorf("%s: read without error", what)
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "h5: test.h5: ") || !strings.Contains(msg, want) {
		t.Errorf("%s: error %q, want one line starting h5: test.h5: containing %q", what, msg, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(16*len(data)+1<<20) {
		t.Errorf("%s: allocated %d bytes for a file of %d", what, alloc, len(data))
	}
}

// The untouched files read without error: the mutations below are what
// makes them fail.
func TestReadAll(t *testing.T) {
	names, _ := filepath.Glob(testdata + "*.h5")
	for _, n := range names {
		if filepath.Base(n) == "dense.h5" {
			continue
		}
		b := readTestFile(t, filepath.Base(n))
		if err := readAll(b); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	hostile(t, "dense links", readTestFile(t, "dense.h5"), "dense storage (a fractal heap) are not supported")
}

// A file cut short anywhere fails with one error line.
func TestTruncated(t *testing.T) {
	for _, name := range []string{"keras2-fixed.h5", "keras215-vlen.h5", "v3super.h5"} {
		b := readTestFile(t, name)
		for n := 0; n < len(b); n += 1 + len(b)/97 {
			hostile(t, name+" cut at "+strconv.Itoa(n), b[:n], "")
		}
	}
}

// Lying counts, sizes and addresses in every kind of structure are errors.
func TestLyingStructures(t *testing.T) {
	fixed := readTestFile(t, "keras2-fixed.h5")
	vlen := readTestFile(t, "keras215-vlen.h5")
	v3 := readTestFile(t, "v3super.h5")
	odd := readTestFile(t, "odd.h5")
	at := func(b []byte, sig string, nth int) int {
		i := -1
		for k := 0; k <= nth; k++ {
			j := bytes.Index(b[i+1:], []byte(sig))
			if j < 0 {
				t.Fatalf("no %d-th %s", nth, sig)
			}
			i += 1 + j
		}
		return i
	}
	patch := func(b []byte, off int, v uint64, n int) []byte {
		c := bytes.Clone(b)
		for i := 0; i < n; i++ {
			c[off+i] = byte(v >> (8 * i))
		}
		return c
	}
	huge := uint64(1) << 62
	root := int(binary.LittleEndian.Uint64(fixed[64:])) // the root entry's object header address
	tree := at(fixed, "TREE", 0)
	snod := at(fixed, "SNOD", 0)
	heap := at(fixed, "HEAP", 0)
	cases := []struct {
		what, want string
		data       []byte
	}{
		{"no signature", "not an HDF5 file", patch(fixed, 0, 0, 1)},
		{"superblock version 9", "superblock version 9", patch(fixed, 8, 9, 1)},
		{"field sizes", "field sizes", patch(fixed, 13, 3, 1)},
		{"root past the end", "run past the end", patch(fixed, 64, huge, 8)},
		{"root undefined", "no root group", patch(fixed, 64, ^uint64(0), 8)},
		{"object header version", "version 7", patch(fixed, root, 7, 1)},
		{"object header size", "run past the end", patch(fixed, root+8, 1<<31, 4)},
		{"B-tree entries", "run past the end", patch(fixed, tree+6, 0xffff, 2)},
		{"B-tree type", "node type", patch(fixed, tree+4, 1, 1)},
		{"B-tree child", "", patch(fixed, tree+8+16+8, huge, 8)},
		{"symbol node count", "run past the end", patch(fixed, snod+6, 0xffff, 2)},
		{"symbol name offset", "outside its heap", patch(fixed, snod+8, huge, 8)},
		{"local heap size", "run past the end", patch(fixed, heap+8, huge, 8)},
		{"local heap signature", "signature", patch(fixed, heap, 'X', 1)},
		{"global heap size", "run past the end", patch(vlen, at(vlen, "GCOL", 0)+8, huge, 8)},
		{"global heap object", "", patch(vlen, at(vlen, "GCOL", 0)+16+8, huge, 8)},
		{"chunk B-tree entries", "", patch(vlen, at(vlen, "TREE", 40)+6, 0xffff, 2)},
		{"v3 header checksum", "checksum", patch(v3, at(v3, "OHDR", 0)+10, 0x5a, 1)},
		{"v3 superblock checksum", "checksum", patch(v3, 512+20, 0x5a, 1)},
		{"fixed array checksum", "checksum", patch(v3, at(v3, "FAHD", 0)+8, 0x5a, 1)},
	}
	// A B-tree whose second child is its first: the walk meets a node twice.
	if lvl := fixed[tree+5]; lvl > 0 {
		first := binary.LittleEndian.Uint64(fixed[tree+8+16+8:])
		cases = append(cases, struct {
			what, want string
			data       []byte
		}{"B-tree loop", "visited twice", patch(fixed, tree+8+16+8+16, first, 8)})
	} else {
		t.Errorf("the first B-tree node of keras2-fixed.h5 is a leaf")
	}
	// Huge dimensions: the datasets of odd.h5 claim terabytes.
	for _, c := range cases {
		hostile(t, c.what, c.data, c.want)
	}
	f, err := NewFile(bytes.NewReader(odd), int64(len(odd)), "test.h5")
	if err != nil {
		t.Fatal(err)
	}
	root2, err := f.Root()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"huge_chunked":    "larger than the file could hold",
		"huge_contiguous": "larger than the file could hold",
		"gzip":            "filtered (compressed)",
		"i32":             "holds int32, not float32",
		"f64":             "holds float64, not float32",
	} {
		ds, err := root2.Dataset(path)
		if err == nil {
			_, err = ds.Float32s()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
	if ds, err := root2.Dataset("empty"); err != nil {
		t.Error(err)
	} else if v, err := ds.Float32s(); err != nil || len(v) != 0 {
		t.Errorf("empty dataset: %v %v", v, err)
	}
	if ds, err := root2.Dataset("scalar"); err != nil {
		t.Error(err)
	} else if v, err := ds.Float32s(); err != nil || len(v) != 1 || v[0] != 2.5 || ds.Shape != nil {
		t.Errorf("scalar dataset: %v %v shape %v", v, err, ds.Shape)
	}
}
