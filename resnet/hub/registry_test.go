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
		{"resnext50_32x4d", "v1", "ResNeXt50_32X4D_Weights.IMAGENET1K_V1", "resnext50_32x4d-7cdf4587.pth", 256, 77.618, 25028904},
		{"resnext50_32x4d", "v2", "ResNeXt50_32X4D_Weights.IMAGENET1K_V2", "resnext50_32x4d-1a0047aa.pth", 232, 81.198, 25028904},
		{"resnext101_32x8d", "v1", "ResNeXt101_32X8D_Weights.IMAGENET1K_V1", "resnext101_32x8d-8ba56ff5.pth", 256, 79.312, 88791336},
		{"resnext101_32x8d", "v2", "ResNeXt101_32X8D_Weights.IMAGENET1K_V2", "resnext101_32x8d-110c445d.pth", 232, 82.834, 88791336},
		{"resnext101_64x4d", "", "ResNeXt101_64X4D_Weights.IMAGENET1K_V1", "resnext101_64x4d-173b62eb.pth", 232, 83.246, 83455272},
		{"wide_resnet50_2", "v1", "Wide_ResNet50_2_Weights.IMAGENET1K_V1", "wide_resnet50_2-95faca4d.pth", 256, 78.468, 68883240},
		{"wide_resnet50_2", "v2", "Wide_ResNet50_2_Weights.IMAGENET1K_V2", "wide_resnet50_2-9ba9bcbe.pth", 232, 81.602, 68883240},
		{"wide_resnet101_2", "v1", "Wide_ResNet101_2_Weights.IMAGENET1K_V1", "wide_resnet101_2-32ee1156.pth", 256, 78.848, 126886696},
		{"wide_resnet101_2", "v2", "Wide_ResNet101_2_Weights.IMAGENET1K_V2", "wide_resnet101_2-d733dc28.pth", 232, 82.51, 126886696},
		{"densenet121", "v1", "DenseNet121_Weights.IMAGENET1K_V1", "densenet121-a639ec97.pth", 256, 74.434, 7978856},
		{"densenet161", "", "DenseNet161_Weights.IMAGENET1K_V1", "densenet161-8d451a50.pth", 256, 77.138, 28681000},
		{"DenseNet169", "v1", "DenseNet169_Weights.IMAGENET1K_V1", "densenet169-b2777c0a.pth", 256, 75.6, 14149480},
		{"densenet201", "IMAGENET1K_V1", "DenseNet201_Weights.IMAGENET1K_V1", "densenet201-c1103571.pth", 256, 76.896, 20013928},
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
	}
}

// Every entry is consistent: torchvision's URL and file name, a crop of
// 224, ImageNet's classes, and a file size that fits the parameter count
// at 4 bytes a parameter (2 for the half-precision v1 Wide ResNets) with a
// little room for the batch-norm statistics and the pickle.
func TestRegistryConsistent(t *testing.T) {
	for _, w := range All() {
		if w.URL != DefaultBase+w.File || !strings.HasPrefix(w.File, w.Arch+"-") || len(w.Hash) != 8 {
			t.Errorf("%s: URL %q, file %q, hash %q", w.Name, w.URL, w.File, w.Hash)
		}
		if w.CropSize != 224 || (w.ResizeSize != 256 && w.ResizeSize != 232) || w.Categories != "ImageNet-1K" {
			t.Errorf("%s: crop %d, resize %d, categories %q", w.Name, w.CropSize, w.ResizeSize, w.Categories)
		}
		if want := map[bool]int{true: 29, false: 1}[strings.HasPrefix(w.Arch, "densenet")]; w.MinSize != want {
			t.Errorf("%s: MinSize %d, want %d", w.Name, w.MinSize, want)
		}
		if w.Acc5 <= w.Acc1 || w.Acc1 < 69 || w.GOps < 1.8 {
			t.Errorf("%s: Acc1 %v Acc5 %v GOps %v", w.Name, w.Acc1, w.Acc5, w.GOps)
		}
		perParam := w.FileSizeMB * (1 << 20) / float64(w.NumParams)
		half := strings.HasPrefix(w.Arch, "wide_") && w.Version == "v1"
		if lo := map[bool]float64{true: 2, false: 4}[half]; perParam < lo || perParam > lo*1.05 {
			t.Errorf("%s: %v MiB for %d parameters is %.3f bytes each, want %v to %v", w.Name, w.FileSizeMB, w.NumParams, perParam, lo, lo*1.05)
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
		{"densenet121", "v2", []string{"densenet121", `"v2"`, "torchvision has v1"}},
		{"resnext101_64x4d", "v2", []string{"torchvision has v1"}},
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
	want := "resnet18 v1,resnet34 v1,resnet50 v1,resnet50 v2,resnet101 v1,resnet101 v2,resnet152 v1,resnet152 v2," +
		"resnext50_32x4d v1,resnext50_32x4d v2,resnext101_32x8d v1,resnext101_32x8d v2,resnext101_64x4d v1," +
		"wide_resnet50_2 v1,wide_resnet50_2 v2,wide_resnet101_2 v1,wide_resnet101_2 v2," +
		"densenet121 v1,densenet161 v1,densenet169 v1,densenet201 v1"
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
	ref, err := os.ReadFile(filepath.Join("..", "..", "testdata", "imagenet", "torchvision_weights.json"))
	if err != nil {
		t.Skipf("no reference copy: %v", err)
	}
	if !bytes.Equal(ref, registryJSON) {
		t.Error("resnet/hub/torchvision_weights.json differs from testdata/imagenet/; copy it over")
	}
}

func TestParseRegistryErrors(t *testing.T) {
	good := `"url": "https://x/resnet18-abcd.pth", "num_params": 10, "metrics": {"ImageNet-1K": {"acc@1": 1, "acc@5": 2}},
		"ops": 1, "file_size": 1, "min_size": [1, 1], "categories": "ImageNet-1K", "transforms": "crop_size=[224] resize_size=[256]"`
	if ws, err := parseRegistry([]byte(`{"ResNet18_Weights.IMAGENET1K_V1": {` + good + `}}`)); err != nil || len(ws) != 1 || ws[0].CropSize != 224 || ws[0].ResizeSize != 256 {
		t.Fatalf("parseRegistry(a good entry) = %+v, %v", ws, err)
	}
	for _, tt := range []struct{ name, fields, want string }{
		{"Bogus", good, "unexpected name"},
		{"ResNet18_Weights.IMAGENET1K_V1", strings.Replace(good, "resnet18-abcd", "resnet18", 1), "not NAME-HASH.pth"},
		{"ResNet18_Weights.IMAGENET1K_V1", strings.Replace(good, "resnet18-abcd", "resnet34-abcd", 1), "not named after resnet18"},
		{"MobileNet2_Weights.IMAGENET1K_V1", strings.Replace(good, "resnet18-abcd", "mobilenet2-abcd", 1), "unknown architecture family"},
		{"ResNet18_Weights.IMAGENET1K_V1", strings.Replace(good, "resize_size=[256]", "", 1), "no resize_size"},
		{"ResNet18_Weights.IMAGENET1K_V1", strings.Replace(good, "crop_size=[224]", "", 1), "no crop_size"},
		{"ResNet18_Weights.IMAGENET1K_V1", strings.Replace(good, "crop_size=[224]", "crop_size=[0]", 1), "bad size"},
		{"ResNet18_Weights.IMAGENET1K_V1", strings.Replace(good, "ImageNet-1K\": {", "ImageNet-21K\": {", 1), "no ImageNet-1K metrics"},
		{"ResNet18_Weights.IMAGENET1K_V1", strings.Replace(good, `"ops": 1`, `"ops": null`, 1), "ops 0"},
		{"ResNet18_Weights.IMAGENET1K_V1", strings.Replace(good, `"file_size": 1`, `"file_size": 0`, 1), "file_size 0"},
		{"ResNet18_Weights.IMAGENET1K_V1", strings.Replace(good, `"num_params": 10`, `"num_params": -1`, 1), "num_params -1"},
		{"ResNet18_Weights.IMAGENET1K_V1", strings.Replace(good, `[1, 1]`, `[1, 2]`, 1), "min_size [1 2]"},
		{"ResNet18_Weights.IMAGENET1K_V1", strings.Replace(good, `"categories": "ImageNet-1K"`, `"categories": "VOC"`, 1), `categories "VOC"`},
	} {
		_, err := parseRegistry([]byte(`{"` + tt.name + `": {` + tt.fields + `}}`))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseRegistry(%s: %s): %v, want %q", tt.name, tt.fields, err, tt.want)
		}
	}
	if _, err := parseRegistry([]byte(`[]`)); err == nil {
		t.Error("parseRegistry([]) succeeded")
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
