package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

// pickler writes protocol-2 pickles by hand, so that tests can make files
// that torch.save would never write.
type pickler struct{ bytes.Buffer }

func (p *pickler) str(s string) {
	p.WriteByte('X')
	binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
}

func (p *pickler) int(v int64)                { fmt.Fprintf(p, "L%d\n", v) }
func (p *pickler) global(module, name string) { fmt.Fprintf(p, "c%s\n%s\n", module, name) }

func (p *pickler) ints(vs []int64) {
	p.WriteByte('(')
	for _, v := range vs {
		p.int(v)
	}
	p.WriteByte('t')
}

// fakeTensor describes a tensor entry of a hand-made file.
type fakeTensor struct {
	name          string
	class         string // storage class, FloatStorage unless set
	key           string // storage key
	storageNumel  int64
	offset        int64
	shape, stride []int64
	// requiresGrad and hooks are pickle text of those arguments, False and
	// OrderedDict() unless set.
	requiresGrad, hooks string
}

// tensor writes _rebuild_tensor_v2(storage, offset, shape, stride, False,
// OrderedDict()); legacy storage ids have a sixth entry, None.
func (p *pickler) tensor(f fakeTensor, legacy bool) {
	class := f.class
	if class == "" {
		class = "FloatStorage"
	}
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.WriteByte('(')
	p.WriteByte('(')
	p.str("storage")
	p.global("torch", class)
	p.str(f.key)
	p.str("cpu")
	p.int(f.storageNumel)
	if legacy {
		p.WriteByte('N')
	}
	p.WriteString("tQ")
	p.int(f.offset)
	p.ints(f.shape)
	p.ints(f.stride)
	if f.requiresGrad == "" {
		p.WriteByte(0x89) // False
	} else {
		p.WriteString(f.requiresGrad)
	}
	if f.hooks == "" {
		p.global("collections", "OrderedDict")
		p.WriteString(")R")
	} else {
		p.WriteString(f.hooks)
	}
	p.WriteByte('t')
	p.WriteByte('R')
}

// stateDictPickle pickles an OrderedDict of the tensors.
func stateDictPickle(ts []fakeTensor, legacy bool) []byte {
	var p pickler
	p.WriteString("\x80\x02")
	p.global("collections", "OrderedDict")
	p.WriteString(")R(")
	for _, t := range ts {
		p.str(t.name)
		p.tensor(t, legacy)
	}
	p.WriteString("u.")
	return p.Bytes()
}

// float32Bytes returns n little-endian float32 values 0, 1, 2, ...
func float32Bytes(n int) []byte {
	b := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(i)))
	}
	return b
}

// legacyFile makes a legacy torch.save file from the main pickle and the
// storages (key, element count written, data).
func legacyFile(main []byte, storages ...legacyStorage) []byte {
	var b pickler
	magic, _ := new(big.Int).SetString(legacyMagic, 16)
	le := magic.Bytes()
	for i, j := 0, len(le)-1; i < j; i, j = i+1, j-1 {
		le[i], le[j] = le[j], le[i]
	}
	b.WriteString("\x80\x02\x8a")
	b.WriteByte(byte(len(le)))
	b.Write(le)
	b.WriteString(".\x80\x02M\xe9\x03.\x80\x02}.") // magic, 1001, {}
	b.Write(main)
	b.WriteString("\x80\x02](")
	for _, s := range storages {
		b.str(s.key)
	}
	b.WriteString("e.")
	for _, s := range storages {
		binary.Write(&b.Buffer, binary.LittleEndian, s.numel)
		b.Write(s.data)
	}
	return b.Bytes()
}

// legacyStorage is one storage of a legacy file.
type legacyStorage struct {
	key   string
	numel int64
	data  []byte
}

// zipArchive makes a zip file of the records (name, data) in order, stored
// uncompressed as torch.save does.
func zipArchive(t testing.TB, records ...[2]string) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, r := range records {
		f, err := w.CreateHeader(&zip.FileHeader{Name: r[0], Method: zip.Store})
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

// loadBytes writes b to a temporary file and loads it.
func loadBytes(t testing.TB, b []byte) (StateDict, error) {
	path := filepath.Join(t.TempDir(), "w.pth")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return LoadFile(path)
}
