package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
)

// summaryJSON is what summary --json prints.
type summaryJSON struct {
	Arch    string `json:"arch"`
	Classes int    `json:"classes"`
	Weights string `json:"weights"`
	graph.Summary
}

func runSummary(args []string) error {
	fs := newFlags("summary", "[flags]")
	arch := fs.String("arch", "", "architecture: "+strings.Join(resnet.ArchNames(), ", ")+"; default: the weights file's own, else "+resnet.DefaultArch)
	wsource := fs.String("weights", "", "pretrained, pretrained:v1, pretrained:v2, synthetic:SEED or FILE.pth (default: none, the architecture's shapes alone)")
	classes := fs.Int("classes", 0, "with no --weights, the classifier's classes (default 1000)")
	batch := fs.Int("batch", 1, "batch size of the input")
	size := fs.Int("size", 224, "height and width of the input")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	if *batch < 1 || *batch > 1024 {
		return fmt.Errorf("--batch %d: want 1..1024: %w", *batch, errUsage)
	}
	if *size < 1 || *size > 8192 {
		return fmt.Errorf("--size %d: want 1..8192: %w", *size, errUsage)
	}
	if *classes < 0 || *classes > 1<<20 || *classes > 0 && *wsource != "" {
		return fmt.Errorf("--classes %d: want 1..%d, and only without --weights (a file's head gives its classes): %w", *classes, 1<<20, errUsage)
	}
	var a resnet.Arch
	var w *resnet.Weights
	name := "none (shapes only)"
	if *wsource != "" {
		opt := resnet.WeightsOptions{}
		if hub.IsTerminal(os.Stderr) {
			opt.Progress = os.Stderr
		}
		var err error
		ctx, stop := interruptible()
		w, err = resnet.LoadWeights(ctx, *arch, *wsource, opt)
		stop()
		if err != nil {
			return err
		}
		a, name = w.Arch, w.Name
	} else {
		if *arch == "" {
			*arch = resnet.DefaultArch
		}
		var err error
		if a, err = resnet.Lookup(*arch); err != nil {
			return err
		}
		if *classes > 0 {
			a = a.WithClasses(*classes)
		}
		w = &resnet.Weights{Arch: a, State: a.ShapeWeights()}
	}
	g, err := w.Build(resnet.BuildOptions{Batch: *batch, Height: *size, Width: *size})
	if err != nil {
		return err
	}
	s := summaryJSON{Arch: a.String(), Classes: a.Classes, Weights: name, Summary: graph.Summarize(g)}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(s)
	}
	return writeSummary(os.Stdout, s)
}

// writeSummary prints s as a table of layers followed by the totals.
func writeSummary(w io.Writer, s summaryJSON) error {
	head := []string{"Layer", "Op", "Attributes", "Output shape", "Params", "Mult-adds"}
	rows := [][]string{head}
	for _, l := range s.Layers {
		rows = append(rows, []string{l.Name, l.Kind, l.Attrs, l.Out.String(), layerCount(l.Params), layerCount(l.MACs)})
	}
	widths := make([]int, len(head))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	fmt.Fprintf(w, "%s, weights %s\n\n", s.Arch, s.Weights)
	for _, r := range rows {
		// Text columns left-aligned, the two counts right-aligned.
		fmt.Fprintf(w, "%-*s  %-*s  %-*s  %-*s  %*s  %*s\n",
			widths[0], r[0], widths[1], r[1], widths[2], r[2], widths[3], r[3], widths[4], r[4], widths[5], r[5])
	}
	var inputs []string
	for _, in := range s.Inputs {
		inputs = append(inputs, in.String())
	}
	fmt.Fprintf(w, "\nTotal parameters:  %s\n", commas(s.Params))
	fmt.Fprintf(w, "Multiply-adds:     %.2f G (%s)\n", float64(s.MACs)/1e9, commas(s.MACs))
	fmt.Fprintf(w, "Input size:        %s: %s\n", strings.Join(inputs, ", "), megabytes(s.InputBytes))
	fmt.Fprintf(w, "Activations:       %s, all layer outputs\n", megabytes(s.ActivationBytes))
	_, err := fmt.Fprintf(w, "Peak activations:  %s, the memory planner's for the optimised graph\n", megabytes(s.PeakBytes))
	return err
}

// layerCount formats a layer's count, "--" for none, as torchinfo does.
func layerCount(n int64) string {
	if n == 0 {
		return "--"
	}
	return commas(n)
}

// commas formats a non-negative n with thousands separators: 25,557,032.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// megabytes formats a size as torchinfo does, in MB of 10^6 bytes, with
// the exact byte count.
func megabytes(b int64) string {
	return fmt.Sprintf("%.2f MB (%s bytes)", float64(b)/1e6, commas(b))
}
