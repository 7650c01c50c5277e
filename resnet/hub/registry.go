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

// registryJSON is a copy of testdata/imagenet/torchvision_resnet_weights.json:
// torchvision's metadata for each ResNet weight enum value.
//
//go:embed torchvision_resnet_weights.json
var registryJSON []byte

// Weights describes one set of pretrained torchvision ResNet weights.
type Weights struct {
	// Name is torchvision's enum name, e.g. "ResNet50_Weights.IMAGENET1K_V2".
	Name string
	// Arch is the architecture, e.g. "resnet50".
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
	// Acc1 and Acc5 are the top-1 and top-5 ImageNet-1K accuracies, in percent.
	Acc1, Acc5 float64
	// NumParams is the number of parameters of the model.
	NumParams int
	// FileSizeMB is the size of the file in megabytes, as torchvision reports it.
	FileSizeMB float64
	// ResizeSize is the size the shorter image side is resized to before the
	// 224×224 centre crop: 256 for v1, 232 for v2.
	ResizeSize int
}

// entry is one value of the embedded registry, as torchvision writes it.
type entry struct {
	URL       string `json:"url"`
	NumParams int    `json:"num_params"`
	Metrics   map[string]struct {
		Acc1 float64 `json:"acc@1"`
		Acc5 float64 `json:"acc@5"`
	} `json:"metrics"`
	FileSize   float64 `json:"file_size"`
	Transforms string  `json:"transforms"`
}

var (
	nameRE   = regexp.MustCompile(`^ResNet(\d+)_Weights\.IMAGENET1K_V(\d+)$`)
	resizeRE = regexp.MustCompile(`resize_size=\[(\d+)\]`)
	hashRE   = regexp.MustCompile(`^[0-9a-f]+$`)
)

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
// depth and then version.
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
		di, dj := depth(ws[i].Arch), depth(ws[j].Arch)
		if di != dj {
			return di < dj
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
	file := path.Base(e.URL)
	hash, err := FileHash(file)
	if err != nil {
		return Weights{}, err
	}
	r := resizeRE.FindStringSubmatch(e.Transforms)
	if r == nil {
		return Weights{}, fmt.Errorf("no resize_size in transforms %q", e.Transforms)
	}
	resize, _ := strconv.Atoi(r[1]) // the pattern admits digits only
	acc, ok := e.Metrics["ImageNet-1K"]
	if !ok {
		return Weights{}, fmt.Errorf("no ImageNet-1K metrics")
	}
	return Weights{
		Name:       name,
		Arch:       "resnet" + m[1],
		Version:    "v" + m[2],
		URL:        e.URL,
		File:       file,
		Hash:       hash,
		Acc1:       acc.Acc1,
		Acc5:       acc.Acc5,
		NumParams:  e.NumParams,
		FileSizeMB: e.FileSize,
		ResizeSize: resize,
	}, nil
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

// depth returns the layer count in an arch name such as "resnet50".
func depth(arch string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(arch, "resnet"))
	return n
}

// All returns every known set of weights, ordered by depth and then version.
func All() []Weights {
	return append([]Weights(nil), registry...)
}

// Lookup returns the weights of an architecture ("resnet18", "resnet34",
// "resnet50", "resnet101" or "resnet152") in a version: "" or "v1" for
// torchvision's IMAGENET1K_V1, "v2" for IMAGENET1K_V2 where torchvision has
// it. Case does not matter, and "IMAGENET1K_V2" is accepted for "v2".
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
