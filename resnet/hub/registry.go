package hub

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// registryJSON is a copy of testdata/imagenet/torchvision_weights.json:
// torchvision's metadata for each weight enum value of its ResNet, ResNeXt,
// Wide ResNet and DenseNet classifiers.
//
//go:embed torchvision_weights.json
var registryJSON []byte

// Weights describes one set of pretrained torchvision weights.
type Weights struct {
	// Name is torchvision's enum name, e.g. "ResNet50_Weights.IMAGENET1K_V2".
	Name string
	// Arch is torchvision's name of the architecture, e.g. "resnet50",
	// "resnext101_32x8d", "wide_resnet50_2" or "densenet121".
	Arch string
	// Version is "v1" or "v2".
	Version string
	// URL is torchvision's download address of the file.
	URL string
	// File is the file name, e.g. "resnet50-11ad3fa6.pth".
	File string
	// Hash is the lowercase hex prefix of the file's SHA-256, taken from
	// the file name: the part after the last '-' and before ".pth".
	Hash string
	// HashAlg names the hash Hash is a prefix of: "" or "sha256", or
	// "md5" (Keras' file hashes, for files not in the registry).
	HashAlg string
	// Acc1 and Acc5 are the top-1 and top-5 ImageNet-1K accuracies, in percent.
	Acc1, Acc5 float64
	// NumParams is the number of parameters of the model.
	NumParams int
	// GOps is torchvision's count of the model's operations on one
	// 224×224 image, in billions: multiply-adds of the convolutions and
	// linear layers (torchvision's tables call them GFLOPS).
	GOps float64
	// FileSizeMB is the size of the file in MiB (2^20 bytes), rounded to
	// three decimals, as torchvision reports it.
	FileSizeMB float64
	// ResizeSize is the size the shorter image side is resized to before the
	// centre crop: 256 for most v1 weights, 232 for v2 (and for
	// resnext101_64x4d's v1).
	ResizeSize int
	// CropSize is the side of the square centre crop, 224.
	CropSize int
	// MinSize is the smallest image side the model accepts: 1, or 29 for
	// the DenseNets.
	MinSize int
	// Categories names the classes the model predicts: "ImageNet-1K" (the
	// 1000 classes of package imagenet) for every entry.
	Categories string
}

// entry is one value of the embedded registry, as torchvision writes it.
type entry struct {
	URL       string `json:"url"`
	NumParams int    `json:"num_params"`
	Metrics   map[string]struct {
		Acc1 float64 `json:"acc@1"`
		Acc5 float64 `json:"acc@5"`
	} `json:"metrics"`
	Ops        float64 `json:"ops"`
	FileSize   float64 `json:"file_size"`
	Transforms string  `json:"transforms"`
	MinSize    [2]int  `json:"min_size"`
	Categories string  `json:"categories"`
}

var (
	nameRE   = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*)_Weights\.IMAGENET1K_V(\d+)$`)
	resizeRE = regexp.MustCompile(`resize_size=\[(\d+)\]`)
	cropRE   = regexp.MustCompile(`crop_size=\[(\d+)\]`)
	hashRE   = regexp.MustCompile(`^[0-9a-f]+$`)
	depthRE  = regexp.MustCompile(`^([a-z_]+?)(\d+)`)
)

// families are the architecture families in the order All lists them, as
// torchvision does.
var families = []string{"resnet", "resnext", "wide_resnet", "densenet"}

// registry holds every entry of the embedded registry, in the order of All.
var registry = mustParse(registryJSON)

// mustParse parses the embedded registry and panics if it is malformed:
// it is compiled into the binary, so an error is a build mistake.
func mustParse(data []byte) []Weights {
	ws, err := parseRegistry(data)
	if err != nil {
		panic(err)
	}
	return ws
}

// parseRegistry turns torchvision's metadata into Weights values, sorted by
// family, depth, architecture and version.
func parseRegistry(data []byte) ([]Weights, error) {
	var raw map[string]entry
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("hub: registry: %w", err)
	}
	ws := make([]Weights, 0, len(raw))
	for name, e := range raw {
		w, err := toWeights(name, e)
		if err != nil {
			return nil, fmt.Errorf("hub: registry: %s: %w", name, err)
		}
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool {
		fi, di := order(ws[i].Arch)
		fj, dj := order(ws[j].Arch)
		switch {
		case fi != fj:
			return fi < fj
		case di != dj:
			return di < dj
		case ws[i].Arch != ws[j].Arch:
			return ws[i].Arch < ws[j].Arch
		}
		return ws[i].Version < ws[j].Version
	})
	return ws, nil
}

// toWeights converts one registry entry.
func toWeights(name string, e entry) (Weights, error) {
	m := nameRE.FindStringSubmatch(name)
	if m == nil {
		return Weights{}, fmt.Errorf("unexpected name")
	}
	arch := strings.ToLower(m[1])
	if f, _ := order(arch); f == len(families) {
		return Weights{}, fmt.Errorf("unknown architecture family in %q", arch)
	}
	file := path.Base(e.URL)
	hash, err := FileHash(file)
	if err != nil {
		return Weights{}, err
	}
	if !strings.HasPrefix(file, arch+"-") {
		return Weights{}, fmt.Errorf("file %s is not named after %s", file, arch)
	}
	resize, err := transformSize(resizeRE, e.Transforms)
	if err != nil {
		return Weights{}, err
	}
	crop, err := transformSize(cropRE, e.Transforms)
	if err != nil {
		return Weights{}, err
	}
	acc, ok := e.Metrics["ImageNet-1K"]
	if !ok {
		return Weights{}, fmt.Errorf("no ImageNet-1K metrics")
	}
	switch {
	case e.NumParams <= 0 || e.Ops <= 0 || e.FileSize <= 0:
		return Weights{}, fmt.Errorf("num_params %d, ops %v, file_size %v: want all positive", e.NumParams, e.Ops, e.FileSize)
	case e.MinSize[0] < 1 || e.MinSize[0] != e.MinSize[1]:
		return Weights{}, fmt.Errorf("min_size %v is not a square of positive sides", e.MinSize)
	case e.Categories != "ImageNet-1K":
		return Weights{}, fmt.Errorf("categories %q: only ImageNet-1K is known", e.Categories)
	}
	return Weights{
		Name:       name,
		Arch:       arch,
		Version:    "v" + m[2],
		URL:        e.URL,
		File:       file,
		Hash:       hash,
		Acc1:       acc.Acc1,
		Acc5:       acc.Acc5,
		NumParams:  e.NumParams,
		GOps:       e.Ops,
		FileSizeMB: e.FileSize,
		ResizeSize: resize,
		CropSize:   crop,
		MinSize:    e.MinSize[0],
		Categories: e.Categories,
	}, nil
}

// transformSize returns the size re finds in a transforms description such
// as "ImageClassification(crop_size=[224] resize_size=[256] …)".
func transformSize(re *regexp.Regexp, transforms string) (int, error) {
	m := re.FindStringSubmatch(transforms)
	if m == nil {
		return 0, fmt.Errorf("no %s in transforms %q", strings.Split(re.String(), "=")[0], transforms)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("bad size %q in transforms %q", m[1], transforms)
	}
	return n, nil
}

// FileHash returns the SHA-256 prefix that a torchvision weight file name
// carries: the hex digits after the last '-' and before the ".pth"
// extension, as in "resnet50-11ad3fa6.pth" → "11ad3fa6".
func FileHash(file string) (string, error) {
	stem, ok := strings.CutSuffix(file, ".pth")
	i := strings.LastIndexByte(stem, '-')
	if !ok || i < 0 || !hashRE.MatchString(stem[i+1:]) {
		return "", fmt.Errorf("hub: file name %q is not NAME-HASH.pth with a lowercase hex HASH", file)
	}
	return stem[i+1:], nil
}

// order returns where an architecture name such as "resnext101_32x8d"
// sorts: the index of its family in families (len(families) if unknown)
// and its depth (101).
func order(arch string) (family, depth int) {
	m := depthRE.FindStringSubmatch(arch)
	if m == nil {
		return len(families), 0
	}
	depth, _ = strconv.Atoi(m[2]) // the pattern admits digits only
	for i, f := range families {
		if f == m[1] {
			return i, depth
		}
	}
	return len(families), depth
}

// All returns every known set of weights, in torchvision's order: ResNets,
// ResNeXts, Wide ResNets, DenseNets, each by depth and then version.
func All() []Weights {
	return append([]Weights(nil), registry...)
}

// Lookup returns the weights of an architecture (torchvision's name:
// "resnet50", "resnext50_32x4d", "wide_resnet50_2", "densenet121", …) in a
// version: "" or "v1" for torchvision's IMAGENET1K_V1, "v2" for
// IMAGENET1K_V2 where torchvision has it. Case does not matter, and
// "IMAGENET1K_V2" is accepted for "v2".
// An unknown arch or version gives an error that lists what exists.
func Lookup(arch, version string) (Weights, error) {
	a := strings.ToLower(strings.TrimSpace(arch))
	v := strings.ToLower(strings.TrimSpace(version))
	v = strings.TrimPrefix(v, "imagenet1k_")
	if v == "" {
		v = "v1"
	}
	var have []string
	for _, w := range registry {
		if w.Arch != a {
			continue
		}
		if w.Version == v {
			return w, nil
		}
		have = append(have, w.Version)
	}
	if have != nil {
		return Weights{}, fmt.Errorf("hub: no %s weights in version %q (torchvision has %s)",
			a, version, strings.Join(have, ", "))
	}
	var archs []string
	for _, w := range registry {
		if len(archs) == 0 || archs[len(archs)-1] != w.Arch {
			archs = append(archs, w.Arch)
		}
	}
	return Weights{}, fmt.Errorf("hub: unknown arch %q (known: %s)", arch, strings.Join(archs, ", "))
}
