package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/resnet"
)

// tinyLogits returns PyTorch's logits of the tiny DenseNet per image name
// (testdata/tiny/densenet-tiny-c3.json).
func tinyLogits(t *testing.T) map[string][]float64 {
	t.Helper()
	b, err := os.ReadFile("../../testdata/tiny/densenet-tiny-c3.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Images []string    `json:"images"`
		Logits [][]float64 `json:"image_logits"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for i, n := range ref.Images {
		out[n] = ref.Logits[i]
	}
	return out
}

// photoFolder makes a folder of the test images PyTorch classified, one
// in a subfolder, with a truncated PNG and a text file among them, and
// returns it with the readable images in the order of a sorted walk.
func photoFolder(t *testing.T) (dir string, images []string) {
	t.Helper()
	dir = t.TempDir()
	copyFile := func(from, to string) {
		b, err := os.ReadFile("../../testdata/" + from)
		if err != nil {
			t.Fatal(err)
		}
		if to == "b-cut.png" {
			b = b[:len(b)/3]
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, to)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("images/chelsea.png", "a-chelsea.png")
	copyFile("images/coffee.png", "b-cut.png")
	copyFile("images/coffee.png", "c-coffee.png")
	copyFile("images/astronaut.png", "sub/astronaut.png")
	// rocket.jpg through Pillow's JPEG decoder and our preprocessing; Go's
	// JPEG decoder rounds differently.
	copyFile("inputs/rocket.3x224x224.f32", "sub/rocket.F32")
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a-chelsea.png", "c-coffee.png", "sub/astronaut.png", "sub/rocket.F32"} {
		images = append(images, filepath.Join(dir, n))
	}
	return dir, images
}

// refName is the name of an input of photoFolder in tinyLogits.
func refName(path string) string {
	n := filepath.Base(path)
	if n == "rocket.F32" {
		return "rocket.jpg"
	}
	return strings.TrimPrefix(strings.TrimPrefix(n, "a-"), "c-")
}

// jsonlResult is one line of --format jsonl.
type jsonlResult struct {
	Input string
	Top   []resnet.Prediction
	// Logits, with --logits.
	Logits []float32
}

func parseJSONL(t *testing.T, out string) []jsonlResult {
	t.Helper()
	var rs []jsonlResult
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var r jsonlResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// classify -r on a folder with a corrupt file classifies the others in
// the order of a sorted walk, with PyTorch's logits, names the corrupt
// file and its reason on stderr, counts the skipped text file and exits
// 1; at batch sizes that put the corrupt file inside a batch or not. On
// the GPU, stderr first says that it compiles (not with --quiet, which
// the batch-3 run gives).
func TestClassifyFolder(t *testing.T) {
	ref := tinyLogits(t)
	dir, images := photoFolder(t)
	for _, device := range []string{"cpu", "gpu"} {
		for _, batch := range []string{"1", "3"} {
			t.Run(device+"/batch"+batch, func(t *testing.T) {
				args := []string{"classify", "--device", device, "--weights", tinyPth, "-r", dir, "--batch", batch, "--format", "jsonl", "--logits"}
				quiet := batch == "3"
				if quiet {
					args = append(args, "-q")
				}
				out, e, c := cli(t, nil, args...)
				if device == "gpu" && c != 0 && os.Getenv("CI") == "" && strings.Contains(e, "no WebGPU adapter") {
					t.Skip("no GPU adapter")
				}
				if c != 1 {
					t.Errorf("exit %d, want 1", c)
				}
				wantErr := []string{
					"resnet-gpu classify: imagenet: " + filepath.Join(dir, "b-cut.png") + ": ",
					"skipped 1 file without an image or .f32 extension",
					"1 of 5 inputs failed",
				}
				if device == "gpu" && !quiet {
					wantErr = append([]string{"compiling densenet(growth=8, blocks=[2 2 2 2], init=16, bn_size=2) for batch 1 on gpu: "}, wantErr...)
				}
				lines := strings.Split(strings.TrimSuffix(e, "\n"), "\n")
				if len(lines) != len(wantErr) {
					t.Fatalf("stderr:\n%s\nwant %d lines", e, len(wantErr))
				}
				for i, w := range wantErr {
					if !strings.HasPrefix(lines[i], w) || i == 0 && len(lines[i]) == len(w) {
						t.Errorf("stderr line %q, want %q", lines[i], w)
					}
				}
				rs := parseJSONL(t, out)
				if len(rs) != len(images) {
					t.Fatalf("%d results, want %d:\n%s", len(rs), len(images), out)
				}
				for i, r := range rs {
					if r.Input != images[i] {
						t.Errorf("result %d is %s, want %s", i, r.Input, images[i])
					}
					if e := resnet.RelErr(r.Logits, ref[refName(r.Input)]); !(e <= 1e-5) {
						t.Errorf("%s: logits %v, PyTorch's %v: relative error %.2e", r.Input, r.Logits, ref[refName(r.Input)], e)
					}
				}
			})
		}
	}
}

// Every format prints the same classes and probabilities, in input
// order, and a missing file among the inputs is one error line.
func TestClassifyFormats(t *testing.T) {
	dir, images := photoFolder(t)
	missing := filepath.Join(dir, "gone.png")
	args := []string{"classify", "--device", "cpu", "--weights", tinyPth, "--labels", tinyLabels, "--top", "2", "--batch", "2", images[0], missing, images[1]}
	good := []string{images[0], images[1]}
	run := func(format string) string {
		t.Helper()
		out, e, c := cli(t, nil, append(args, "--format", format)...)
		lines := strings.Split(strings.TrimSuffix(e, "\n"), "\n")
		if c != 1 || len(lines) != 2 || !strings.Contains(lines[0], "imagenet: "+missing+": no such file or directory") || lines[1] != "1 of 3 inputs failed" {
			t.Errorf("--format %s: exit %d, stderr %q", format, c, e)
		}
		return out
	}
	rs := parseJSONL(t, run("jsonl"))
	if len(rs) != 2 || rs[0].Input != good[0] || rs[1].Input != good[1] || len(rs[0].Top) != 2 {
		t.Fatalf("jsonl: %+v", rs)
	}

	var doc struct {
		Arch    string
		Classes int
		Results []jsonlResult
	}
	if err := json.Unmarshal([]byte(run("json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Classes != 3 || fmt.Sprint(doc.Results) != fmt.Sprint(rs) {
		t.Errorf("json: %+v\nwant the results %+v", doc, rs)
	}

	rows, err := csv.NewReader(strings.NewReader(run("csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var want [][]string
	for _, r := range rs {
		for k, p := range r.Top {
			want = append(want, []string{r.Input, strconv.Itoa(k + 1), strconv.Itoa(p.Index), p.Label, p.WNID, strconv.FormatFloat(p.Prob, 'g', -1, 32)})
		}
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "input,rank,index,label,wnid,prob" || fmt.Sprint(rows[1:]) != fmt.Sprint(want) {
		t.Errorf("csv rows %q, want the header and %q", rows, want)
	}

	// text: a block per input; table: a row per class, the input on the first.
	var text, table strings.Builder
	w := min(maxColumn, max(len(images[0]), len(missing), len(images[1])))
	for _, r := range rs {
		fmt.Fprintf(&text, "\n%s\n", r.Input)
		for k, p := range r.Top {
			fmt.Fprintf(&text, "  %d  %-40s %s  %6.2f%%\n", k+1, p.Label, p.WNID, 100*p.Prob)
			in := ""
			if k == 0 {
				in = r.Input
			}
			fmt.Fprintf(&table, "%-*s  %4d  %-8s  %6.2f%%\n", w, in, k+1, p.Label, 100*p.Prob)
		}
	}
	header := tinyArch + ", weights " + tinyPth + ", on cpu reference\n"
	if got := run("text"); got != header+text.String() {
		t.Errorf("text:\n%s\nwant\n%s%s", got, header, text.String())
	}
	tableHead := fmt.Sprintf("%s\n%-*s  RANK  CLASS        PROB\n", header, w, "INPUT")
	if got := run("table"); got != tableHead+table.String() {
		t.Errorf("table:\n%s\nwant\n%s%s", got, tableHead, table.String())
	}
}

// "-" reads the inputs from stdin and --files-from from a file, in the
// order the arguments give.
func TestClassifyLists(t *testing.T) {
	dir, images := photoFolder(t)
	list := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(list, []byte(images[2]+"\n"+filepath.Join(dir, "sub")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, e, c := cliStdin(t, images[1]+"\n"+images[0]+"\n", nil, "classify", "--device", "cpu", "--weights", tinyPth, "--format", "jsonl", "-r",
		images[3], "-", "--files-from", list)
	if c != 0 || e != "" {
		t.Fatalf("exit %d, stderr %q", c, e)
	}
	var got []string
	for _, r := range parseJSONL(t, out) {
		got = append(got, r.Input)
	}
	want := []string{images[3], images[1], images[0], images[2], images[2], images[3]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("inputs\n%v\nwant\n%v", got, want)
	}
}

// Arguments that name nothing to read are reported without loading a
// model (the unreachable mirror would fail a download), and bad output
// flags are usage errors.
func TestClassifyNothingToRead(t *testing.T) {
	dir, _ := photoFolder(t)
	env := []string{"RESNET_GPU_WEIGHTS_BASE=http://127.0.0.1:1/"}
	_, e, c := cli(t, env, "classify", dir)
	oneErrorLine(t, e, c, 1, dir+": is a directory (use -r)")
	_, e, c = cli(t, env, "classify", filepath.Join(dir, "notes.txt"))
	oneErrorLine(t, e, c, 1, `notes.txt: unknown extension ".txt"`)
	_, e, c = cli(t, env, "classify", filepath.Join(dir, "*.gif"))
	oneErrorLine(t, e, c, 1, "*.gif: no such file, and no file matches it")
	_, e, c = cliStdin(t, "\n", env, "classify", "-")
	oneErrorLine(t, e, c, 1, "no inputs: the lists of paths are empty")
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "xml"}, `--format "xml": want one of table, text, jsonl, csv, json`},
		{[]string{"--json", "--format", "csv"}, "--json and --format csv: choose one"},
		{[]string{"--logits", "--format", "csv"}, "--logits needs --json (or --format json or jsonl)"},
	} {
		_, e, c = cli(t, env, append(append([]string{"classify"}, bad.args...), dir)...)
		oneErrorLine(t, e, c, 2, bad.want)
	}
}

// An input whose logits overflow fails alone: its batch runs again an
// input at a time, and the others keep PyTorch's logits.
func TestClassifyOverflow(t *testing.T) {
	ref := tinyLogits(t)
	dir, images := photoFolder(t)
	huge := filepath.Join(dir, "huge.f32")
	b := make([]byte, 4*3*224*224)
	for i := 0; i < len(b); i += 4 {
		copy(b[i:], []byte{0xff, 0xff, 0x7f, 0x7f}) // the largest float32
	}
	if err := os.WriteFile(huge, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, e, c := cli(t, nil, "classify", "--device", "cpu", "--weights", tinyPth, "--batch", "3", "--format", "jsonl", "--logits", images[0], huge, images[1])
	lines := strings.Split(strings.TrimSuffix(e, "\n"), "\n")
	if c != 1 || len(lines) != 2 || !strings.HasPrefix(lines[0], "resnet-gpu classify: "+huge+": resnet: ") || !strings.Contains(lines[0], "overflowed") {
		t.Errorf("exit %d, stderr %q; want 1 and a line naming %s", c, e, huge)
	}
	rs := parseJSONL(t, out)
	if len(rs) != 2 || rs[0].Input != images[0] || rs[1].Input != images[1] {
		t.Fatalf("results %+v, want %s and %s", rs, images[0], images[1])
	}
	for _, r := range rs {
		if e := resnet.RelErr(r.Logits, ref[refName(r.Input)]); !(e <= 1e-5) {
			t.Errorf("%s: logits %v, PyTorch's %v: relative error %.2e", r.Input, r.Logits, ref[refName(r.Input)], e)
		}
	}
}
