package resnet

import (
	"context"
	"fmt"
	"image"
	"io"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/onnx"
	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	"github.com/resnet-gpu/resnet-gpu/resnet/keras"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// DefaultArch is the architecture of pretrained and synthetic weights when
// none is named.
const DefaultArch = "resnet50"

// Weights is a loaded state_dict with the architecture it fits, where it
// came from and the preprocessing it expects.
type Weights struct {
	Name       string // "pretrained:v1 (ResNet50_Weights.IMAGENET1K_V1)", "synthetic:0", a file path
	Arch       Arch
	State      weights.StateDict
	Transform  imagenet.Transform // V1 (resize 256) unless the weights are torchvision's V2 (232)
	Pretrained bool               // torchvision's ImageNet weights: the ImageNet labels mean something
	// Graph, if set, builds the network instead of Build(Arch, State, o):
	// for networks that come with their own graph (an imported file).
	// Arch then describes them (Name, Classes; Family names the format).
	Graph func(o BuildOptions) (*graph.Graph, error)
	// Preprocess, if set, turns an image into the network's 3×Crop×Crop
	// input instead of Transform.Apply (another framework's
	// preprocessing); Transform.Crop still gives the input size.
	Preprocess func(img image.Image) []float32
	// Labels and WNIDs, if set, are the classes' names and WordNet ids
	// (another framework's spellings) unless Options.Labels replaces them.
	Labels, WNIDs []string
}

// Build returns the network's unoptimised graph: w.Graph's, else
// Build(w.Arch, w.State, o).
func (w *Weights) Build(o BuildOptions) (*graph.Graph, error) {
	if w.Graph != nil {
		return w.Graph(o)
	}
	return Build(w.Arch, w.State, o)
}

// WeightsOptions tune LoadWeights.
type WeightsOptions struct {
	Progress io.Writer   // download progress bar; nil = quiet
	Hub      hub.Options // cache directory, mirror, HTTP client
}

// hub returns the download options: o.Hub, with o.Progress unless it
// names its own.
func (o WeightsOptions) hub() hub.Options {
	h := o.Hub
	if h.Progress == nil {
		h.Progress = o.Progress
	}
	return h
}

// LoadWeights resolves a weights source:
//
//	pretrained, pretrained:v1, pretrained:v2   torchvision's ImageNet weights of arch (downloaded once, cached)
//	synthetic:SEED                             the synthetic-v1 weights of arch (SYNTHETIC.md)
//	FILE.pth                                   a torch.save'd state_dict of any ResNet-family architecture
//	keras, keras:ARCH                          Keras' ImageNet weights of arch (keras-applications; resnet50, …, resnet152v2)
//	FILE.h5                                    Keras weights of a Keras ResNet (recognised by the HDF5 signature)
//	FILE.onnx                                  an ONNX model (by name or content), its own graph
//	DIR                                        the one weights file (.pth, .pt, .onnx, .h5) in a folder, e.g. KServe's /mnt/models
//
// arch names the architecture ("" means DefaultArch for pretrained and
// synthetic weights). A file's architecture and class count are inferred
// from its state_dict; a named arch must then agree, else the error says
// what the file looks like.
func LoadWeights(ctx context.Context, arch, source string, opt WeightsOptions) (*Weights, error) {
	if fi, err := os.Stat(source); err == nil && fi.IsDir() {
		if source, err = weightsIn(source); err != nil {
			return nil, err
		}
	}
	w := &Weights{Name: source, Transform: imagenet.V1}
	named := arch
	if named == "" {
		named = DefaultArch
	}
	switch {
	case source == "pretrained" || strings.HasPrefix(source, "pretrained:"):
		a, err := Lookup(named)
		if err != nil {
			return nil, err
		}
		version := strings.TrimPrefix(strings.TrimPrefix(source, "pretrained"), ":")
		hw, err := hub.Lookup(a.Name, version)
		if err != nil {
			return nil, err
		}
		w.Transform = transformOf(hw)
		path, err := hub.Fetch(ctx, hw, opt.hub())
		if err != nil {
			return nil, err
		}
		if w.State, err = weights.LoadFile(path); err != nil {
			return nil, hub.Damaged(hw, path, err)
		}
		w.Name = fmt.Sprintf("pretrained:%s (%s)", hw.Version, hw.Name)
		w.Pretrained = true
		w.Arch = a
	case strings.HasPrefix(source, "synthetic:"):
		a, err := Lookup(named)
		if err != nil {
			return nil, err
		}
		seed, err := strconv.ParseUint(strings.TrimPrefix(source, "synthetic:"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("resnet: bad weights %q: want synthetic:SEED with a non-negative integer seed", source)
		}
		w.State = weights.Synthetic(a.Specs(), seed)
		w.Arch = a
	case source == "keras" || strings.HasPrefix(source, "keras:") || keras.IsFile(source):
		return kerasWeights(ctx, arch, source, opt)
	case onnx.IsONNX(source):
		return onnxWeights(source, arch)
	default:
		var err error
		if w.State, err = weights.LoadFile(source); err != nil {
			return nil, err
		}
		if w.Arch, err = fitArch(w.State, arch, source); err != nil {
			return nil, err
		}
		// A torchvision download, by its name or content: ImageNet labels
		// and its own preprocessing, as for pretrained.
		if hw, ok := hub.Recognize(source); ok && hw.Arch == w.Arch.Name && w.Arch.Classes == imagenet.NumClasses {
			w.Name = fmt.Sprintf("%s (torchvision %s)", source, hw.Name)
			w.Transform = transformOf(hw)
			w.Pretrained = true
		}
	}
	if err := w.State.Check(w.Arch.Specs()); err != nil {
		return nil, fmt.Errorf("resnet: weights %s do not fit %s: %w", source, w.Arch, err)
	}
	if err := finite(w.State); err != nil {
		return nil, fmt.Errorf("resnet: weights %s: %w", source, err)
	}
	return w, nil
}

// weightFileExts are the names of the weights files weightsIn looks for.
var weightFileExts = []string{".pth", ".pt", ".onnx", ".h5"}

// weightsIn returns the path of the one weights file in folder dir (not
// its subfolders), by its name's extension.
func weightsIn(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("resnet: weights folder: %w", err)
	}
	var found []string
	for _, e := range entries {
		if e.Type().IsRegular() && slices.Contains(weightFileExts, strings.ToLower(filepath.Ext(e.Name()))) {
			found = append(found, e.Name())
		}
	}
	switch len(found) {
	case 1:
		return filepath.Join(dir, found[0]), nil
	case 0:
		return "", fmt.Errorf("resnet: weights folder %s holds no weights file (%s)", dir, strings.Join(weightFileExts, ", "))
	}
	return "", fmt.Errorf("resnet: weights folder %s holds %d weights files (%s): name one", dir, len(found), strings.Join(found, ", "))
}

// kerasWeights loads a Keras ResNet: the keras-applications download of
// arch for "keras" (resnet50 by default) or "keras:ARCH", else the file
// source. Its graph, preprocessing and labels are Keras'.
func kerasWeights(ctx context.Context, arch, source string, opt WeightsOptions) (*Weights, error) {
	file := source
	_, pretrained := keras.IsDownload(source)
	if name, ok := strings.CutPrefix(source, "keras"); ok && (name == "" || name[0] == ':') {
		name = strings.TrimPrefix(name, ":")
		switch {
		case name == "" && arch == "":
			name = DefaultArch
		case name == "":
			name = arch
		case arch != "" && !strings.EqualFold(arch, name):
			return nil, fmt.Errorf("resnet: --weights %s is another architecture than %s", source, arch)
		}
		var err error
		if file, err = keras.Fetch(ctx, name, opt.hub()); err != nil {
			return nil, err
		}
		arch, pretrained = name, true
	}
	m, err := keras.Load(file, arch)
	if err != nil {
		return nil, err
	}
	w := &Weights{
		Name:       fmt.Sprintf("%s (%s)", source, m.Format),
		Arch:       Arch{Name: "keras " + m.Arch.Name, Family: keras.Family, Blocks: m.Arch.Blocks, Classes: m.Arch.Classes},
		Transform:  imagenet.Transform{Resize: keras.Size, Crop: keras.Size},
		Pretrained: pretrained,
		Graph:      func(o BuildOptions) (*graph.Graph, error) { return m.Build(keras.BuildOptions(o)) },
		Preprocess: m.Preprocess,
	}
	if pretrained {
		w.Name = fmt.Sprintf("%s (keras-applications %s)", source, keras.FileName(m.Arch.Name))
	}
	if m.Arch.Classes == imagenet.NumClasses {
		w.Labels, w.WNIDs = keras.Labels(), keras.WNIDs()
	}
	return w, nil
}

// finite returns an error naming the first tensor (in name order) that
// holds a NaN or an infinity, and where.
func finite(sd weights.StateDict) error {
	return finiteSeq(func(yield func(string, []float32) bool) {
		for _, name := range slices.Sorted(maps.Keys(sd)) {
			if !yield(name, sd[name].Data) {
				return
			}
		}
	})
}

// finiteSeq returns an error naming the first of the named tensors that
// holds a NaN or an infinity, and where.
func finiteSeq(tensors iter.Seq2[string, []float32]) error {
	for name, v := range tensors {
		if i := weights.NonFinite(v); i >= 0 {
			return fmt.Errorf("%s holds %v at element %d", name, v[i], i)
		}
	}
	return nil
}

// fitArch returns the architecture of a file's state_dict sd: the one
// inferred from it, which must be arch's network when arch is named. When
// no family fits, a named arch is returned for the caller's check to name
// the first entry that does not fit it.
func fitArch(sd weights.StateDict, arch, source string) (Arch, error) {
	found, err := InferArch(sd)
	switch {
	case arch == "" && err != nil:
		return Arch{}, fmt.Errorf("%s: %w", source, err)
	case arch == "":
		return found, nil
	}
	a, lerr := Lookup(arch)
	switch {
	case lerr != nil:
		return Arch{}, lerr
	case err != nil:
		return a, nil
	case !a.sameNet(found):
		return Arch{}, fmt.Errorf("resnet: weights %s do not fit %s: this looks like %s", source, a.Name, found)
	}
	return found, nil
}

// transformOf is the preprocessing torchvision gives weights hw: V1's
// with hw's resize and crop sizes.
func transformOf(hw hub.Weights) imagenet.Transform {
	t := imagenet.V1
	t.Resize, t.Crop = hw.ResizeSize, hw.CropSize
	return t
}

// onnxWeights loads the ONNX model at path: Weights whose Graph is the
// imported one, described by an Arch of family "onnx" named after the
// file, with V1's preprocessing at the model's input size unless its
// metadata say otherwise.
func onnxWeights(path, arch string) (*Weights, error) {
	if arch != "" {
		return nil, fmt.Errorf("resnet: %s is an ONNX model, which brings its own graph: leave out the architecture (%s)", path, arch)
	}
	m, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	if m.Channels != 3 || m.Height != m.Width {
		return nil, fmt.Errorf("resnet: %s: input %q is %dx%dx%d, want 3 channels and a square image", path, m.Input, m.Channels, m.Height, m.Width)
	}
	if err := finiteSeq(m.Floats()); err != nil {
		return nil, fmt.Errorf("resnet: %s: initializer %w", path, err)
	}
	w := &Weights{Name: path, Transform: imagenet.V1, Arch: Arch{Name: filepath.Base(path), Family: "onnx", Classes: m.Classes}}
	t, p := &w.Transform, m.Preprocess
	if p.Crop > 0 && p.Crop != t.Crop {
		t.Crop, t.Resize = p.Crop, (p.Crop*256+112)/224
	}
	if p.Resize > 0 {
		t.Resize = p.Resize
	}
	if p.Normalize {
		t.Mean, t.Std = p.Mean, p.Std
	}
	w.Graph = func(o BuildOptions) (*graph.Graph, error) {
		if o.WithStages {
			return nil, fmt.Errorf("resnet: %s: an ONNX model has no stage outputs", path)
		}
		return m.Graph(onnx.Options{Batch: o.Batch, Height: o.Height, Width: o.Width, Softmax: o.Softmax})
	}
	return w, nil
}
