package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const ftDir = "../../testdata/finetune"

// ftReference is testdata/finetune/tiny-ft.json, written by
// check_torch.py after loading tiny-ft.pth in PyTorch.
type ftReference struct {
	Command string      `json:"command"`
	SHA256  string      `json:"pth_sha256"`
	Labels  []string    `json:"labels"`
	Images  []string    `json:"images"`
	Logits  [][]float64 `json:"image_logits"`
	Top1    []int       `json:"image_top1"`
}

// finetune on the CPU path writes, byte for byte, the .pth that PyTorch
// loaded (torch.load(weights_only=True), strict load_state_dict) for
// check_torch.py, and its labels; classify on that file gives PyTorch's
// logits.
func TestFinetuneTorch(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(ftDir, "tiny-ft.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref ftReference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "tiny-ft.pth")
	args := strings.Fields(ref.Command)
	for i, a := range args {
		switch {
		case a == "--out":
			args[i+1] = out
		case strings.HasPrefix(a, "testdata/"):
			args[i] = "../../" + a
		}
	}
	stdout, e, c := cli(t, nil, args...)
	if c != 0 {
		t.Fatalf("exit %d: %s", c, e)
	}
	if n := strings.Count(stdout, "\nepoch "); n != 10 || !strings.Contains(stdout, "val acc") {
		t.Errorf("%d epoch lines:\n%s", n, stdout)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(got)
	if hex.EncodeToString(sum[:]) != ref.SHA256 {
		t.Errorf("the .pth has sha256 %x, the one PyTorch checked %s", sum, ref.SHA256)
	}
	labels, err := os.ReadFile(strings.TrimSuffix(out, ".pth") + ".labels.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(labels) != strings.Join(ref.Labels, "\n")+"\n" {
		t.Errorf("labels file %q, want %v", labels, ref.Labels)
	}

	cargs := []string{"classify", "--device", "cpu", "--weights", out, "--labels", strings.TrimSuffix(out, ".pth") + ".labels.txt", "--json", "--logits", "--top", "1"}
	for _, img := range ref.Images {
		cargs = append(cargs, "../../testdata/inputs/"+strings.TrimSuffix(img, filepath.Ext(img))+".3x224x224.f32")
	}
	stdout, e, c = cli(t, nil, cargs...)
	if c != 0 {
		t.Fatalf("classify: exit %d: %s", c, e)
	}
	var res classifyJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if len(res.Results) != len(ref.Images) {
		t.Fatalf("%d results for %d inputs", len(res.Results), len(ref.Images))
	}
	for i, r := range res.Results {
		if len(r.Logits) != 3 || r.Top[0].Index != ref.Top1[i] || r.Top[0].Label != ref.Labels[ref.Top1[i]] {
			t.Errorf("%s: top %+v, logits %v; PyTorch's top class %d", ref.Images[i], r.Top, r.Logits, ref.Top1[i])
			continue
		}
		var num, den float64
		for k, v := range r.Logits {
			num = math.Max(num, math.Abs(v-ref.Logits[i][k]))
			den = math.Max(den, math.Abs(ref.Logits[i][k]))
		}
		if num/den > 1e-5 {
			t.Errorf("%s: logits %v, PyTorch %v: relative error %.2e", ref.Images[i], r.Logits, ref.Logits[i], num/den)
		}
	}
}

// Bad flags and data folders are one clear error line each, before any
// training.
func TestFinetuneErrors(t *testing.T) {
	dir := t.TempDir()
	one := filepath.Join(dir, "one", "a")
	if err := os.MkdirAll(one, 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(filepath.Join(ftDir, "data", "cat", "cat-00.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(one, "x.jpg"), img, 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(ftDir, "data")
	base := []string{"finetune", "--device", "cpu", "--weights", tinyPth, "--out", filepath.Join(dir, "m.pth")}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "no --data folder given"},
		{[]string{"--data", data, "extra"}, 2, "unexpected arguments"},
		{[]string{"--data", data, "--optimizer", "lbfgs"}, 2, `--optimizer "lbfgs"`},
		{[]string{"--data", data, "--epochs", "0"}, 2, "0 epochs"},
		{[]string{"--data", data, "--batch", "-1"}, 2, "batch of -1"},
		{[]string{"--data", data, "--lr", "0"}, 2, "learning rate 0"},
		{[]string{"--data", data, "--momentum", "1"}, 2, "momentum 1"},
		{[]string{"--data", data, "--val", "1"}, 2, "validation fraction 1"},
		{[]string{"--data", data, "--cache-mb", "-1"}, 2, "--cache-mb -1"},
		{[]string{"--data", data, "--out", "model.bin"}, 2, "want a .pth file"},
		{[]string{"--data", data, "--out", filepath.Join(dir, "none", "m.pth")}, 1, "no folder"},
		{[]string{"--data", filepath.Join(dir, "missing")}, 1, "missing"},
		{[]string{"--data", filepath.Join(dir, "one")}, 1, "1 class folders, want at least 2"},
		{[]string{"--data", data, "--train-stage"}, 1, "training the last stage needs a ResNet"},
	} {
		_, e, code := cli(t, nil, append(append([]string(nil), base...), c.args...)...)
		oneErrorLine(t, e, code, c.code, c.want)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.pth")); err == nil {
		t.Error("a failed finetune wrote its output")
	}
}

// An image whose pixels are cut off (its header is sound, so the folder
// passes the first check) stops the run when an epoch reaches it: one
// error line naming it, exit 1, and neither the .pth nor the labels file
// written.
func TestFinetuneCorruptImage(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	for _, class := range []string{"cat", "coffee"} {
		if err := os.MkdirAll(filepath.Join(data, class), 0o755); err != nil {
			t.Fatal(err)
		}
		for k := range 3 {
			name := fmt.Sprintf("%s-%02d.jpg", class, k)
			b, err := os.ReadFile(filepath.Join(ftDir, "data", class, name))
			if err != nil {
				t.Fatal(err)
			}
			if class == "coffee" && k == 1 {
				b = b[:len(b)*2/3]
			}
			if err := os.WriteFile(filepath.Join(data, class, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := filepath.Join(dir, "m.pth")
	stdout, e, code := cli(t, nil, "finetune", "--device", "cpu", "--weights", tinyPth, "--data", data, "--epochs", "1", "--val", "0", "--out", out)
	oneErrorLine(t, e, code, 1, filepath.Join(data, "coffee", "coffee-01.jpg"))
	if !strings.HasPrefix(stdout, "fine-tuning the head") {
		t.Errorf("the run did not start: stdout %q", stdout)
	}
	for _, f := range []string{out, labelsPath(out)} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("the failed run wrote %s", f)
		}
	}
}

// The labels file sits beside the model.
func TestLabelsPath(t *testing.T) {
	for in, want := range map[string]string{"model.pth": "model.labels.txt", "out/x.y.pth": "out/x.y.labels.txt"} {
		if got := labelsPath(in); got != want {
			t.Errorf("labelsPath(%q) = %q, want %q", in, got, want)
		}
	}
}
