package perf

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Roofline plots rs against ceil as a roofline chart to path, a .png or
// .svg file: arithmetic intensity (FLOPs per byte) across, GFLOP/s up,
// both on log scales; the roof min(GFLOPS, GBps·x) as a line and each
// kernel a point, its colour and shape by kernel family (Family), its
// area by its share of the forward pass (Total), the largest shares
// labelled with Label of their name. Kernels without FLOPs, bytes or a
// time are left out; zero ceilings leave out the roof.
func Roofline(path, title string, ceil Ceilings, rs []KernelResult) error {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".png" && ext != ".svg" {
		return fmt.Errorf("perf: roofline %s: the format must be .png or .svg", path)
	}
	var kept []KernelResult // largest share first
	var sum time.Duration
	for _, r := range rs {
		if r.FLOPs > 0 && r.Bytes > 0 && r.GFLOPS > 0 {
			kept = append(kept, r)
			sum += r.Total()
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].Total() > kept[j].Total() })
	at := func(r KernelResult) plotter.XY {
		return plotter.XY{X: float64(r.FLOPs) / float64(r.Bytes), Y: r.GFLOPS}
	}
	roof := ceil.GFLOPS > 0 && ceil.GBps > 0
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, r := range kept {
		p := at(r)
		xmin, xmax = math.Min(xmin, p.X), math.Max(xmax, p.X)
		ymin, ymax = math.Min(ymin, p.Y), math.Max(ymax, p.Y)
	}
	if roof {
		ridge := ceil.GFLOPS / ceil.GBps
		xmin, xmax = math.Min(xmin, ridge), math.Max(xmax, ridge)
		ymin, ymax = math.Min(ymin, ceil.GBps*xmin), math.Max(ymax, ceil.GFLOPS)
	}
	if len(kept) == 0 && !roof {
		xmin, xmax, ymin, ymax = 1, 100, 1, 1000
	}
	xmin, xmax, ymin, ymax = xmin/2, xmax*4, ymin/2, ymax*3 // room for the labels and the legend

	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = "arithmetic intensity (FLOP/byte)"
	p.Y.Label.Text = "GFLOP/s"
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Scale, a.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		a.Label.TextStyle.Font.Size = vg.Points(12)
		a.Tick.Label.Font.Size = vg.Points(11)
	}
	p.Legend.TextStyle.Font.Size = vg.Points(11)
	p.Add(plotter.NewGrid())
	if roof {
		ridge := ceil.GFLOPS / ceil.GBps
		l, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: ceil.GBps * xmin}, {X: ridge, Y: ceil.GFLOPS}, {X: xmax, Y: ceil.GFLOPS}})
		if err != nil {
			return fmt.Errorf("perf: roofline: %w", err)
		}
		l.Color = color.RGBA{R: 200, A: 255}
		l.Width = vg.Points(2)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("roof: %s GFLOP/s, %s GB/s", rate(ceil.GFLOPS), rate(ceil.GBps)), l)
	}
	// One scatter per family, in order of first appearance (largest share
	// first), so the legend names each family once.
	var families []string
	byFamily := map[string][]KernelResult{}
	for _, r := range kept {
		f := Family(r)
		if byFamily[f] == nil {
			families = append(families, f)
		}
		byFamily[f] = append(byFamily[f], r)
	}
	share := func(r KernelResult) float64 { return float64(r.Total()) / float64(max(sum, 1)) }
	for i, f := range families {
		var pts plotter.XYs
		for _, r := range byFamily[f] {
			pts = append(pts, at(r))
		}
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return fmt.Errorf("perf: roofline: %w", err)
		}
		rsf, c, shape := byFamily[f], palette[i%len(palette)], shapes[i%len(shapes)]
		s.GlyphStyleFunc = func(j int) draw.GlyphStyle {
			// Area ∝ share: radius from 3 pt (nothing) to 15 pt (everything).
			return draw.GlyphStyle{Color: c, Shape: shape, Radius: vg.Points(3 + 12*math.Sqrt(share(rsf[j])))}
		}
		p.Add(s)
		p.Legend.Add(f, legendGlyph{c, shape})
	}
	// Labels for the largest shares only, each where it overlaps no other
	// (placeLabels), so that they stay legible.
	var lpts []plotter.XY
	var labels []string
	var radii []vg.Length
	for i, r := range kept {
		if i < maxLabels && share(r) >= 0.02 {
			lpts = append(lpts, at(r))
			labels = append(labels, fmt.Sprintf("%s (%.0f%%)", Label(r.Name), 100*share(r)))
			radii = append(radii, vg.Points(3+12*math.Sqrt(share(r))))
		}
	}
	area := vg.Point{X: width - vg.Points(70), Y: height - vg.Points(80)} // the plot area, about
	toPt := func(q plotter.XY) vg.Point {
		fx := (math.Log(q.X) - math.Log(xmin)) / (math.Log(xmax) - math.Log(xmin))
		fy := (math.Log(q.Y) - math.Log(ymin)) / (math.Log(ymax) - math.Log(ymin))
		return vg.Point{X: vg.Length(fx) * area.X, Y: vg.Length(fy) * area.Y}
	}
	for i, off := range placeLabels(lpts, labels, radii, toPt, area, labelSize) {
		if off == nil {
			continue // no free place: the point stays unlabelled
		}
		ls, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{lpts[i]}, Labels: []string{labels[i]}})
		if err != nil {
			return fmt.Errorf("perf: roofline: %w", err)
		}
		ls.TextStyle[0].Font.Size = labelSize
		ls.Offset = *off
		p.Add(ls)
	}
	p.Legend.Top, p.Legend.Left = true, true // above the bandwidth roof: no kernel there
	p.Legend.Add("point area: share of the forward pass")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = xmin, xmax, ymin, ymax
	if err := p.Save(width, height, path); err != nil {
		return fmt.Errorf("perf: roofline %s: %w", path, err)
	}
	return nil
}

// The size of a roofline chart, the most points it labels and their
// labels' font size.
const (
	width, height = 11 * vg.Inch, 7 * vg.Inch
	maxLabels     = 12
	labelSize     = vg.Length(10)
)

// placeLabels chooses, in order, where each label goes beside its point
// (to the right, left, above or below of a glyph of radius radii[i]): the
// first place whose box, estimated from the font size, overlaps no label
// placed before it, no point labelled and stays in the plot area (0, 0)
// to area; nil where there is none. toPt maps a point to the plot area.
func placeLabels(pts []plotter.XY, labels []string, radii []vg.Length, toPt func(plotter.XY) vg.Point, area vg.Point, size vg.Length) []*vg.Point {
	type box struct{ x0, y0, x1, y1 vg.Length }
	overlaps := func(a, b box) bool { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 }
	var taken []box
	for i, q := range pts {
		c, r := toPt(q), radii[i]
		taken = append(taken, box{c.X - r, c.Y - r, c.X + r, c.Y + r})
	}
	out := make([]*vg.Point, len(pts))
	for i, q := range pts {
		c, r := toPt(q), radii[i]+vg.Points(2)
		w, h := vg.Length(0.5*float64(size))*vg.Length(len([]rune(labels[i]))), 1.2*size
		for _, off := range []vg.Point{{X: r, Y: -h / 3}, {X: -r - w, Y: -h / 3}, {X: -w / 2, Y: r}, {X: -w / 2, Y: -r - h}} {
			b := box{c.X + off.X, c.Y + off.Y, c.X + off.X + w, c.Y + off.Y + h}
			free := b.x0 >= 0 && b.y0 >= 0 && b.x1 <= area.X && b.y1 <= area.Y
			for j, t := range taken {
				if j != i && overlaps(b, t) {
					free = false
					break
				}
			}
			if free {
				o := off
				out[i] = &o
				taken = append(taken, b)
				break
			}
		}
	}
	return out
}

// palette and shapes mark the kernel families of a roofline.
var (
	palette = []color.Color{
		color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 255, G: 127, B: 14, A: 255},
		color.RGBA{R: 44, G: 160, B: 44, A: 255}, color.RGBA{R: 148, G: 103, B: 189, A: 255},
		color.RGBA{R: 140, G: 86, B: 75, A: 255}, color.RGBA{R: 227, G: 119, B: 194, A: 255},
		color.RGBA{R: 127, G: 127, B: 127, A: 255}, color.RGBA{R: 188, G: 189, B: 34, A: 255},
	}
	shapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.RingGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}
)

// legendGlyph is a family's legend entry: its glyph at a fixed size.
type legendGlyph struct {
	c     color.Color
	shape draw.GlyphDrawer
}

// Thumbnail implements plot.Thumbnailer.
func (g legendGlyph) Thumbnail(c *draw.Canvas) {
	p := vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: (c.Min.Y + c.Max.Y) / 2}
	c.DrawGlyph(draw.GlyphStyle{Color: g.c, Shape: g.shape, Radius: vg.Points(4)}, p)
}

// Family names the kind of kernel r ran: its convolution kernel's name
// without the tile or variant suffix ("tiled64x128" → "tiled",
// "direct4" → "direct", "wino_small" → "wino"), else the op
// ("maxpool", "softmax").
func Family(r KernelResult) string {
	name := r.Variant
	if name == "" {
		name, _, _ = strings.Cut(r.Name, "(")
		return name
	}
	if i := strings.IndexFunc(name, func(c rune) bool { return c < 'a' || c > 'z' }); i > 0 {
		return name[:i]
	}
	return name
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
