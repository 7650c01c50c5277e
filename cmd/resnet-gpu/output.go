package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	"github.com/resnet-gpu/resnet-gpu/resnet/keras"
)

// formats are classify's --format values; "" picks table on a terminal
// and text elsewhere.
var formats = []string{"table", "text", "jsonl", "csv", "json"}

// classifyResult is one input's result, as the json and jsonl formats
// print it.
type classifyResult struct {
	Input  string              `json:"input"`
	Top    []resnet.Prediction `json:"top"`
	Logits []float32           `json:"logits,omitempty"`
}

// resultWriter prints results in one format as they come, each flushed
// before write returns.
type resultWriter interface {
	write(r classifyResult) error
	// close ends the output (the json format writes its document here).
	close() error
}

// runInfo is what the output says about the run besides the results.
type runInfo struct {
	m      *resnet.Model
	labels bool     // --labels was given
	inputs []string // every input's name, to size the table's first column
}

// header is the line naming the model, and a warning when ImageNet's
// labels name the classes of weights that were not trained on ImageNet.
func (ri runInfo) header(w io.Writer) {
	m := ri.m
	fmt.Fprintf(w, "%s, weights %s, on %s\n", m.Arch, m.Weights.Name, m.Exec.Name())
	if !m.Weights.Pretrained && !ri.labels && m.Arch.Classes == imagenet.NumClasses {
		fmt.Fprintln(w, "(not ImageNet-trained weights: the ImageNet labels are meaningless)")
	}
}

// newResultWriter returns the writer of a format in formats.
func newResultWriter(format string, out io.Writer, ri runInfo) (resultWriter, error) {
	w := bufio.NewWriter(out)
	switch format {
	case "table":
		return newTableWriter(w, ri), nil
	case "text":
		return &textWriter{w: w, ri: ri}, nil
	case "jsonl":
		return &jsonlWriter{w: w, enc: json.NewEncoder(w)}, nil
	case "csv":
		return &csvWriter{w: w, c: csv.NewWriter(w)}, nil
	case "json":
		return &jsonWriter{w: w, ri: ri}, nil
	}
	return nil, fmt.Errorf("--format %q: want one of %v: %w", format, formats, errUsage)
}

// flushed flushes w, naming a failure as a failure to write the results.
func flushed(w *bufio.Writer) error {
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	return nil
}

// textWriter prints a block per input: its name, then a line per class
// (for Keras models, as Keras' decode_predictions gives them).
type textWriter struct {
	w       *bufio.Writer
	ri      runInfo
	started bool
}

func (t *textWriter) write(r classifyResult) error {
	if !t.started {
		t.ri.header(t.w)
		t.started = true
	}
	fmt.Fprintf(t.w, "\n%s\n", r.Input)
	for k, p := range r.Top {
		if t.ri.m.Arch.Family == keras.Family {
			fmt.Fprintf(t.w, "  (%s, %s, %s)\n", pyRepr(p.WNID), pyRepr(p.Label), pyFloat32(p.Prob))
			continue
		}
		fmt.Fprintf(t.w, "  %d  %-40s %s  %6.2f%%\n", k+1, p.Label, p.WNID, 100*p.Prob)
	}
	return flushed(t.w)
}

func (t *textWriter) close() error {
	if !t.started {
		t.ri.header(t.w)
	}
	return flushed(t.w)
}

// tableWriter prints a row per class with aligned columns, the input
// named on its first row.
type tableWriter struct {
	w              *bufio.Writer
	ri             runInfo
	inW, labelW    int
	wnids, started bool
}

// maxColumn is the widest the table's first two columns grow to fit
// their longest entry; longer entries overflow.
const maxColumn = 48

func newTableWriter(w *bufio.Writer, ri runInfo) *tableWriter {
	t := &tableWriter{w: w, ri: ri, inW: len("INPUT"), labelW: len("CLASS"), wnids: len(ri.m.WNIDs) > 0}
	for _, s := range ri.inputs {
		t.inW = max(t.inW, min(maxColumn, utf8.RuneCountInString(s)))
	}
	for _, s := range ri.m.Labels {
		t.labelW = max(t.labelW, min(maxColumn, utf8.RuneCountInString(s)))
	}
	return t
}

func (t *tableWriter) row(in, rank, label, wnid, prob string) {
	fmt.Fprintf(t.w, "%-*s  %4s  %-*s", t.inW, in, rank, t.labelW, label)
	if t.wnids {
		fmt.Fprintf(t.w, "  %-9s", wnid)
	}
	fmt.Fprintf(t.w, "  %7s\n", prob)
}

func (t *tableWriter) start() {
	if !t.started {
		t.ri.header(t.w)
		fmt.Fprintln(t.w)
		t.row("INPUT", "RANK", "CLASS", "WNID", "PROB")
		t.started = true
	}
}

func (t *tableWriter) write(r classifyResult) error {
	t.start()
	for k, p := range r.Top {
		in := ""
		if k == 0 {
			in = r.Input
		}
		t.row(in, strconv.Itoa(k+1), p.Label, p.WNID, fmt.Sprintf("%.2f%%", 100*p.Prob))
	}
	return flushed(t.w)
}

func (t *tableWriter) close() error {
	t.start()
	return flushed(t.w)
}

// jsonlWriter prints one JSON object per input.
type jsonlWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func (j *jsonlWriter) write(r classifyResult) error {
	if err := j.enc.Encode(r); err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	return flushed(j.w)
}

func (j *jsonlWriter) close() error { return flushed(j.w) }

// csvWriter prints a header, then a row per input and class.
type csvWriter struct {
	w       *bufio.Writer
	c       *csv.Writer
	started bool
}

func (c *csvWriter) start() {
	if !c.started {
		c.c.Write([]string{"input", "rank", "index", "label", "wnid", "prob"})
		c.started = true
	}
}

func (c *csvWriter) write(r classifyResult) error {
	c.start()
	for k, p := range r.Top {
		c.c.Write([]string{r.Input, strconv.Itoa(k + 1), strconv.Itoa(p.Index), p.Label, p.WNID, strconv.FormatFloat(p.Prob, 'g', -1, 32)})
	}
	c.c.Flush()
	if err := c.c.Error(); err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	return flushed(c.w)
}

func (c *csvWriter) close() error {
	c.start()
	c.c.Flush()
	if err := c.c.Error(); err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	return flushed(c.w)
}

// jsonWriter prints one JSON document of every result at the end.
type jsonWriter struct {
	w       *bufio.Writer
	ri      runInfo
	results []classifyResult
}

func (j *jsonWriter) write(r classifyResult) error {
	j.results = append(j.results, r)
	return nil
}

func (j *jsonWriter) close() error {
	m := j.ri.m
	results := j.results
	if results == nil {
		results = []classifyResult{}
	}
	err := json.NewEncoder(j.w).Encode(map[string]any{
		"arch": m.Arch.Name, "classes": m.Arch.Classes, "weights": m.Weights.Name, "device": m.Exec.Name(), "results": results,
	})
	if err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	return flushed(j.w)
}
