package keras

import (
	"fmt"
	"path"
	"regexp"
	"strconv"

	"github.com/resnet-gpu/resnet-gpu/resnet/keras/h5"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// Model is a Keras ResNet with its weights, ready to build.
type Model struct {
	Arch   Arch
	Format string // the file's layout: "Keras 2.2.4 HDF5, fixed-length strings", "Keras 3 .weights.h5", …
	// params are the weights in the graph's layouts, by "layer/variable":
	// convolution kernels [out][in][h][w], the Dense kernel [out][in].
	params map[string][]float32
}

// tensor is one weight as the file stores it.
type tensor struct {
	shape []int
	data  []float32
}

// IsFile reports whether path is an HDF5 file, which Load may read.
func IsFile(path string) bool { return h5.IsFile(path) }

// Load reads a Keras ResNet's weights file. arch names the architecture
// ("resnet50"; "" infers it from the layers) and must then be the file's.
func Load(file, arch string) (*Model, error) {
	f, err := h5.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	root, err := f.Root()
	if err != nil {
		return nil, err
	}
	m := &Model{}
	var layers map[string]map[string]tensor
	names, err := stringsAttr(root, "layer_names")
	switch {
	case err != nil:
		return nil, err
	case names != nil:
		layers, m.Format, err = readLegacy(f, root, names)
	case root.IsGroup("layers") || root.IsGroup("_layer_checkpoint_dependencies"):
		layers, err = readKeras3(f, root)
		m.Format = "Keras 3 .weights.h5"
	default:
		return nil, fmt.Errorf("keras: %s is an HDF5 file but not Keras weights (no layer_names attribute, no layers group)", file)
	}
	if err != nil {
		return nil, err
	}
	shapes := map[string]map[string][]int{}
	for n, vs := range layers {
		shapes[n] = map[string][]int{}
		for v, t := range vs {
			shapes[n][v] = t.shape
		}
	}
	a, err := infer(shapes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if arch != "" {
		named, err := Lookup(arch)
		if err != nil {
			return nil, err
		}
		if !named.sameNet(a) {
			return nil, fmt.Errorf("keras: weights %s do not fit %s: this looks like %s", file, named.Name, a)
		}
	}
	if err := a.check(shapes); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	m.Arch = a
	m.params = map[string][]float32{}
	for n, vs := range layers {
		for v, t := range vs {
			m.params[n+"/"+v] = toGraph(t)
		}
	}
	return m, nil
}

// toGraph returns a weight in the graph's layout: HWIO kernels as OIHW,
// Dense kernels [in, out] as [out, in]; others as they are.
func toGraph(t tensor) []float32 {
	switch len(t.shape) {
	case 4:
		h, w, ci, co := t.shape[0], t.shape[1], t.shape[2], t.shape[3]
		out := make([]float32, len(t.data))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for i := 0; i < ci; i++ {
					src := t.data[((y*w+x)*ci+i)*co:][:co]
					for o, v := range src {
						out[((o*ci+i)*h+y)*w+x] = v
					}
				}
			}
		}
		return out
	case 2:
		in, o := t.shape[0], t.shape[1]
		out := make([]float32, len(t.data))
		for i := 0; i < in; i++ {
			for j := 0; j < o; j++ {
				out[j*in+i] = t.data[i*o+j]
			}
		}
		return out
	}
	return t.data
}

// stringsAttr returns a string list attribute of g, or its chunks name0,
// name1, … as Keras splits large attributes; nil if there is neither.
func stringsAttr(g *h5.Group, name string) ([]string, error) {
	a, err := g.Attr(name)
	if err != nil {
		return nil, err
	}
	if a != nil {
		return a.Strings()
	}
	var out []string
	for i := 0; ; i++ {
		a, err := g.Attr(name + strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		if a == nil {
			if i == 0 {
				return nil, nil
			}
			return out, nil
		}
		s, err := a.Strings()
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
}

// varName is a weight name's variable: "conv1_conv/kernel:0" → "kernel".
var varSuffix = regexp.MustCompile(`:\d+$`)

// readLegacy reads the layout of Keras 2's save_weights: layer_names, one
// group per layer with weight_names, datasets at those names.
func readLegacy(f *h5.File, root *h5.Group, names []string) (map[string]map[string]tensor, string, error) {
	left := f.Size()
	version := "?"
	if a, err := root.Attr("keras_version"); err == nil && a != nil {
		if s, err := a.String(); err == nil {
			version = s
		}
	}
	strs := "fixed-length strings"
	if a, _ := root.Attr("layer_names"); a != nil && a.Variable() {
		strs = "variable-length strings"
	}
	format := fmt.Sprintf("Keras %s HDF5, %s", version, strs)
	layers := map[string]map[string]tensor{}
	for _, n := range names {
		if _, dup := layers[n]; dup {
			return nil, "", fmt.Errorf("keras: %s: layer %q is listed twice in layer_names", f.Name(), n)
		}
		if !root.IsGroup(n) {
			return nil, "", fmt.Errorf("keras: %s: layer %q of layer_names has no group", f.Name(), n)
		}
		g, err := root.Group(n)
		if err != nil {
			return nil, "", err
		}
		wn, err := stringsAttr(g, "weight_names")
		if err != nil {
			return nil, "", err
		}
		if wn == nil {
			return nil, "", fmt.Errorf("keras: %s: layer %q has no weight_names attribute", f.Name(), n)
		}
		if len(wn) == 0 {
			layers[n] = nil
			continue
		}
		vs := map[string]tensor{}
		for _, w := range wn {
			if !g.Has(w) {
				return nil, "", fmt.Errorf("keras: %s: weight %q of layer %q is not in the file", f.Name(), w, n)
			}
			v := varSuffix.ReplaceAllString(path.Base(w), "")
			if _, dup := vs[v]; dup {
				return nil, "", fmt.Errorf("keras: %s: layer %q has two weights named %s", f.Name(), n, v)
			}
			t, err := readTensor(g, w, &left)
			if err != nil {
				return nil, "", err
			}
			vs[v] = t
		}
		layers[n] = vs
	}
	if root.IsGroup("top_level_model_weights") {
		g, err := root.Group("top_level_model_weights")
		if err != nil {
			return nil, "", err
		}
		wn, err := stringsAttr(g, "weight_names")
		if err != nil {
			return nil, "", err
		}
		if len(wn) > 0 {
			return nil, "", fmt.Errorf("keras: %s: the model has weights of its own (%s), which no Keras ResNet has", f.Name(), wn[0])
		}
	}
	for n, vs := range layers {
		if vs == nil {
			delete(layers, n)
		}
	}
	return layers, format, nil
}

// readKeras3 reads Keras 3's layout: layers/NAME/vars/0, 1, …, whose
// variables are named by their kind: a convolution's kernel and bias, a
// batch normalisation's gamma, beta, moving_mean and moving_variance, a
// Dense layer's kernel and bias.
func readKeras3(f *h5.File, root *h5.Group) (map[string]map[string]tensor, error) {
	left := f.Size()
	top := "layers"
	if !root.IsGroup(top) {
		top = "_layer_checkpoint_dependencies"
	}
	lg, err := root.Group(top)
	if err != nil {
		return nil, err
	}
	layers := map[string]map[string]tensor{}
	for _, n := range lg.Names() {
		if !lg.IsGroup(n + "/vars") {
			continue
		}
		vg, err := lg.Group(n + "/vars")
		if err != nil {
			return nil, err
		}
		var ts []tensor
		for i := 0; vg.Has(strconv.Itoa(i)); i++ {
			t, err := readTensor(vg, strconv.Itoa(i), &left)
			if err != nil {
				return nil, err
			}
			ts = append(ts, t)
		}
		if len(ts) != len(vg.Names()) {
			return nil, fmt.Errorf("keras: %s/%s/vars: variables are not numbered 0 to %d", top, n, len(vg.Names())-1)
		}
		if len(ts) == 0 {
			continue
		}
		var kinds []string
		switch {
		case len(ts) == 4 && len(ts[0].shape) == 1:
			kinds = bnVars
		case len(ts) <= 2 && (len(ts[0].shape) == 4 || len(ts[0].shape) == 2):
			kinds = []string{"kernel", "bias"}
		default:
			return nil, fmt.Errorf("keras: %s/%s has %d variables of shapes starting %v: not a convolution, batch normalisation or Dense layer", top, n, len(ts), ts[0].shape)
		}
		layers[n] = map[string]tensor{}
		for i, t := range ts {
			layers[n][kinds[i]] = t
		}
	}
	return layers, nil
}

// readTensor reads a float32 dataset. left is what remains of the file's
// size for the weights: each is stored once, so together they fit in it (a
// file whose layers share datasets could otherwise make its reader hold
// many times the file).
func readTensor(g *h5.Group, name string, left *int64) (tensor, error) {
	ds, err := g.Dataset(name)
	if err != nil {
		return tensor{}, err
	}
	n := int64(4)
	for _, d := range ds.Shape {
		n *= int64(d)
		if n > *left {
			return tensor{}, fmt.Errorf("keras: %s: the weights add up to more than the file holds", ds.Path)
		}
	}
	*left -= n
	v, err := ds.Float32s()
	if err != nil {
		return tensor{}, err
	}
	if i := weights.NonFinite(v); i >= 0 {
		return tensor{}, fmt.Errorf("keras: %s holds %v at element %d", ds.Path, v[i], i)
	}
	return tensor{shape: ds.Shape, data: v}, nil
}
