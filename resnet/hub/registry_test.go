package hub

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		arch, version string
		name, file    string
		resize        int
		acc1          float64
		params        int
	}{
		{"resnet18", "", "ResNet18_Weights.IMAGENET1K_V1", "resnet18-f37072fd.pth", 256, 69.758, 11689512},
		{"resnet18", "v1", "ResNet18_Weights.IMAGENET1K_V1", "resnet18-f37072fd.pth", 256, 69.758, 11689512},
		{"resnet34", "v1", "ResNet34_Weights.IMAGENET1K_V1", "resnet34-b627a593.pth", 256, 73.314, 21797672},
		{"resnet50", "v1", "ResNet50_Weights.IMAGENET1K_V1", "resnet50-0676ba61.pth", 256, 76.13, 25557032},
		{"resnet50", "v2", "ResNet50_Weights.IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 232, 80.858, 25557032},
		{"resnet101", "", "ResNet101_Weights.IMAGENET1K_V1", "resnet101-63fe2227.pth", 256, 77.374, 44549160},
		{"resnet101", "v2", "ResNet101_Weights.IMAGENET1K_V2", "resnet101-cd907fc2.pth", 232, 81.886, 44549160},
		{"resnet152", "v1", "ResNet152_Weights.IMAGENET1K_V1", "resnet152-394f9c45.pth", 256, 78.312, 60192808},
		{"resnet152", "v2", "ResNet152_Weights.IMAGENET1K_V2", "resnet152-f82ba261.pth", 232, 82.284, 60192808},
		{"ResNet50", "IMAGENET1K_V2", "ResNet50_Weights.IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 232, 80.858, 25557032},
	}
	for _, tt := range tests {
		w, err := Lookup(tt.arch, tt.version)
		if err != nil {
			t.Errorf("Lookup(%q, %q): %v", tt.arch, tt.version, err)
			continue
		}
		if w.Name != tt.name || w.File != tt.file || w.ResizeSize != tt.resize ||
			w.Acc1 != tt.acc1 || w.NumParams != tt.params {
			t.Errorf("Lookup(%q, %q) = %+v", tt.arch, tt.version, w)
		}
		if w.URL != DefaultBase+w.File {
			t.Errorf("%s: URL %q is not DefaultBase+File", w.Name, w.URL)
		}
		if want := strings.TrimSuffix(w.File[strings.LastIndex(w.File, "-")+1:], ".pth"); w.Hash != want || len(w.Hash) != 8 {
			t.Errorf("%s: Hash %q, want %q", w.Name, w.Hash, want)
		}
		if w.Arch != strings.ToLower(tt.arch) || (w.Version != "v1" && w.Version != "v2") {
			t.Errorf("%s: Arch %q Version %q", w.Name, w.Arch, w.Version)
		}
		if w.Acc5 <= w.Acc1 || w.FileSizeMB < 40 {
			t.Errorf("%s: Acc5 %v FileSizeMB %v", w.Name, w.Acc5, w.FileSizeMB)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	tests := []struct {
		arch, version string
		want          []string
	}{
		{"resnet18", "v2", []string{"resnet18", `"v2"`, "v1"}},
		{"resnet34", "v2", []string{"resnet34", "v1"}},
		{"resnet50", "v3", []string{"resnet50", "v1, v2"}},
		{"resnet20", "", []string{`"resnet20"`, "resnet18, resnet34, resnet50, resnet101, resnet152"}},
		{"", "", []string{"unknown arch"}},
	}
	for _, tt := range tests {
		_, err := Lookup(tt.arch, tt.version)
		if err == nil {
			t.Errorf("Lookup(%q, %q) succeeded", tt.arch, tt.version)
			continue
		}
		for _, s := range tt.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Lookup(%q, %q) error %q lacks %q", tt.arch, tt.version, err, s)
			}
		}
	}
}

func TestAll(t *testing.T) {
	all := All()
	var got []string
	for _, w := range all {
		got = append(got, w.Arch+" "+w.Version)
	}
	want := "resnet18 v1,resnet34 v1,resnet50 v1,resnet50 v2,resnet101 v1,resnet101 v2,resnet152 v1,resnet152 v2"
	if strings.Join(got, ",") != want {
		t.Errorf("All() = %v, want %v", got, want)
	}
	all[0].File = "changed"
	if All()[0].File == "changed" {
		t.Error("All returns the registry itself, not a copy")
	}
}

// TestEmbeddedMatchesTestdata keeps the embedded copy of the registry in
// step with the one in the repository's testdata.
func TestEmbeddedMatchesTestdata(t *testing.T) {
	ref, err := os.ReadFile(filepath.Join("..", "..", "testdata", "imagenet", "torchvision_resnet_weights.json"))
	if err != nil {
		t.Skipf("no reference copy: %v", err)
	}
	if !bytes.Equal(ref, registryJSON) {
		t.Error("resnet/hub/torchvision_resnet_weights.json differs from testdata/imagenet/; copy it over")
	}
}

func TestParseRegistryErrors(t *testing.T) {
	for _, bad := range []string{
		`[]`,
		`{"Bogus": {}}`,
		`{"ResNet18_Weights.IMAGENET1K_V1": {"url": "https://x/resnet18.pth", "transforms": "resize_size=[256]"}}`,
		`{"ResNet18_Weights.IMAGENET1K_V1": {"url": "https://x/resnet18-abcd.pth", "transforms": "crop"}}`,
		`{"ResNet18_Weights.IMAGENET1K_V1": {"url": "https://x/resnet18-abcd.pth", "transforms": "resize_size=[256]"}}`,
	} {
		if _, err := parseRegistry([]byte(bad)); err == nil {
			t.Errorf("parseRegistry(%s) succeeded", bad)
		}
	}
}

func TestFileHash(t *testing.T) {
	for file, want := range map[string]string{
		"resnet50-11ad3fa6.pth":     "11ad3fa6",
		"my-resnet50-0676ba61.pth":  "0676ba61",
		"resnet18-f37072fd.pth":     "f37072fd",
		"resnet18.pth":              "",
		"resnet18-F37072FD.pth":     "",
		"resnet18-f37072fd.pt":      "",
		"resnet18-.pth":             "",
		"resnet18-f37072fd.pth.tmp": "",
	} {
		got, err := FileHash(file)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("FileHash(%q) = %q, %v; want %q", file, got, err, want)
		}
	}
}
