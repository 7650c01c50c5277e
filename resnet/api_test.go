package resnet_test

import (
	"context"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/resnet"
)

// Bad arguments to the API are errors, never panics: a bad k, nil and
// empty images, calls after Close and on a Model that Load did not make.
func TestAPIBadArguments(t *testing.T) {
	m, err := resnet.Load(context.Background(), "resnet18", "synthetic:0", resnet.Options{Exec: &countingExec{}})
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for _, c := range []struct {
		name string
		imgs []image.Image
		k    int
		want string
	}{
		{"k=-1", []image.Image{img}, -1, "top -1"},
		{"k=0", []image.Image{img}, 0, "top 0"},
		{"nil image", []image.Image{img, nil}, 1, "image 1: resnet: empty image"},
		{"empty image", []image.Image{image.NewRGBA(image.Rect(3, 3, 3, 9))}, 1, "empty image"},
	} {
		if _, err := m.Classify(c.imgs, c.k); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if p := m.TopK([]float32{0.1, 0.9}, -3); len(p) != 0 {
		t.Errorf("TopK(-3) = %v, want none", p)
	}
	if p := m.TopK([]float32{0.1, 0.9}, 5); len(p) != 2 || p[0].Index != 1 {
		t.Errorf("TopK(5) of 2 = %v", p)
	}
	// The stand-in executor's logits are the first input values.
	nan := make([]float32, m.InputSize())
	nan[1005] = float32(math.NaN())
	if _, _, err := m.Forward([][]float32{nan, make([]float32, m.InputSize())}); err == nil || !strings.Contains(err.Error(), "input 1: logit 5 is NaN") {
		t.Errorf("Forward with a NaN output: %v", err)
	}
	m.Close()
	m.Close() // twice is harmless
	if _, err := m.Classify([]image.Image{img}, 1); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Classify after Close: %v", err)
	}
	if _, _, err := m.Forward([][]float32{make([]float32, m.InputSize())}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Forward after Close: %v", err)
	}
	var zero resnet.Model
	if _, err := zero.Classify([]image.Image{img}, 1); err == nil {
		t.Error("Classify on a zero Model: no error")
	}
	if _, _, err := zero.Forward([][]float32{{1}}); err == nil {
		t.Error("Forward on a zero Model: no error")
	}
	if _, err := zero.Program(1); err == nil {
		t.Error("Program on a zero Model: no error")
	}
	if _, err := zero.Preprocess(img); err == nil {
		t.Error("Preprocess on a zero Model: no error")
	}
	if p := zero.TopK([]float32{1}, 1); len(p) != 1 || p[0].Label != "class 0" {
		t.Errorf("TopK on a zero Model: %v", p)
	}
	zero.Close()
}
