package main

import (
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The text table has a row per layer and torchvision's totals (resnet18:
// 11,689,512 parameters, 1.81 G multiply-adds).
func TestSummaryText(t *testing.T) {
	out, e, c := cli(t, nil, "summary", "--arch", "resnet18")
	if c != 0 {
		t.Fatalf("exit %d: %s", c, e)
	}
	for _, re := range []string{
		`(?m)^resnet18, weights none \(shapes only\)$`,
		`(?m)^Layer +Op +Attributes +Output shape +Params +Mult-adds$`,
		`(?m)^conv1 +conv2d +c=3,o=64,k=7x7,s=2,p=3 +1x64x112x112 +9,408 +118,013,952$`,
		`(?m)^layer2\.0\.downsample\.0 +conv2d .* 1x128x28x28 +8,192 +6,422,528$`,
		`(?m)^fc +linear +in=512,out=1000 +1x1000 +513,000 +512,000$`,
		`(?m)^Total parameters: +11,689,512$`,
		`(?m)^Multiply-adds: +1\.81 G \(1,814,073,344\)$`,
		`(?m)^Input size: +1x3x224x224: 0\.60 MB \(602,112 bytes\)$`,
		`(?m)^Peak activations: +[0-9.]+ MB`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
}

type summaryOut struct {
	Arch, Weights string
	Inputs        [][]int
	Layers        []struct {
		Name, Kind, Attrs string
		Out               []int
		Params, MACs      int64
	}
	Params, MACs    int64
	InputBytes      int64 `json:"input_bytes"`
	ActivationBytes int64 `json:"activation_bytes"`
	PeakBytes       int64 `json:"peak_bytes"`
}

// runSummaryJSON runs summary --json with args and decodes its output.
func runSummaryJSON(t *testing.T, args ...string) summaryOut {
	t.Helper()
	out, e, c := cli(t, nil, append([]string{"summary", "--json"}, args...)...)
	if c != 0 {
		t.Fatalf("exit %d: %s", c, e)
	}
	var s summaryOut
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	return s
}

// --json prints the same as one object: torchvision's 25,557,032
// parameters for resnet50 and torchinfo's 4.09 G multiply-adds.
func TestSummaryJSON(t *testing.T) {
	s := runSummaryJSON(t, "--arch", "resnet50")
	if s.Arch != "resnet50" || s.Params != 25_557_032 || math.Abs(float64(s.MACs)/1e9-4.09) > 0.005 {
		t.Errorf("arch %q, %d parameters, %d multiply-adds", s.Arch, s.Params, s.MACs)
	}
	var params int64
	for _, l := range s.Layers {
		params += l.Params
	}
	if params != s.Params || len(s.Layers) < 150 || s.Layers[0].Name != "conv1" || !slices.Equal(s.Layers[0].Out, []int{1, 64, 112, 112}) {
		t.Errorf("%d layers holding %d parameters, first %+v", len(s.Layers), params, s.Layers[0])
	}
	if s.InputBytes != 4*3*224*224 || s.PeakBytes <= s.InputBytes || s.PeakBytes >= s.ActivationBytes {
		t.Errorf("input %d bytes, activations %d, peak %d", s.InputBytes, s.ActivationBytes, s.PeakBytes)
	}
	// Another input size changes the shapes, not the parameters.
	s = runSummaryJSON(t, "--arch", "resnet18", "--batch", "2", "--size", "160")
	if !slices.EqualFunc(s.Inputs, [][]int{{2, 3, 160, 160}}, slices.Equal) || !slices.Equal(s.Layers[0].Out, []int{2, 64, 80, 80}) || s.Params != 11_689_512 {
		t.Errorf("inputs %v, conv1 %v, %d parameters", s.Inputs, s.Layers[0].Out, s.Params)
	}
}

func TestSummaryBadUsage(t *testing.T) {
	_, e, c := cli(t, nil, "summary", "--bogus")
	oneErrorLine(t, e, c, 2, "flag provided but not defined: -bogus")
	_, e, c = cli(t, nil, "summary", "--size", "0")
	oneErrorLine(t, e, c, 2, "--size 0: want 1..8192")
	_, e, c = cli(t, nil, "summary", "--batch", "0")
	oneErrorLine(t, e, c, 2, "--batch 0")
	_, e, c = cli(t, nil, "summary", "resnet50")
	oneErrorLine(t, e, c, 2, `unexpected argument "resnet50"`)
	_, e, c = cli(t, nil, "summary", "--arch", "resnet20")
	oneErrorLine(t, e, c, 1, `unknown architecture "resnet20"`)
	_, e, c = cli(t, nil, "summary", "--arch", "resnet50", "--weights", "../../testdata/pth/resnet18-stem-layer1-synthetic-seed0.zip.pth")
	oneErrorLine(t, e, c, 1, "do not fit resnet50")
	if out, _, _ := cli(t, nil, "summary", "--bogus"); strings.Contains(out, "Total parameters") {
		t.Errorf("a bad flag still printed a summary:\n%s", out)
	}
}
