package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

const (
	tinyPth    = "../../testdata/tiny/densenet-tiny-c3.pth"
	tinyLabels = "../../testdata/tiny/densenet-tiny-c3.txt"
	tinyArch   = "densenet(growth=8, blocks=[2 2 2 2], init=16, bn_size=2) with 3 classes"
)

// A fine-tuned model's file alone gives its architecture and head; its
// labels file names the classes; the logits are PyTorch's (chelsea.png
// through our Pillow-exact preprocessing).
func TestClassifyFineTuned(t *testing.T) {
	b, err := os.ReadFile("../../testdata/tiny/densenet-tiny-c3.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Images []string    `json:"images"`
		Logits [][]float64 `json:"image_logits"`
		Top1   []int       `json:"image_top1"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	i := -1
	for k, n := range ref.Images {
		if n == "chelsea.png" {
			i = k
		}
	}
	if i < 0 {
		t.Fatal("no chelsea.png in the reference")
	}
	names := []string{"tabby", "espresso", "rocket"}
	for _, withLabels := range []bool{true, false} {
		args := []string{"classify", "--device", "cpu", "--weights", tinyPth, "--json", "--logits", "--top", "3"}
		want := names[ref.Top1[i]]
		if withLabels {
			args = append(args, "--labels", tinyLabels)
		}
		args = append(args, "../../testdata/images/chelsea.png")
		out, e, c := cli(t, nil, args...)
		if c != 0 {
			t.Fatalf("exit %d: %s", c, e)
		}
		var got classifyJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		r := got.Results[0]
		if got.Classes != 3 || len(r.Top) != 3 || len(r.Logits) != 3 {
			t.Fatalf("%d classes, %d top, %d logits; want 3 of each", got.Classes, len(r.Top), len(r.Logits))
		}
		if !withLabels {
			want = fmt.Sprintf("class %d", ref.Top1[i])
		}
		if r.Top[0].Index != ref.Top1[i] || r.Top[0].Label != want {
			t.Errorf("top class %d %q, want %d %q", r.Top[0].Index, r.Top[0].Label, ref.Top1[i], want)
		}
		var num, den float64
		for k, v := range r.Logits {
			num = math.Max(num, math.Abs(v-ref.Logits[i][k]))
			den = math.Max(den, math.Abs(ref.Logits[i][k]))
		}
		if num/den > 1e-5 {
			t.Errorf("logits %v, PyTorch %v: relative error %.2e", r.Logits, ref.Logits[i], num/den)
		}
	}
}

// Wrong labels, a named architecture the file is not, and bad
// preprocessing flags are one error line each.
func TestFineTunedErrors(t *testing.T) {
	dir := t.TempDir()
	two := filepath.Join(dir, "two.txt")
	os.WriteFile(two, []byte("a\nb\n"), 0o644)
	img := "../../testdata/images/chelsea.png"
	base := []string{"classify", "--device", "cpu", "--weights", tinyPth}
	_, e, c := cli(t, nil, append(base, "--labels", two, img)...)
	oneErrorLine(t, e, c, 1, "has 2 labels, the model has 3 classes")
	_, e, c = cli(t, nil, append(base, "--labels", filepath.Join(dir, "none.txt"), img)...)
	oneErrorLine(t, e, c, 1, "none.txt")
	_, e, c = cli(t, nil, append(base, "--arch", "resnet50", img)...)
	oneErrorLine(t, e, c, 1, "do not fit resnet50: this looks like "+tinyArch)
	for _, bad := range [][]string{
		{"--mean", "0.5,0.5"}, {"--std", "0.2,0,0.2"}, {"--mean", "a,b,c"}, {"--crop", "-3"}, {"--resize", "100000"},
	} {
		_, e, c = cli(t, nil, append(append(base, bad...), img)...)
		oneErrorLine(t, e, c, 2, "--"+bad[0][2:])
	}
	_, e, c = cli(t, nil, append(base, "--top", "4", img)...)
	oneErrorLine(t, e, c, 2, "the model has 3 classes")
}
