package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// loadCost loads the file at path, which must fail, and returns the bytes
// that loading allocated, which bound the memory it took, and the error.
func loadCost(t *testing.T, path string) (uint64, error) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	sd, err := LoadFile(path)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatalf("%s loads %d entries, want an error", path, len(sd))
	}
	if !strings.HasPrefix(err.Error(), "weights: ") || errors.Is(err, errInternal) {
		t.Errorf("%s: %v", path, err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%s: %v (%v, %d MB allocated)", filepath.Base(path), err, time.Since(start).Round(time.Millisecond), alloc>>20)
	return alloc, err
}

// deflatedZip makes a zip archive of the records, deflated.
func deflatedZip(t *testing.T, records ...[2]string) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, r := range records {
		f, err := w.CreateHeader(&zip.FileHeader{Name: r[0], Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(r[1]))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadPickleFloods(t *testing.T) {
	// Small files whose data.pkl deflates to up to 64 MB of tiny opcodes:
	// loading stops at maxObjects or maxPickleMemory, having allocated
	// little more than the pickle's own bytes.
	flood := func(unit string, n int) string {
		return "\x80\x02" + strings.Repeat(unit, n) + "."
	}
	const objects = "pickles of more than 1048576 objects"
	cases := map[string]struct {
		pkl, err string
	}{
		"None":   {flood("N", maxPickleBytes-3), objects},
		"ints":   {flood("K\x01", 3<<20), objects},
		"tuples": {flood("NK\x01\x86", 3<<20), objects},
		"nested": {"\x80\x02)" + strings.Repeat("\x85", 3<<20) + ".", objects},
		"dicts":  {flood("}", 3<<20), "pickles that would take more than 256 MB to unpickle"},
		"memo":   {"\x80\x02N" + strings.Repeat("q\x00", 3<<20) + ".", "pickles that would take more than 256 MB to unpickle"},
	}
	for name, c := range cases {
		path := filepath.Join(t.TempDir(), name+".pth")
		b := deflatedZip(t, [2]string{"a/data.pkl", c.pkl}, [2]string{"a/data/0", string(sixFloats.data)})
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		alloc, err := loadCost(t, path)
		if !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", name, err, c.err)
		}
		if max := uint64(len(c.pkl)) + 32<<20; alloc > max {
			t.Errorf("%s: a %d KB file with a pickle of %d MB allocates %d MB", name, len(b)>>10, len(c.pkl)>>20, alloc>>20)
		}
	}
	// data.pkl may not expand beyond maxPickleBytes.
	path := filepath.Join(t.TempDir(), "big.pth")
	os.WriteFile(path, deflatedZip(t, [2]string{"a/data.pkl", flood("N", maxPickleBytes)}), 0o644)
	if alloc, err := loadCost(t, path); !strings.Contains(err.Error(), "more than the 64 MB") || alloc > 1<<20 {
		t.Errorf("a data.pkl of %d bytes: %v, %d bytes allocated", maxPickleBytes+3, err, alloc)
	}
}

func TestLoadHugeSparseFiles(t *testing.T) {
	// 40 GB files that cost nothing on disk fail at once, having read at
	// most maxPickleBytes of them.
	var magic bytes.Buffer
	magic.Write(legacyFile(nil)[:legacyFileHead])
	cases := map[string]struct {
		head []byte
		err  string
		max  uint64
	}{
		"zeros":              {nil, "neither a zip archive nor a legacy torch.save file: it starts with 00 00 00 00", 1 << 20},
		"text":               {[]byte("\x89HDF\r\n\x1a\n"), "it starts with 89 48 44 46 0d 0a 1a 0a 00", 1 << 20},
		"zip header":         {[]byte(zipMagic), "zip: not a valid zip file", 1 << 20},
		"legacy magic":       {magic.Bytes(), "unknown pickle opcode 0x00", 1 << 20},
		"legacy long pickle": {append(magic.Bytes(), "\x80\x02\x8d\x00\x00\x00\x00\x01\x00\x00\x00"...), "pickles of more than 67108864 bytes before the storages", 3 * maxPickleBytes},
	}
	for name, c := range cases {
		path := filepath.Join(t.TempDir(), name+".pth")
		if err := os.WriteFile(path, c.head, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, 40<<30); err != nil {
			t.Skipf("no sparse file: %v", err)
		}
		start := time.Now()
		alloc, err := loadCost(t, path)
		if !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", name, err, c.err)
		}
		if alloc > c.max || time.Since(start) > 10*time.Second {
			t.Errorf("%s: %v and %d MB to fail", name, time.Since(start), alloc>>20)
		}
	}
}

// legacyFileHead is the length of the pickles of the magic number, the
// version and the system information that legacyFile writes.
var legacyFileHead = func() int {
	b := legacyFile(nil)
	return bytes.Index(b, []byte("\x80\x02}.")) + 4
}()

func TestLoadStorageBeyondFile(t *testing.T) {
	// A storage larger than the rest of the file fails before its bytes
	// are allocated, in both formats, even when the record claims them.
	huge := fakeTensor{name: "x", key: "0", storageNumel: 1 << 28, shape: []int64{1}, stride: []int64{1}}
	var record zip.FileHeader
	record.Name, record.Method = "a/data/0", zip.Store
	files := map[string][]byte{
		"legacy": legacyFile(stateDictPickle([]fakeTensor{huge}, true), legacyStorage{"0", 1 << 28, sixFloats.data}),
		"zip":    zipArchive(t, [2]string{"a/data.pkl", string(stateDictPickle([]fakeTensor{huge}, false))}, [2]string{"a/data/0", string(sixFloats.data)}),
		// A deflated record that says it expands to 4 GB.
		"zip bomb": func() []byte {
			b := deflatedZip(t, [2]string{"a/data.pkl", string(stateDictPickle([]fakeTensor{huge}, false))},
				[2]string{"a/data/0", strings.Repeat("\x00", 1<<20)})
			i := bytes.LastIndex(b, []byte("a/data/0")) - 46 + 24 // the central directory's uncompressed size
			binary.LittleEndian.PutUint32(b[i:], 1<<32-1)
			return b
		}(),
	}
	want := map[string]string{
		"legacy":   "file truncated",
		"zip":      "zip record a/data/0 holds 24 bytes, want 1073741824",
		"zip bomb": "zip records expand beyond",
	}
	for name, b := range files {
		path := filepath.Join(t.TempDir(), name+".pth")
		os.WriteFile(path, b, 0o644)
		if alloc, err := loadCost(t, path); alloc > 16<<20 || !strings.Contains(err.Error(), want[name]) {
			t.Errorf("%s: %v, %d MB allocated, want %q", name, err, alloc>>20, want[name])
		}
	}
}
