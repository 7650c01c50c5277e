package weights

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sixFloats is a storage of the values 0..5.
var sixFloats = legacyStorage{"0", 6, float32Bytes(6)}

func TestLoadViews(t *testing.T) {
	transposed := fakeTensor{name: "t", key: "0", storageNumel: 6, shape: []int64{3, 2}, stride: []int64{1, 3}}
	window := fakeTensor{name: "w", key: "0", storageNumel: 6, offset: 1, shape: []int64{2, 2}, stride: []int64{2, 1}}
	expanded := fakeTensor{name: "e", key: "0", storageNumel: 6, offset: 5, shape: []int64{2, 1, 3}, stride: []int64{0, 7, 0}}
	want := map[string][]float32{"t": {0, 3, 1, 4, 2, 5}, "w": {1, 2, 3, 4}, "e": {5, 5, 5, 5, 5, 5}}
	all := []fakeTensor{transposed, window, expanded}
	files := map[string][]byte{
		"legacy": legacyFile(stateDictPickle(all, true), sixFloats),
		"zip": zipArchive(t, [2]string{"archive/data.pkl", string(stateDictPickle(all, false))},
			[2]string{"archive/byteorder", "little"}, [2]string{"archive/data/0", string(sixFloats.data)}),
	}
	for format, b := range files {
		sd, err := loadBytes(t, b)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		for name, w := range want {
			if got := sd[name]; got == nil || !slices.Equal(got.Data, w) {
				t.Errorf("%s: %s = %v, want %v", format, name, got, w)
			}
		}
	}
}

func TestLoadDTypesAndWrappers(t *testing.T) {
	half := fakeTensor{name: "h", class: "HalfStorage", key: "h", storageNumel: 3, shape: []int64{3}, stride: []int64{1}}
	long := fakeTensor{name: "n", class: "LongStorage", key: "n", storageNumel: 1}
	big := fakeTensor{name: "b", key: "b", storageNumel: 2, shape: []int64{2}, stride: []int64{1}}
	// {"epoch": 3, "state_dict": OrderedDict(...)}, as training scripts save.
	var p pickler
	p.WriteString("\x80\x02}(")
	p.str("epoch")
	p.WriteString("K\x03")
	p.str("state_dict")
	p.Write(bytes.TrimSuffix(stateDictPickle([]fakeTensor{half, long, big}, false)[2:], []byte(".")))
	p.WriteString("u.")
	halves := []byte{0x00, 0x3c, 0x01, 0x80, 0x00, 0x7c} // 1, -2^-24, +Inf
	longs := binary.LittleEndian.AppendUint64(nil, uint64(math.MaxInt64))
	bigs := []byte{0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0} // big-endian 1, -2
	b := zipArchive(t, [2]string{"ckpt/data.pkl", p.String()}, [2]string{"ckpt/byteorder", "big"},
		[2]string{"ckpt/data/h", string(swapped(halves, 2))}, [2]string{"ckpt/data/n", string(swapped(longs, 8))},
		[2]string{"ckpt/data/b", string(bigs)})
	sd, err := loadBytes(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd) != 3 {
		t.Errorf("%d entries, want 3", len(sd))
	}
	if h := sd["h"]; h == nil || h.DType != "float16" || !slices.Equal(h.Data, []float32{1, -0x1p-24, float32(math.Inf(1))}) {
		t.Errorf("h = %+v", h)
	}
	if n := sd["n"]; n == nil || n.DType != "int64" || len(n.Shape) != 0 || !slices.Equal(n.Int, []int64{math.MaxInt64}) {
		t.Errorf("n = %+v", n)
	}
	if b := sd["b"]; b == nil || !slices.Equal(b.Data, []float32{1, -2}) {
		t.Errorf("b = %+v", b)
	}
}

// swapped returns a copy of b with each size-byte element reversed.
func swapped(b []byte, size int) []byte {
	c := bytes.Clone(b)
	swapBytes(c, size)
	return c
}

func TestLoadLegacyView(t *testing.T) {
	var p pickler
	p.WriteString("\x80\x02}(")
	p.str("v")
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.WriteString("((")
	p.str("storage")
	p.global("torch", "FloatStorage")
	p.str("0")
	p.str("cpu")
	p.int(6)
	p.WriteByte('(')
	p.str("view")
	p.int(2)
	p.int(3)
	p.WriteString("ttQ")
	p.int(0)
	p.ints([]int64{3})
	p.ints([]int64{1})
	p.WriteString("\x89NtRu.")
	sd, err := loadBytes(t, legacyFile(p.Bytes(), sixFloats))
	if err != nil {
		t.Fatal(err)
	}
	if v := sd["v"]; v == nil || !slices.Equal(v.Data, []float32{2, 3, 4}) {
		t.Errorf("v = %+v, want [2 3 4]", v)
	}
}

func TestLoadHostile(t *testing.T) {
	tensor := func(f func(*fakeTensor)) []byte {
		ft := fakeTensor{name: "x", key: "0", storageNumel: 6, shape: []int64{6}, stride: []int64{1}}
		f(&ft)
		return stateDictPickle([]fakeTensor{ft}, true)
	}
	ok := legacyFile(tensor(func(*fakeTensor) {}), sixFloats)
	if _, err := loadBytes(t, ok); err != nil {
		t.Fatalf("the unchanged file does not load: %v", err)
	}
	deep := append([]byte("\x80\x02"), bytes.Repeat([]byte("("), 20000)...)
	dicts := append([]byte("\x80\x02"), bytes.Repeat([]byte("}"), 1<<20)...)
	cases := map[string][]byte{
		"empty":                  {},
		"text":                   []byte("not a checkpoint\n"),
		"past the storage":       legacyFile(tensor(func(f *fakeTensor) { f.offset = 3 }), sixFloats),
		"negative size":          legacyFile(tensor(func(f *fakeTensor) { f.shape = []int64{-1} }), sixFloats),
		"negative stride":        legacyFile(tensor(func(f *fakeTensor) { f.shape, f.stride = []int64{2}, []int64{-1} }), sixFloats),
		"negative offset":        legacyFile(tensor(func(f *fakeTensor) { f.offset = -1 }), sixFloats),
		"rank mismatch":          legacyFile(tensor(func(f *fakeTensor) { f.stride = []int64{1, 1} }), sixFloats),
		"numel overflow":         legacyFile(tensor(func(f *fakeTensor) { f.shape, f.stride = []int64{1 << 40, 1 << 40}, []int64{0, 0} }), sixFloats),
		"stride overflow":        legacyFile(tensor(func(f *fakeTensor) { f.shape, f.stride = []int64{2, 2}, []int64{math.MaxInt64, 1} }), sixFloats),
		"huge expansion":         legacyFile(tensor(func(f *fakeTensor) { f.shape, f.stride = []int64{1 << 34}, []int64{0} }), sixFloats),
		"huge storage":           legacyFile(tensor(func(f *fakeTensor) { f.storageNumel = 1 << 40 }), legacyStorage{"0", 1 << 40, nil}),
		"absurd storage":         legacyFile(tensor(func(f *fakeTensor) { f.storageNumel = math.MaxInt64 }), sixFloats),
		"count mismatch":         legacyFile(tensor(func(*fakeTensor) {}), legacyStorage{"0", 5, float32Bytes(5)}),
		"no storage data":        legacyFile(tensor(func(*fakeTensor) {})),
		"unknown key":            legacyFile(tensor(func(*fakeTensor) {}), sixFloats, legacyStorage{"9", 0, nil}),
		"complex storage":        legacyFile(tensor(func(f *fakeTensor) { f.class = "ComplexFloatStorage" }), sixFloats),
		"huge BINBYTES8":         legacyFile(append([]byte("\x80\x02\x8e"), binary.LittleEndian.AppendUint64(nil, 1<<40)...), sixFloats),
		"huge FRAME":             legacyFile(append([]byte("\x80\x04\x95"), binary.LittleEndian.AppendUint64(nil, 1<<62)...), sixFloats),
		"empty LONG1":            legacyFile([]byte("\x80\x02\x8a\x00."), sixFloats),
		"huge LONG4":             legacyFile(append([]byte("\x80\x02\x8b\x00\x00\x10\x00"), make([]byte, 1<<20)...), sixFloats),
		"opcode 0xff":            legacyFile([]byte("\x80\x02\xff."), sixFloats),
		"deep marks":             legacyFile(deep, sixFloats),
		"object flood":           legacyFile(dicts, sixFloats),
		"not a tensor":           legacyFile([]byte("\x80\x02}(X\x01\x00\x00\x00aK\x03u.")),
		"not a dict":             legacyFile([]byte("\x80\x02].")),
		"unhashable key":         legacyFile([]byte("\x80\x02ccollections\nOrderedDict\n)RC\x01aK\x01s."), sixFloats),
		"unhashable item":        legacyFile([]byte("\x80\x04\x8f(C\x01a\x90."), sixFloats),
		"odd dict":               legacyFile([]byte("\x80\x02}(X\x01\x00\x00\x00au."), sixFloats),
		"odd DICT":               legacyFile([]byte("\x80\x02(K\x01K\x02K\x03d."), sixFloats),
		"empty pop":              legacyFile([]byte("\x80\x020N."), sixFloats),
		"empty stack":            legacyFile([]byte("\x80\x02t."), sixFloats),
		"classless OBJ":          legacyFile([]byte("\x80\x02(o."), sixFloats),
		"empty past the storage": legacyFile(tensor(func(f *fakeTensor) { f.offset, f.shape = 7, []int64{0} }), sixFloats),
		"dtype mismatch": legacyFile(stateDictPickle([]fakeTensor{
			{name: "x", key: "0", storageNumel: 6, shape: []int64{6}, stride: []int64{1}},
			{name: "y", class: "HalfStorage", key: "0", storageNumel: 6, shape: []int64{6}, stride: []int64{1}}}, true), sixFloats),
		"duplicate record":  zipArchive(t, [2]string{"a/data.pkl", "\x80\x02}."}, [2]string{"a/data.pkl", "\x80\x02}."}),
		"deep lists":        legacyFile(append(append([]byte("\x80\x02"), bytes.Repeat([]byte("]"), 200000)...), bytes.Repeat([]byte("a"), 199999)...), sixFloats),
		"no data.pkl":       zipArchive(t, [2]string{"archive/data/0", string(sixFloats.data)}),
		"TorchScript":       zipArchive(t, [2]string{"a/data.pkl", "\x80\x02}."}, [2]string{"a/constants.pkl", "\x80\x02)."}),
		"missing record":    zipArchive(t, [2]string{"a/data.pkl", string(tensor(func(*fakeTensor) {}))}),
		"short record":      zipArchive(t, [2]string{"a/data.pkl", string(stateDictPickle([]fakeTensor{{name: "x", key: "0", storageNumel: 6, shape: []int64{6}, stride: []int64{1}}}, false))}, [2]string{"a/data/0", "abc"}),
		"bad byteorder":     zipArchive(t, [2]string{"a/data.pkl", "\x80\x02}."}, [2]string{"a/byteorder", "middle"}),
		"zip, legacy id":    zipArchive(t, [2]string{"a/data.pkl", string(tensor(func(*fakeTensor) {}))}, [2]string{"a/data/0", string(sixFloats.data)}),
		"rebuild of an int": legacyFile([]byte("\x80\x02}(X\x01\x00\x00\x00actorch._utils\n_rebuild_tensor_v2\n(K\x01K\x00)))\x89NtRu."), sixFloats),
	}
	for name, b := range cases {
		sd, err := loadBytes(t, b)
		if err == nil {
			t.Errorf("%s: loaded %d entries, want an error", name, len(sd))
			continue
		}
		if !strings.HasPrefix(err.Error(), "weights: ") || errors.Is(err, errInternal) {
			t.Errorf("%s: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}

func TestLoadEmptyTensors(t *testing.T) {
	// An empty tensor may start at its storage's end, as slicing past the
	// last element makes it, but not further.
	empty := func(offset int64) []fakeTensor {
		return []fakeTensor{{name: "e", key: "0", storageNumel: 6, offset: offset, shape: []int64{2, 0}, stride: []int64{1, 1}}}
	}
	for _, legacy := range []bool{false, true} {
		files := map[int64][]byte{}
		for _, offset := range []int64{0, 6, 7, 200} {
			if legacy {
				files[offset] = legacyFile(stateDictPickle(empty(offset), true), sixFloats)
			} else {
				files[offset] = zipArchive(t, [2]string{"a/data.pkl", string(stateDictPickle(empty(offset), false))},
					[2]string{"a/data/0", string(sixFloats.data)})
			}
		}
		for offset, b := range files {
			sd, err := loadBytes(t, b)
			switch {
			case offset <= 6 && err != nil:
				t.Errorf("legacy %v, offset %d: %v", legacy, offset, err)
			case offset <= 6 && (sd["e"] == nil || sd["e"].Numel() != 0 || !slices.Equal(sd["e"].Shape, []int{2, 0})):
				t.Errorf("legacy %v, offset %d: e = %+v", legacy, offset, sd["e"])
			case offset > 6 && (err == nil || errors.Is(err, errInternal) || !strings.Contains(err.Error(), "empty tensor at offset")):
				t.Errorf("legacy %v, offset %d: %v, want an error", legacy, offset, err)
			}
		}
	}
}

// fixtures are the torch.save files in testdata that hold a state_dict of
// many tensors.
var fixtures = append(slices.Clone(synthFixtures), "pth/odd-tensors.pth")

// corpus returns every torch.save file in testdata: fixtures and the
// checkpoint layouts of checkpoints.json. They seed TestLoadTruncated and
// FuzzLoad.
func corpus(t testing.TB) []string {
	files := slices.Clone(fixtures)
	for _, name := range sortedNames(checkpointFiles(t)) {
		files = append(files, "pth/"+name)
	}
	return files
}

// corrupted are the files that TestLoadCorrupted flips bytes of: fixtures
// and a training checkpoint of each format, whose storages are not all read.
var corrupted = append(slices.Clone(fixtures), "pth/ckpt-training.zip.pth", "pth/ckpt-training.legacy.pth")

func TestLoadTruncated(t *testing.T) {
	for _, name := range corpus(t) {
		b, err := os.ReadFile(testdata + name)
		if err != nil {
			t.Fatal(err)
		}
		var cuts []int
		for n := 0; n < 300; n++ {
			cuts = append(cuts, n, len(b)-1-n)
		}
		for n := 0; n < len(b); n += len(b)/97 + 1 {
			cuts = append(cuts, n)
		}
		for _, n := range cuts {
			if _, err := loadFrom(name, bytes.NewReader(b[:n]), int64(n)); err == nil {
				t.Errorf("%s truncated to %d of %d bytes loads", name, n, len(b))
			} else if errors.Is(err, errInternal) {
				t.Errorf("%s truncated to %d bytes: %v", name, n, err)
			}
		}
	}
}

func TestLoadCorrupted(t *testing.T) {
	for _, name := range corrupted {
		b, err := os.ReadFile(testdata + name)
		if err != nil {
			t.Fatal(err)
		}
		// Every one of the first 512 bytes, where the pickle or the first zip
		// headers lie, and of the last 512, where the zip directory lies, and a
		// spread over the rest; each flipped with a different mask.
		var at []int
		for i := 0; i < len(b); i++ {
			if i < 512 || i >= len(b)-512 || i%(len(b)/200) == 0 {
				at = append(at, i)
			}
		}
		failed := 0
		c := bytes.Clone(b)
		for k, i := range at {
			x := []byte{0xff, 0x01, 0x80, 0x10, 0x7f}[k%5]
			c[i] ^= x
			_, err := loadFrom(name, bytes.NewReader(c), int64(len(c)))
			c[i] = b[i]
			if err != nil {
				failed++
				if errors.Is(err, errInternal) {
					t.Errorf("%s with byte %d ^ %#x: %v", name, i, x, err)
				}
			}
		}
		t.Logf("%s: %d of %d corruptions give an error", name, failed, len(at))
	}
}

func TestLoadManyEntries(t *testing.T) {
	// 40k entries (of about 21 pickled values each: near maxObjects) load
	// in linear time: a quadratic step (dict lookups, storage searches)
	// would take minutes.
	const n = 40000
	ts := make([]fakeTensor, n)
	storages := make([]legacyStorage, n)
	for i := range ts {
		key := strconv.Itoa(i)
		ts[i] = fakeTensor{name: "p" + key, key: key, storageNumel: 1, shape: []int64{1}, stride: []int64{1}}
		storages[i] = legacyStorage{key, 1, float32Bytes(1)}
	}
	sd, err := loadBytes(t, legacyFile(stateDictPickle(ts, true), storages...))
	if err != nil {
		t.Fatal(err)
	}
	if len(sd) != n || sd["p39999"] == nil {
		t.Errorf("%d entries, want %d", len(sd), n)
	}
}
