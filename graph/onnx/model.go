package onnx

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/onnx/onnxpb"
)

// Limits on what a file may ask for, checked before anything is
// allocated for it.
const (
	// MaxFileSize is the largest model file read: protobuf's 2 GiB
	// message limit (larger models keep their tensors in external data).
	MaxFileSize = 2<<30 - 1
	// maxElems bounds the elements of one tensor, constant or activation
	// (per batch item).
	maxElems = 1 << 30
	// maxDim bounds kernel sizes, strides, paddings, dilations, groups and
	// input dimensions.
	maxDim = 1 << 16
	// minOpset and maxOpset are the standard operator set versions
	// supported.
	minOpset, maxOpset = 11, 18
)

// Model is a checked ONNX model: its graph's nodes in an order that
// computes every input before it is read, its decoded constants and the
// description of its one input and one output. A Model is immutable and
// safe for concurrent use; Graph builds a new graph on each call.
type Model struct {
	Name     string // the graph's name
	Producer string // producer name and version, e.g. "pytorch 1.13.0"
	Opset    int    // version of the standard operator set
	// Input is the input's name; Channels, Height and Width its
	// dimensions after the batch (Height and Width 0 when the file leaves
	// them dynamic), Batch the file's batch size, 0 when dynamic.
	Input                          string
	Batch, Channels, Height, Width int
	Output                         string            // the output's name
	Classes                        int               // the output's size after the batch
	Meta                           map[string]string // metadata_props
	Preprocess                     Preprocess        // from the metadata

	nodes  []*onnxpb.NodeProto // the nodes the output depends on, in order
	index  map[*onnxpb.NodeProto]int
	consts map[string]*tensor // initializers
	uses   map[string]int     // readers of each value name (the graph output counts as one)
	elems  int                // elements of all initializers
}

// Floats yields the name and values of each floating-point initializer
// (the model's weights), in name order.
func (m *Model) Floats() iter.Seq2[string, []float32] {
	return func(yield func(string, []float32) bool) {
		for _, name := range slices.Sorted(maps.Keys(m.consts)) {
			if c := m.consts[name]; c.Float && !yield(name, c.F) {
				return
			}
		}
	}
}

// IsONNX reports whether the file at path is meant to be an ONNX model:
// its name ends in .onnx, or its first bytes are those of a ModelProto
// (ir_version, field 1, first, as every writer puts it).
func IsONNX(path string) bool {
	if strings.EqualFold(filepath.Ext(path), ".onnx") {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [3]byte
	n, _ := f.Read(b[:])
	// 0x08: field 1 as a varint; ir_version 1..127 fits one byte; then
	// the tag of another ModelProto field (2..8 as length-delimited or
	// varint).
	return n == 3 && b[0] == 0x08 && b[1] >= 1 && b[1] < 0x80 && b[2]>>3 >= 2 && b[2]>>3 <= 8 && b[2]&7 <= 2
}

// Load reads and checks the ONNX model at path; external data files are
// read from path's folder.
func Load(path string) (*Model, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("onnx: %s: %d bytes, more than a protobuf message may hold (%d)", path, fi.Size(), MaxFileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	m, err := Parse(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	return m, nil
}

// Parse decodes and checks a serialised ModelProto. dir is the folder of
// its external data files; "" allows none.
func Parse(data []byte, dir string) (m *Model, err error) {
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	m = &Model{Producer: strings.TrimSpace(mp.ProducerName + " " + mp.ProducerVersion), Meta: map[string]string{}}
	for _, o := range mp.OpsetImport {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			m.Opset = int(min(max(o.Version, -1), 1<<20))
		}
	}
	if m.Opset < minOpset || m.Opset > maxOpset {
		return nil, fmt.Errorf("standard operator set version %d, want %d to %d (re-export with opset_version in that range)", m.Opset, minOpset, maxOpset)
	}
	for _, p := range mp.MetadataProps {
		m.Meta[p.Key] = p.Value
	}
	if m.Preprocess, err = preprocess(m.Meta); err != nil {
		return nil, err
	}
	g := mp.Graph
	if g == nil || len(g.Node) == 0 {
		return nil, errors.New("the model has no graph")
	}
	m.Name = g.Name
	ext := newExternal(dir)
	defer ext.close()
	m.consts = map[string]*tensor{}
	for _, t := range g.Initializer {
		if _, dup := m.consts[t.Name]; dup || t.Name == "" {
			return nil, fmt.Errorf("initializer %q: name empty or repeated", t.Name)
		}
		c, err := decode(t, ext, maxElems)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", t.Name, err)
		}
		m.consts[t.Name] = c
		m.elems += c.numel()
		// The nodes keep the message alive: drop the bytes decoded.
		t.RawData, t.FloatData, t.DoubleData, t.Int32Data, t.Int64Data = nil, nil, nil, nil, nil
	}
	if err := m.io(g); err != nil {
		return nil, err
	}
	if err := m.order(g); err != nil {
		return nil, err
	}
	switch p := &m.Preprocess; {
	case p.Crop == 0:
		p.Crop = m.Height
	case m.Height > 0 && (p.Crop != m.Height || p.Crop != m.Width):
		return nil, fmt.Errorf("metadata crop %d differs from the input's size %dx%d", p.Crop, m.Height, m.Width)
	}
	// Build once to check every node and learn the output's size.
	var opt Options // the file's size, or the metadata's crop where it is dynamic
	if m.Height == 0 {
		opt.Height = m.Preprocess.Crop
	}
	if m.Width == 0 {
		opt.Width = m.Preprocess.Crop
	}
	out, err := m.graph(opt)
	if err != nil {
		return nil, err
	}
	s := out.Outputs[0].Shape
	if len(s) != 2 {
		return nil, fmt.Errorf("output %q has shape %v, want [batch, classes]", m.Output, s)
	}
	m.Classes = s[1]
	if d := g.Output[0].GetType().GetTensorType().GetShape().GetDim(); len(d) == 2 && d[1].GetDimValue() > 0 && d[1].GetDimValue() != int64(m.Classes) {
		return nil, fmt.Errorf("output %q is declared with %d classes, the graph computes %d", m.Output, d[1].GetDimValue(), m.Classes)
	}
	return m, nil
}

// io finds the graph's one input (the inputs that are not initializers)
// and its one output.
func (m *Model) io(g *onnxpb.GraphProto) error {
	var ins []*onnxpb.ValueInfoProto
	for _, in := range g.Input {
		if _, ok := m.consts[in.Name]; !ok {
			ins = append(ins, in)
		}
	}
	if len(ins) != 1 || len(g.Output) != 1 {
		return fmt.Errorf("%d inputs and %d outputs, want one of each (an image batch in, class scores out)", len(ins), len(g.Output))
	}
	in := ins[0]
	m.Input, m.Output = in.Name, g.Output[0].Name
	tt := in.GetType().GetTensorType()
	if tt == nil || tt.ElemType != int32(onnxpb.TensorProto_FLOAT) {
		return fmt.Errorf("input %q is not a float tensor", in.Name)
	}
	dims := tt.GetShape().GetDim()
	if len(dims) != 4 {
		return fmt.Errorf("input %q has %d dimensions, want 4 (NCHW)", in.Name, len(dims))
	}
	d := make([]int, 4)
	for i, dim := range dims {
		if _, named := dim.Value.(*onnxpb.TensorShapeProto_Dimension_DimParam); named || dim.Value == nil {
			continue // dynamic: 0
		}
		v := dim.GetDimValue()
		if v < 1 || v > maxDim {
			return fmt.Errorf("input %q: dimension %d is %d, want 1..%d", in.Name, i, v, maxDim)
		}
		d[i] = int(v)
	}
	m.Batch, m.Channels, m.Height, m.Width = d[0], d[1], d[2], d[3]
	if m.Channels == 0 {
		return fmt.Errorf("input %q: the channel dimension is not fixed", in.Name)
	}
	if graph.Shape(d[1:]).Numel() > maxElems {
		return fmt.Errorf("input %q: %v is more than %d elements per batch item", in.Name, d[1:], maxElems)
	}
	return nil
}

// order keeps the nodes the output depends on, in an order that computes
// each value before it is read (the spec asks files for one; this also
// takes files that do not keep it), and counts the readers of each value.
// A value read but never produced, produced twice, or a cycle is an error.
func (m *Model) order(g *onnxpb.GraphProto) error {
	producer := map[string]int{}
	m.index = map[*onnxpb.NodeProto]int{}
	for i, n := range g.Node {
		m.index[n] = i
		for _, o := range n.Output {
			if o == "" {
				continue
			}
			_, dup := producer[o]
			if _, c := m.consts[o]; dup || c || o == m.Input {
				return fmt.Errorf("%s: output %q is defined twice", describe(n, i, m.Opset), o)
			}
			producer[o] = i
		}
	}
	const (
		unseen = iota
		visiting
		done
	)
	state := make([]int, len(g.Node))
	m.uses = map[string]int{m.Output: 1}
	// visit appends node i after the nodes it reads; an explicit stack
	// keeps hostile depths off the goroutine stack.
	visit := func(i int) error {
		type frame struct{ node, next int }
		stack := []frame{{i, 0}}
		state[i] = visiting
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			n := g.Node[f.node]
			if f.next == len(n.Input) {
				state[f.node] = done
				m.nodes = append(m.nodes, n)
				stack = stack[:len(stack)-1]
				continue
			}
			in := n.Input[f.next]
			f.next++
			if in == "" {
				continue // an optional input left out
			}
			m.uses[in]++
			if _, ok := m.consts[in]; ok || in == m.Input {
				continue
			}
			p, ok := producer[in]
			switch {
			case !ok:
				return fmt.Errorf("%s: input %q is not defined", describe(n, f.node, m.Opset), in)
			case state[p] == visiting:
				return fmt.Errorf("%s: its input %q depends on its own output (a cycle)", describe(n, f.node, m.Opset), in)
			case state[p] == unseen:
				state[p] = visiting
				stack = append(stack, frame{p, 0})
			}
		}
		return nil
	}
	p, ok := producer[m.Output]
	if !ok {
		return fmt.Errorf("output %q is not computed by any node", m.Output)
	}
	return visit(p)
}

// describe names node n (index i) for error messages: `node "/conv1/Conv"
// (Conv, opset 13)`; a node without a name is known by its first output.
func describe(n *onnxpb.NodeProto, i, opset int) string {
	name := n.Name
	if name == "" && len(n.Output) > 0 {
		name = n.Output[0]
	}
	if name == "" {
		name = fmt.Sprintf("#%d", i)
	}
	return fmt.Sprintf("node %q (%s, opset %d)", name, n.OpType, opset)
}

// Options choose the input size of the graph Graph builds.
type Options struct {
	Batch         int  // 0 means 1
	Height, Width int  // 0 means the file's, or 224 where it leaves them dynamic
	Softmax       bool // also output the class probabilities
}

// Graph returns the model's graph for an input of opt's size: its
// outputs are the logits [Batch, Classes] and, with opt.Softmax, the
// probabilities. When the file's output is a softmax over the classes,
// the logits are that softmax's input and the probabilities its output.
// Every op keeps the batch on axis 0, so Graph.Reshape gives the graph of
// any other batch size. A file with a fixed batch size is taken to be
// traced at that size: a literal equal to it as the first dimension of a
// Reshape target stands for the batch.
func (m *Model) Graph(opt Options) (*graph.Graph, error) {
	g, err := m.graph(opt)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return g, nil
}

// graph is Graph with errors that do not name the package.
func (m *Model) graph(opt Options) (*graph.Graph, error) {
	n, h, w := max(opt.Batch, 1), opt.Height, opt.Width
	for _, d := range []struct {
		opt  *int
		file int
	}{{&h, m.Height}, {&w, m.Width}} {
		if *d.opt == 0 {
			*d.opt = cmp.Or(d.file, 224)
		}
	}
	switch {
	case opt.Batch < 0 || h < 1 || w < 1 || h > maxDim || w > maxDim:
		return nil, fmt.Errorf("bad input size %dx%dx%dx%d", opt.Batch, m.Channels, h, w)
	case m.Height > 0 && h != m.Height || m.Width > 0 && w != m.Width:
		return nil, fmt.Errorf("input %q is %dx%d, not %dx%d", m.Input, m.Height, m.Width, h, w)
	}
	return m.build(graph.Shape{n, m.Channels, h, w}, opt.Softmax)
}

// Preprocess is the image preprocessing a model's metadata_props ask for,
// under the keys "resize" and "crop" (pixels: the shorter side's length
// after resizing, the centre square's side) and "mean" and "std" (three
// comma-separated numbers, R, G, B, for inputs scaled to [0, 1]). Crop is
// the input's fixed size where the metadata leave it out; zero values
// mean absent.
type Preprocess struct {
	Resize, Crop int
	Normalize    bool // Mean and Std are given
	Mean, Std    [3]float32
}

// preprocess reads Preprocess from the metadata.
func preprocess(meta map[string]string) (Preprocess, error) {
	var p Preprocess
	for key, dst := range map[string]*int{"resize": &p.Resize, "crop": &p.Crop} {
		if v, ok := meta[key]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 || n > 4096 {
				return p, fmt.Errorf("metadata %s=%q: want a size of 1 to 4096 pixels", key, v)
			}
			*dst = n
		}
	}
	mean, hasMean := meta["mean"]
	std, hasStd := meta["std"]
	if hasMean != hasStd {
		return p, fmt.Errorf("metadata give one of mean and std, want both or neither")
	}
	p.Normalize = hasMean
	if !hasMean {
		return p, nil
	}
	for _, f := range []struct {
		key, v   string
		dst      *[3]float32
		positive bool
	}{{"mean", mean, &p.Mean, false}, {"std", std, &p.Std, true}} {
		parts := strings.Split(f.v, ",")
		ok := len(parts) == 3
		for i := 0; ok && i < 3; i++ {
			x, err := strconv.ParseFloat(strings.TrimSpace(parts[i]), 32)
			ok = err == nil && !math.IsInf(x, 0) && !math.IsNaN(x) && (!f.positive || x > 0)
			f.dst[i] = float32(x)
		}
		if !ok {
			return p, fmt.Errorf("metadata %s=%q: want three numbers (R,G,B)", f.key, f.v)
		}
	}
	return p, nil
}
