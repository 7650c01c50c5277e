package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/graph/progress"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

func runClassify(args []string) error {
	fs := newFlags("classify", "[flags] INPUT... (files, folders with -r, glob patterns, - for a list of paths on stdin)")
	var mf modelFlags
	mf.register(fs, "pretrained")
	top := fs.Int("top", 5, "number of classes to print per input (by default at most the head's classes)")
	batch := fs.Int("batch", 1, "inputs per forward pass")
	shape := fs.String("tensor-shape", "", "shape of .f32 inputs (raw little-endian float32 CHW, already normalised); default 3xCROPxCROP")
	recursive := fs.Bool("r", false, "classify the images and .f32 tensors in folders and their subfolders")
	filesFrom := fs.String("files-from", "", "also classify the paths listed in `FILE`, one a line (- for stdin)")
	format := fs.String("format", "", "output: table, text, jsonl (an object per input), csv or json (one document); default table on a terminal, else text")
	asJSON := fs.Bool("json", false, "the same as --format json")
	logits := fs.Bool("logits", false, "with --format json or jsonl, include every class's logit per input")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 && *filesFrom == "" {
		return fmt.Errorf("no inputs (see 'resnet-gpu classify -h'): %w", errUsage)
	}
	if *top < 1 {
		return fmt.Errorf("--top %d: want at least 1: %w", *top, errUsage)
	}
	if *batch < 1 || *batch > 1024 {
		return fmt.Errorf("--batch %d: want 1..1024: %w", *batch, errUsage)
	}
	if *asJSON {
		if *format != "" && *format != "json" {
			return fmt.Errorf("--json and --format %s: choose one: %w", *format, errUsage)
		}
		*format = "json"
	}
	if *format != "" && !slices.Contains(formats, *format) {
		return fmt.Errorf("--format %q: want one of %s: %w", *format, strings.Join(formats, ", "), errUsage)
	}
	if *logits && *format != "json" && *format != "jsonl" {
		return fmt.Errorf("--logits needs --json (or --format json or jsonl): %w", errUsage)
	}
	if err := mf.check(); err != nil {
		return err
	}
	list, err := expandInputs(fs.Args(), *filesFrom, *recursive, os.Stdin)
	if err != nil {
		return err
	}
	if len(list.inputs) == 0 {
		return fmt.Errorf("no inputs: the lists of paths are empty")
	}
	if list.readable() == 0 { // nothing to load a model for
		con := newConsole(0)
		for _, in := range list.inputs {
			con.errorf("%s", oneLine(in.err.Error()))
		}
		return list.finish(con, len(list.inputs))
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
	if m.GPU() != nil {
		// The first batch size compiles for seconds: a spinner on a
		// terminal, else a line (none with --quiet).
		first := min(*batch, len(list.inputs))
		ph := progress.Start(mf.status(), 0, fmt.Sprintf("compiling %s for batch %d on %s", m.Arch.Name, first, m.Exec.Name()))
		_, err := m.Program(first)
		ph.Done()
		if err != nil {
			return err
		}
	}
	if *format == "" {
		*format = "text"
		if hub.IsTerminal(os.Stdout) {
			*format = "table"
		}
	}
	ri := runInfo{m: m, labels: mf.labels != ""}
	for _, in := range list.inputs {
		ri.inputs = append(ri.inputs, in.path)
	}
	out, err := newResultWriter(*format, os.Stdout, ri)
	if err != nil {
		return err
	}
	con := newConsole(len(list.inputs))
	failed := 0
	err = classifyInputs(m, list.inputs, *batch, m.ReadAhead(*batch), func(o outcome) error {
		defer con.step()
		if o.err != nil {
			failed++
			con.errorf("%s", oneLine(o.err.Error()))
			return nil
		}
		r := classifyResult{Input: o.in.path, Top: m.TopK(o.probs, *top)}
		if *logits {
			r.Logits = o.logits
		}
		con.beforeOutput()
		return out.write(r)
	})
	if err == nil {
		con.beforeOutput()
		err = out.close()
	}
	if err != nil {
		return err
	}
	return list.finish(con, failed)
}

// finish ends a run in which failed inputs could not be classified: it
// says what the expansion skipped and, of more than one input, how many
// failed, and returns errFailed if any did.
func (l inputList) finish(con *console, failed int) error {
	con.finish()
	if note := l.skippedNote(); note != "" {
		fmt.Fprintln(con.stderr, note)
	}
	if failed == 0 {
		return nil
	}
	if len(l.inputs) > 1 {
		fmt.Fprintf(con.stderr, "%d of %d inputs failed\n", failed, len(l.inputs))
	}
	return errFailed
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
