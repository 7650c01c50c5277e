package perf

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Roofline plots rs against ceil as a roofline chart to path, a .png or
// .svg file: arithmetic intensity (FLOPs per byte) across, GFLOP/s up,
// both on log scales; the roof min(GFLOPS, GBps·x) as a line and each
// kernel a point labelled with Label of its name. Kernels without FLOPs,
// bytes or a time are left out; zero ceilings leave out the roof.
func Roofline(path, title string, ceil Ceilings, rs []KernelResult) error {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".png" && ext != ".svg" {
		return fmt.Errorf("perf: roofline %s: the format must be .png or .svg", path)
	}
	var pts plotter.XYs
	var labels []string
	for _, r := range rs {
		if r.FLOPs > 0 && r.Bytes > 0 && r.GFLOPS > 0 {
			pts = append(pts, plotter.XY{X: float64(r.FLOPs) / float64(r.Bytes), Y: r.GFLOPS})
			labels = append(labels, Label(r.Name))
		}
	}
	roof := ceil.GFLOPS > 0 && ceil.GBps > 0
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		xmin, xmax = math.Min(xmin, p.X), math.Max(xmax, p.X)
		ymin, ymax = math.Min(ymin, p.Y), math.Max(ymax, p.Y)
	}
	if roof {
		ridge := ceil.GFLOPS / ceil.GBps
		xmin, xmax = math.Min(xmin, ridge), math.Max(xmax, ridge)
		ymin, ymax = math.Min(ymin, ceil.GBps*xmin), math.Max(ymax, ceil.GFLOPS)
	}
	if len(pts) == 0 && !roof {
		xmin, xmax, ymin, ymax = 1, 100, 1, 1000
	}
	xmin, xmax, ymin, ymax = xmin/2, xmax*4, ymin/2, ymax*2 // room for the labels on the right

	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "arithmetic intensity (FLOP/byte)"
	p.Y.Label.Text = "GFLOP/s"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	if roof {
		ridge := ceil.GFLOPS / ceil.GBps
		l, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: ceil.GBps * xmin}, {X: ridge, Y: ceil.GFLOPS}, {X: xmax, Y: ceil.GFLOPS}})
		if err != nil {
			return fmt.Errorf("perf: roofline: %w", err)
		}
		l.Color = color.RGBA{R: 200, A: 255}
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("roof: %s GFLOP/s, %s GB/s", rate(ceil.GFLOPS), rate(ceil.GBps)), l)
	}
	if len(pts) > 0 {
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return fmt.Errorf("perf: roofline: %w", err)
		}
		s.Color = color.RGBA{B: 200, A: 255}
		ls, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: labels})
		if err != nil {
			return fmt.Errorf("perf: roofline: %w", err)
		}
		for i := range ls.TextStyle {
			ls.TextStyle[i].Font.Size = vg.Points(7)
		}
		ls.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(2)}
		p.Add(s, ls)
		p.Legend.Add("kernels", s)
	}
	p.Legend.Top, p.Legend.Left = true, true // above the bandwidth roof: no kernel there
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = xmin, xmax, ymin, ymax
	if err := p.Save(11*vg.Inch, 8*vg.Inch, path); err != nil {
		return fmt.Errorf("perf: roofline %s: %w", path, err)
	}
	return nil
}

// Label shortens a kernel name in graph.Name's format for a plot or a
// table: "conv2d(n=1,c=256,h=14,w=14,o=256,k=3x3,s=1,p=1,relu)" becomes
// "conv 3x3 c256→256 14²"; a stride becomes "/2" after the kernel size, a
// residual input "+res", a batch above 1 " n=2". Names it cannot parse are
// returned unchanged.
func Label(name string) string {
	kind, rest, ok := strings.Cut(name, "(")
	if !ok || !strings.HasSuffix(rest, ")") {
		return name
	}
	attr := map[string]string{}
	for _, f := range strings.Split(strings.TrimSuffix(rest, ")"), ",") {
		k, v, _ := strings.Cut(f, "=")
		attr[k] = v
	}
	hw := attr["h"] + "x" + attr["w"]
	if attr["h"] == attr["w"] {
		hw = attr["h"] + "²"
	}
	var s string
	switch kind {
	case "conv2d":
		k := attr["k"]
		if attr["s"] != "1" {
			k += "/" + attr["s"]
		}
		s = fmt.Sprintf("conv %s c%s→%s %s", k, attr["c"], attr["o"], hw)
		if _, ok := attr["residual"]; ok {
			s += "+res"
		}
	case "maxpool":
		s = fmt.Sprintf("maxpool %s/%s c%s %s", attr["k"], attr["s"], attr["c"], hw)
	case "linear":
		s = fmt.Sprintf("linear %s→%s", attr["in"], attr["out"])
	case "softmax":
		s = "softmax " + attr["c"]
	default:
		s = fmt.Sprintf("%s c%s %s", kind, attr["c"], hw)
	}
	if n := attr["n"]; n != "1" {
		s += " n=" + n
	}
	return s
}
