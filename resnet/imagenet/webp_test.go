package imagenet

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// bitWriter writes bits least significant first, as VP8L reads them.
type bitWriter struct {
	buf  []byte
	nbit uint
}

func (w *bitWriter) write(v uint32, n uint) {
	for i := range n {
		if w.nbit%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		w.buf[len(w.buf)-1] |= byte(v>>i&1) << (w.nbit % 8)
		w.nbit++
	}
}

// losslessWebP returns a 1×1 lossless (VP8L) WebP file of one non-
// premultiplied colour. Every prefix code is a "simple" code of a single
// symbol, which takes zero bits, so the one pixel is read from the codes.
func losslessWebP(r, g, b, a uint8) []byte {
	var w bitWriter
	w.write(0x2f, 8) // VP8L signature
	w.write(0, 14)   // width - 1
	w.write(0, 14)   // height - 1
	w.write(1, 1)    // alpha is used
	w.write(0, 3)    // version
	w.write(0, 1)    // no transform
	w.write(0, 1)    // no colour cache
	w.write(0, 1)    // no meta prefix codes
	for _, v := range []uint8{g, r, b, a} {
		w.write(1, 1) // simple code
		w.write(0, 1) // one symbol
		w.write(1, 1) // of 8 bits
		w.write(uint32(v), 8)
	}
	w.write(1, 1) // distance code: simple,
	w.write(0, 1) // one symbol,
	w.write(0, 1) // of 1 bit,
	w.write(0, 1) // symbol 0
	data := w.buf
	if len(data)%2 == 1 {
		data = append(data, 0) // RIFF chunks are padded to even length
	}
	var f bytes.Buffer
	f.WriteString("RIFF")
	binary.Write(&f, binary.LittleEndian, uint32(4+8+len(data)))
	f.WriteString("WEBPVP8L")
	binary.Write(&f, binary.LittleEndian, uint32(len(w.buf)))
	f.Write(data)
	return f.Bytes()
}

// TestLosslessWebPGolden keeps testdata/1x1.lossless.webp, a fuzz seed and
// decoding fixture, in step with losslessWebP; -update rewrites it.
func TestLosslessWebPGolden(t *testing.T) {
	got := losslessWebP(200, 100, 50, 128)
	path := filepath.Join("testdata", "1x1.lossless.webp")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		bad := path + "-bad"
		os.WriteFile(bad, got, 0o644)
		t.Errorf("%s differs from losslessWebP; wrote %s (run with -update to accept)", path, bad)
	}
}
