package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	"github.com/resnet-gpu/resnet-gpu/resnet/keras"
)

type classifyResult struct {
	Input  string              `json:"input"`
	Top    []resnet.Prediction `json:"top"`
	Logits []float32           `json:"logits,omitempty"`
}

func runClassify(args []string) error {
	fs := newFlags("classify", "[flags] INPUT...")
	var mf modelFlags
	mf.register(fs, "pretrained")
	top := fs.Int("top", 5, "number of classes to print per input (by default at most the head's classes)")
	batch := fs.Int("batch", 1, "inputs per forward pass")
	shape := fs.String("tensor-shape", "", "shape of .f32 inputs (raw little-endian float32 CHW, already normalised); default 3xCROPxCROP")
	asJSON := fs.Bool("json", false, "print one JSON object")
	logits := fs.Bool("logits", false, "with --json, include every class's logit per input")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no inputs (see 'resnet-gpu classify -h'): %w", errUsage)
	}
	if *top < 1 {
		return fmt.Errorf("--top %d: want at least 1: %w", *top, errUsage)
	}
	if *batch < 1 || *batch > 1024 {
		return fmt.Errorf("--batch %d: want 1..1024: %w", *batch, errUsage)
	}
	if *logits && !*asJSON {
		return fmt.Errorf("--logits needs --json: %w", errUsage)
	}
	if err := mf.check(); err != nil {
		return err
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	defer m.Close()
	if !isSet(fs, "top") {
		*top = min(*top, m.Arch.Classes) // the default: 5, or every class of a smaller head
	}
	if *top > m.Arch.Classes {
		return fmt.Errorf("--top %d: the model has %d classes: %w", *top, m.Arch.Classes, errUsage)
	}
	if err := checkTensorShape(*shape, m.Transform.Crop); err != nil {
		return err
	}
	inputs := fs.Args()
	var results []classifyResult
	for start := 0; start < len(inputs); start += *batch {
		end := min(start+*batch, len(inputs))
		var xs [][]float32
		for _, in := range inputs[start:end] {
			x, err := readInput(m, in)
			if err != nil {
				return err
			}
			xs = append(xs, x)
		}
		lg, probs, err := m.Forward(xs)
		if err != nil {
			return err
		}
		for i, in := range inputs[start:end] {
			r := classifyResult{Input: in, Top: m.TopK(probs[i], *top)}
			if *logits {
				r.Logits = lg[i]
			}
			results = append(results, r)
		}
	}
	if *asJSON {
		err := json.NewEncoder(os.Stdout).Encode(map[string]any{
			"arch": m.Arch.Name, "classes": m.Arch.Classes, "weights": m.Weights.Name, "device": m.Exec.Name(), "results": results,
		})
		if err != nil {
			return fmt.Errorf("writing the results: %w", err)
		}
		return nil
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "%s, weights %s, on %s\n", m.Arch, m.Weights.Name, m.Exec.Name())
	if !m.Weights.Pretrained && mf.labels == "" && m.Arch.Classes == imagenet.NumClasses {
		fmt.Fprintln(w, "(not ImageNet-trained weights: the ImageNet labels are meaningless)")
	}
	for _, r := range results {
		fmt.Fprintf(w, "\n%s\n", r.Input)
		for k, p := range r.Top {
			if m.Arch.Family == keras.Family {
				// As Keras' decode_predictions gives them.
				fmt.Fprintf(w, "  (%s, %s, %s)\n", pyRepr(p.WNID), pyRepr(p.Label), pyFloat32(p.Prob))
				continue
			}
			fmt.Fprintf(w, "  %d  %-40s %s  %6.2f%%\n", k+1, p.Label, p.WNID, 100*p.Prob)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	return nil
}

// pyRepr is Python's repr of an ASCII string: single quotes, or double
// quotes when it holds a single quote and no double one.
func pyRepr(s string) string {
	q := "'"
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = `"`
	}
	r := strings.NewReplacer(`\`, `\\`, q, `\`+q)
	return q + r.Replace(s) + q
}

// pyFloat32 is NumPy's repr of a float32: the shortest digits that give it
// back, positional from 1e-4 up, with a ".0" on whole numbers.
func pyFloat32(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 32)
	if !strings.ContainsAny(s, ".eIN") {
		s += ".0"
	}
	return s
}

// isSet reports whether the flag called name was given.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// checkTensorShape checks --tensor-shape against the model's input,
// 3×crop×crop.
func checkTensorShape(s string, crop int) error {
	if want := fmt.Sprintf("3x%dx%d", crop, crop); s != "" && s != want {
		return fmt.Errorf("--tensor-shape %s: the model takes %s inputs (see --crop): %w", s, want, errUsage)
	}
	return nil
}

// readInput returns the preprocessed tensor for an image file or a raw .f32
// tensor file.
func readInput(m *resnet.Model, path string) ([]float32, error) {
	if strings.EqualFold(filepath.Ext(path), ".f32") {
		return readF32(path, m.InputSize())
	}
	img, err := imagenet.Open(path)
	if err != nil {
		return nil, err
	}
	return m.Preprocess(img)
}

// readF32 reads a raw little-endian float32 tensor of exactly n values.
func readF32(path string, n int) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() != int64(4*n) {
		return nil, fmt.Errorf("%s: %d bytes, want %d (%d float32 values, 3xCROPxCROP)", path, st.Size(), 4*n, n)
	}
	b := make([]byte, 4*n)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(out[i])) || math.IsInf(float64(out[i]), 0) {
			return nil, fmt.Errorf("%s: element %d is %v", path, i, out[i])
		}
	}
	return out, nil
}
