package weights

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzLoad checks that LoadFile returns an error or a consistent StateDict
// for any file, and never panics. It is seeded with the torch.save files in
// testdata and small hand-made files of both formats.
func FuzzLoad(f *testing.F) {
	for _, name := range corpus(f) {
		b, err := os.ReadFile(testdata + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range smallFiles(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := loadBytes(t, b)
		checkLoad(t, sd, err)
	})
}

// FuzzUnpickle is FuzzLoad without the temporary file and with small seeds
// only, so that it runs thousands of times faster on the unpickling code.
func FuzzUnpickle(f *testing.F) {
	for _, b := range smallFiles(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := loadFrom("fuzz", bytes.NewReader(b), int64(len(b)))
		checkLoad(t, sd, err)
	})
}

// smallFiles returns hand-made files of both formats with views, dtypes, a
// checkpoint wrapper, protocol 4 and a refused global.
func smallFiles(t testing.TB) [][]byte {
	views := []fakeTensor{
		{name: "t", key: "0", storageNumel: 6, shape: []int64{3, 2}, stride: []int64{1, 3}},
		{name: "h", class: "HalfStorage", key: "1", storageNumel: 2, offset: 1, shape: []int64{1}, stride: []int64{1}},
		{name: "n", class: "LongStorage", key: "2", storageNumel: 1},
	}
	storages := [][2]string{{"a/data/0", string(sixFloats.data)}, {"a/data/1", "\x00\x3c\x01\x80"}, {"a/data/2", "\x07\x00\x00\x00\x00\x00\x00\x00"}}
	var ckpt pickler
	ckpt.WriteString("\x80\x02}(")
	ckpt.str("model")
	ckpt.Write(bytes.TrimSuffix(stateDictPickle(views, false)[2:], []byte(".")))
	ckpt.WriteString("u.")
	return [][]byte{
		legacyFile(stateDictPickle(views, true), sixFloats,
			legacyStorage{"1", 2, []byte(storages[1][1])}, legacyStorage{"2", 1, []byte(storages[2][1])}),
		zipArchive(t, append([][2]string{{"a/data.pkl", string(stateDictPickle(views, false))}}, storages...)...),
		zipArchive(t, append([][2]string{{"a/data.pkl", ckpt.String()}, {"a/byteorder", "big"}}, storages...)...),
		zipArchive(t, [2]string{"a/data.pkl", protocol4}, storages[0]),
		legacyFile(checkpointPickle(views[:1], "optimizer", "cos\nsystem\n(X\x04\x00\x00\x00truetR", true), sixFloats),
	}
}

// checkLoad fails if err is not a loader error or sd is inconsistent.
func checkLoad(t *testing.T, sd StateDict, err error) {
	if err != nil {
		if !strings.HasPrefix(err.Error(), "weights: ") || errors.Is(err, errInternal) {
			t.Fatal(err)
		}
		return
	}
	for name, tensor := range sd {
		n := len(tensor.Data)
		if tensor.IsInt() {
			n = len(tensor.Int)
		}
		if n != tensor.Numel() || (tensor.IsInt() && tensor.Data != nil) || (!tensor.IsInt() && tensor.Int != nil) {
			t.Fatalf("%s: %s %v with %d floats and %d ints", name, tensor.DType, tensor.Shape, len(tensor.Data), len(tensor.Int))
		}
		for _, d := range tensor.Shape {
			if d < 0 {
				t.Fatalf("%s: shape %v", name, tensor.Shape)
			}
		}
	}
}
