package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Torchvision's file names are recognised without reading the files, which
// here are tiny stand-ins.
func TestRecognizeByName(t *testing.T) {
	dir := t.TempDir()
	for file, want := range map[string]string{
		"resnet50-0676ba61.pth":           "ResNet50_Weights.IMAGENET1K_V1",
		"resnet50-11ad3fa6.pth":           "ResNet50_Weights.IMAGENET1K_V2",
		"densenet121-a639ec97.pth":        "DenseNet121_Weights.IMAGENET1K_V1",
		"resnext101_64x4d-173b62eb.pth":   "ResNeXt101_64X4D_Weights.IMAGENET1K_V1",
		"wide_resnet101_2-d733dc28.pth":   "Wide_ResNet101_2_Weights.IMAGENET1K_V2",
		"resnet50-0676ba62.pth":           "", // another hash
		"resnet50.pth":                    "",
		"my-resnet50-0676ba61.pth":        "",
		"resnet50-0676ba61.pth.partial":   "",
		"RESNET50-0676BA61.PTH":           "",
		"densenet121-a639ec97.pth.tar.gz": "",
	} {
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, []byte("not a checkpoint"), 0o644); err != nil {
			t.Fatal(err)
		}
		w, ok := Recognize(path)
		if ok != (want != "") || w.Name != want {
			t.Errorf("Recognize(%s) = %q, %v; want %q", file, w.Name, ok, want)
		}
	}
	// The name alone decides: the file is not opened.
	if w, ok := Recognize(filepath.Join(dir, "sub", "resnet18-f37072fd.pth")); !ok || w.Arch != "resnet18" {
		t.Errorf("Recognize(missing resnet18-f37072fd.pth) = %q, %v", w.Name, ok)
	}
}

// A renamed file is recognised by its size and SHA-256, against a registry
// entry made for a small temporary file.
func TestRecognizeByHash(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 200_000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])[:8]
	tiny := Weights{
		Name: "Tiny_Weights.IMAGENET1K_V1", Arch: "tiny", Version: "v1", File: "tiny-" + hash + ".pth", Hash: hash,
		FileSizeMB: math.Round(float64(len(data))/(1<<20)*1000) / 1000, // as torchvision rounds it: 0.191
	}
	reg := append(All(), tiny)
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	renamed := write("my-model.pth", data)
	if w, ok := recognize(renamed, reg); !ok || w.Name != tiny.Name {
		t.Errorf("recognize(renamed tiny file) = %q, %v; want %s", w.Name, ok, tiny.Name)
	}
	if _, ok := Recognize(renamed); ok {
		t.Error("Recognize(renamed tiny file) matched the real registry")
	}
	other := append([]byte(nil), data...)
	other[len(other)/2] ^= 1
	if w, ok := recognize(write("changed.pth", other), reg); ok {
		t.Errorf("recognize(a file of the size but another hash) = %q", w.Name)
	}
	if w, ok := recognize(write("longer.pth", append(data, make([]byte, 2048)...)), reg); ok {
		t.Errorf("recognize(a file 2 KiB longer) = %q", w.Name)
	}
	if w, ok := recognize(dir, reg); ok {
		t.Errorf("recognize(a directory) = %q", w.Name)
	}
	if w, ok := recognize(filepath.Join(dir, "missing.pth"), reg); ok {
		t.Errorf("recognize(a missing file) = %q", w.Name)
	}
	unreadable := write("unreadable.pth", data)
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(unreadable); err == nil {
		t.Log("running as root: the unreadable file is readable")
	} else if w, ok := recognize(unreadable, reg); ok {
		t.Errorf("recognize(an unreadable file) = %q", w.Name)
	}
}

func TestSizeMatches(t *testing.T) {
	w := Weights{FileSizeMB: 97.781} // 102,530,809.856 bytes
	for size, want := range map[int64]bool{
		102_530_810:        true,
		102_530_810 - 1000: true,
		102_530_810 + 1000: true,
		102_530_810 - 1100: false,
		102_530_810 + 1100: false,
		0:                  false,
	} {
		if got := sizeMatches(w, size); got != want {
			t.Errorf("sizeMatches(97.781 MiB, %d) = %v, want %v", size, got, want)
		}
	}
	if sizeMatches(Weights{}, 0) {
		t.Error("an entry without a size matches an empty file")
	}
}
