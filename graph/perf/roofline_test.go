package perf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// someResults are three kernels of ResNet-50 with made-up timings.
func someResults() []KernelResult {
	return []KernelResult{
		{Name: "conv2d(n=1,c=256,h=14,w=14,o=256,k=3x3,s=1,p=1,relu)", Count: 5, Time: time.Millisecond,
			FLOPs: 231211008, Bytes: 2762752, GFLOPS: 231.2, GBps: 2.76},
		{Name: "maxpool(n=1,c=64,h=112,w=112,k=3,s=2,p=1)", Count: 1, Time: 100 * time.Microsecond,
			FLOPs: 1806336, Bytes: 4014080, GFLOPS: 18.1, GBps: 40.1},
		{Name: "linear(n=1,c=2048,h=1,w=1,in=2048,out=1000)", Count: 1, Time: 200 * time.Microsecond,
			FLOPs: 4096000, Bytes: 8204192, GFLOPS: 20.5, GBps: 41},
		{Name: "softmax(n=1,c=1000,h=1,w=1)"}, // not timed: left out
	}
}

func TestRoofline(t *testing.T) {
	dir := t.TempDir()
	ceil := Ceilings{GFLOPS: 1000, GBps: 100}
	for _, c := range []struct {
		file  string
		magic []byte
	}{
		{"roof.png", []byte("\x89PNG\r\n\x1a\n")},
		{"roof.SVG", []byte("<svg")},
	} {
		path := filepath.Join(dir, c.file)
		if err := Roofline(path, "resnet50, made up", ceil, someResults()); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b[:min(len(b), 512)], c.magic) {
			t.Errorf("%s does not start like one (%d bytes)", c.file, len(b))
		}
	}
	// No kernels, or no ceilings, still make a chart.
	if err := Roofline(filepath.Join(dir, "empty.svg"), "", Ceilings{}, nil); err != nil {
		t.Error(err)
	}
	if err := Roofline(filepath.Join(dir, "noroof.svg"), "", Ceilings{}, someResults()); err != nil {
		t.Error(err)
	}
	txt := filepath.Join(dir, "roof.txt")
	if err := Roofline(txt, "", ceil, someResults()); err == nil {
		t.Error("Roofline wrote a .txt file")
	}
	if _, err := os.Stat(txt); !os.IsNotExist(err) {
		t.Errorf("Roofline left %s behind", txt)
	}
}

func TestLabel(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"conv2d(n=1,c=256,h=14,w=14,o=256,k=3x3,s=1,p=1,relu)", "conv 3x3 c256→256 14²"},
		{"conv2d(n=1,c=3,h=224,w=224,o=64,k=7x7,s=2,p=3,relu)", "conv 7x7/2 c3→64 224²"},
		{"conv2d(n=2,c=64,h=56,w=56,o=256,k=1x1,s=1,p=0,relu,residual)", "conv 1x1 c64→256 56²+res n=2"},
		{"conv2d(n=1,c=5,h=19,w=17,o=129,k=7x7,s=2,p=3)", "conv 7x7/2 c5→129 19x17"},
		{"maxpool(n=1,c=64,h=112,w=112,k=3,s=2,p=1)", "maxpool 3/2 c64 112²"},
		{"avgpool(n=1,c=2048,h=7,w=7,global)", "avgpool c2048 7²"},
		{"linear(n=1,c=2048,h=1,w=1,in=2048,out=1000)", "linear 2048→1000"},
		{"softmax(n=4,c=1000,h=1,w=1)", "softmax 1000 n=4"},
		{"copy", "copy"},
	} {
		if got := Label(c.name); got != c.want {
			t.Errorf("Label(%s) = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestFamily(t *testing.T) {
	for _, c := range []struct {
		r    KernelResult
		want string
	}{
		{KernelResult{Name: "conv2d(n=1)", Variant: "direct4"}, "direct"},
		{KernelResult{Name: "conv2d(n=1)", Variant: "tiled64x128"}, "tiled"},
		{KernelResult{Name: "conv2d(n=1)", Variant: "wino_small"}, "wino"},
		{KernelResult{Name: "conv2d(n=1)", Variant: "grouped"}, "grouped"},
		{KernelResult{Name: "maxpool(n=1,c=64)"}, "maxpool"},
	} {
		if got := Family(c.r); got != c.want {
			t.Errorf("Family(%s %s) = %q, want %q", c.r.Name, c.r.Variant, got, c.want)
		}
	}
}

// Labels of points close together go to different sides or are left out,
// one at the right edge goes to the left; none overlaps another or leaves
// the plot area.
func TestPlaceLabels(t *testing.T) {
	pts := plotter.XYs{{X: 10, Y: 10}, {X: 10.5, Y: 10}, {X: 11, Y: 10}, {X: 10, Y: 10.5}, {X: 99, Y: 10}}
	labels := []string{"conv 3x3 c256→256 14²", "conv 1x1 c64→256 56²", "conv 7x7/2 c3→64 224²", "linear 2048→1000", "at the right edge"}
	radii := []vg.Length{5, 5, 5, 5, 5}
	area := vg.Point{X: 500, Y: 300}
	toPt := func(q plotter.XY) vg.Point { return vg.Point{X: 150 + vg.Length(q.X-10)*50, Y: vg.Length(q.Y) * 15} }
	pts[4].X = 16.5 // at x = 475
	const size = 10
	offs := placeLabels(pts, labels, radii, toPt, area, size)
	type box struct{ x0, y0, x1, y1 vg.Length }
	var placed []box
	for i, o := range offs {
		if o == nil {
			continue
		}
		c := toPt(pts[i])
		w := vg.Length(0.5*size) * vg.Length(len([]rune(labels[i])))
		b := box{c.X + o.X, c.Y + o.Y, c.X + o.X + w, c.Y + o.Y + 1.2*size}
		if b.x0 < 0 || b.y0 < 0 || b.x1 > area.X || b.y1 > area.Y {
			t.Errorf("label %q at %+v leaves the area", labels[i], b)
		}
		for _, p := range placed {
			if b.x0 < p.x1 && p.x0 < b.x1 && b.y0 < p.y1 && p.y0 < b.y1 {
				t.Errorf("label %q at %+v overlaps one at %+v", labels[i], b, p)
			}
		}
		placed = append(placed, b)
	}
	if offs[0] == nil || len(placed) < 2 {
		t.Errorf("placed %d labels (the first: %v), want the first and another", len(placed), offs[0])
	}
	if o := offs[4]; o == nil || o.X >= 0 {
		t.Errorf("the label at the right edge is not placed to the left of its point: %v", o)
	}
}
