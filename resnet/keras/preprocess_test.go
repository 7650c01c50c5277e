package keras

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/graph/graphtest"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

// Our load_img + preprocess_input of the fixture images is Keras' (Pillow
// 9.4) bit for bit: the PNGs from the file on, the JPEG from the pixels
// Pillow decoded (Go's JPEG decoder differs from libjpeg-turbo by a few
// levels; that difference is logged).
func TestPreprocessMatchesKeras(t *testing.T) {
	in := shared + "inputs/keras/"
	needShared(t, in)
	for _, name := range []string{"astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"} {
		stem := name[:len(name)-4]
		want := chw(graphtest.ReadF32(t, in+stem+".nhwc.f32"))
		img, err := imagenet.Open("../../testdata/images/" + name)
		if err != nil {
			t.Fatal(err)
		}
		got := Preprocess(img, Size, Caffe)
		diff := maxAbs(got, want)
		t.Logf("%s: max |ours - Keras'| = %g", name, diff)
		if stem != "rocket" && diff != 0 {
			t.Errorf("%s: preprocessing differs from Keras' by %g", name, diff)
		}
	}
	// The JPEG as Pillow decoded it: the resize and the caffe mode exactly.
	dec, err := os.ReadFile(in + "rocket.decoded.rgb8")
	if err != nil {
		t.Fatal(err)
	}
	src := &imagenet.RGB{W: 640, H: 427, Pix: dec}
	if len(dec) != 3*640*427 {
		t.Fatalf("rocket.decoded.rgb8 has %d bytes", len(dec))
	}
	small := Resize(src, Size, Size)
	want, err := os.ReadFile(in + "rocket.rgb8")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(small.Pix, want) {
		t.Error("rocket: the NEAREST resize of Pillow's pixels differs from Pillow's")
	}
	if d := maxAbs(Input(small, Caffe), chw(graphtest.ReadF32(t, in+"rocket.nhwc.f32"))); d != 0 {
		t.Errorf("rocket: caffe mode differs from Keras' by %g", d)
	}
}

// Pillow's running sum, not floor((i + 0.5)·s), picks the source pixels:
// for 512 → 224 they differ at 3, 10, 17, 24, 80 (the fixtures' README).
func TestNearestRunningSum(t *testing.T) {
	idx := nearest(512, 224)
	s := 512.0 / 224
	var differ []int
	for i, v := range idx {
		if v != int(math.Floor((float64(i)+0.5)*s)) {
			differ = append(differ, i)
		}
	}
	if got := fmt.Sprint(differ[:5]); got != "[3 10 17 24 80]" {
		t.Errorf("positions that differ from floor((i+0.5)s): %s…, want [3 10 17 24 80]", got)
	}
	for _, c := range [][2]int{{1, 224}, {224, 224}, {7, 3}, {4096, 224}} {
		for i, v := range nearest(c[0], c[1]) {
			if v < 0 || v >= c[0] {
				t.Errorf("%d → %d: position %d takes %d", c[0], c[1], i, v)
			}
		}
	}
}

// tf mode scales to [-1, 1] in R, G, B order; caffe mode is B, G, R minus
// Keras' means.
func TestModes(t *testing.T) {
	src := &imagenet.RGB{W: 1, H: 1, Pix: []uint8{0, 255, 51}}
	if got := fmt.Sprint(Input(src, TF)); got != "[-1 1 -0.6]" {
		t.Errorf("tf mode: %s", got)
	}
	if got, want := Input(src, Caffe), []float32{51 - 103.939, 255 - 116.779, 0 - 123.68}; maxAbs(got, want) > 3e-5 { // a float32 step at 138
		t.Errorf("caffe mode: %v, want %v", got, want)
	}
	if (Arch{V2: true}).Mode() != TF || (Arch{}).Mode() != Caffe {
		t.Error("V1 takes caffe mode, V2 tf mode")
	}
}

func maxAbs(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}
