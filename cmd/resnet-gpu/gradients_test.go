package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gradients --json gives both networks' layers in forward order with
// finite positive norms, writes the plot and the export files.
func TestGradientsJSON(t *testing.T) {
	dir := t.TempDir()
	png := filepath.Join(dir, "g.png")
	out, e, c := cli(t, nil, "gradients", "--arch", "resnet20", "--size", "16", "--compare-plain", "--json",
		"--plot", png, "--export", dir, "../../testdata/images")
	if c != 0 {
		t.Fatalf("exit %d: %s", c, e)
	}
	var rep gradReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.ResNet == nil || rep.Plain == nil {
		t.Fatalf("want both networks: %s", out)
	}
	for _, n := range []*gradNet{rep.ResNet, rep.Plain} {
		want := 22 // 19 convolutions, 2 projections, fc
		if n == rep.Plain {
			want = 20
		}
		if len(n.Layers) != want || n.Layers[0].Name != "conv1" || n.Layers[1].Name != "layer1.0.conv1" || n.Layers[len(n.Layers)-1].Name != "fc" {
			t.Errorf("%s: %d layers from %v: want %d, conv1 … fc in forward order", n.Name, len(n.Layers), n.Layers[0].Name, want)
		}
		for _, l := range n.Layers {
			if !(l.WeightGradNorm > 0 && l.ActivationGradNorm > 0) || math.IsInf(l.WeightGradNorm+l.ActivationGradNorm, 0) {
				t.Errorf("%s %s: norms %v, %v", n.Name, l.Name, l.WeightGradNorm, l.ActivationGradNorm)
			}
			if n == rep.Plain && strings.Contains(l.Name, "downsample") {
				t.Errorf("%s has a projection %s", n.Name, l.Name)
			}
		}
		if !(n.Loss > 0) {
			t.Errorf("%s: loss %v", n.Name, n.Loss)
		}
	}
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("plot: %v, not a PNG", err)
	}
	for _, name := range []string{"resnet20.bin", "plain20.bin"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(bytes.NewReader(b)).ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		var h exportHeader
		if err := json.Unmarshal(line, &h); err != nil {
			t.Fatal(err)
		}
		n := 4 * 3 * 16 * 16
		for _, x := range h.Tensors {
			k := 1
			for _, d := range x.Shape {
				k *= d
			}
			n += k
		}
		if len(b)-len(line) != 4*n {
			t.Errorf("%s: %d bytes after the header, want %d", name, len(b)-len(line), 4*n)
		}
	}
}

// The table names every layer once, with the plain network's columns.
func TestGradientsTable(t *testing.T) {
	out, e, c := cli(t, nil, "gradients", "--arch", "resnet20", "--size", "8", "--compare-plain", "../../testdata/images")
	if c != 0 {
		t.Fatalf("exit %d: %s", c, e)
	}
	if !strings.Contains(out, "plain ‖∂L/∂W‖") || strings.Count(out, "layer3.2.conv2") != 1 || !strings.Contains(out, "layer2.0.downsample.0") {
		t.Errorf("table:\n%s", out)
	}
}

func TestGradientsBadUsage(t *testing.T) {
	img := "../../testdata/images/chelsea.png"
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"gradients"}, 2, "no images"},
		{[]string{"gradients", img}, 2, "at least 2"},
		{[]string{"gradients", "--size", "4", img, img}, 2, "--size 4"},
		{[]string{"gradients", "--plot", "x.jpg", img, img}, 2, ".png or .svg"},
		{[]string{"gradients", "--arch", "resnet101", "--size", "8", img, img}, 2, "no training graph"},
		{[]string{"gradients", "--size", "8", img, "missing.png"}, 1, "missing.png"},
		{[]string{"gradients", "--device", "tpu", img, img}, 2, "--device"},
	} {
		_, e, code := cli(t, nil, c.args...)
		oneErrorLine(t, e, code, c.code, c.want)
	}
}

// check-ops --grad runs the gradient checks on the adapter: finite
// differences and GPU against CPU for each case the filter keeps.
func TestCheckOpsGrad(t *testing.T) {
	out, e, c := cli(t, nil, "check-ops", "--grad", "--filter", "batchnorm_train")
	if c != 0 {
		if os.Getenv("CI") == "" && strings.Contains(e, "no WebGPU adapter") {
			t.Skip("no GPU adapter")
		}
		t.Fatalf("exit %d: %s\n%s", c, e, out)
	}
	if !strings.Contains(out, "2 passed, 0 failed") || !strings.Contains(out, "gpu vs cpu") || strings.Contains(out, "conv2d") {
		t.Errorf("unexpected output:\n%s", out)
	}
	_, e, c = cli(t, nil, "check-ops", "--grad", "--filter", "nothing-like-this")
	if c != 2 || !strings.Contains(e, "no gradient case matches") {
		t.Errorf("a filter matching nothing: exit %d, %q", c, e)
	}
}
