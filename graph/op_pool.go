package graph

import (
	"fmt"
	"math"

	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// Pool is a 2-D max or average pool with PyTorch's semantics:
//
//	max: out[n,c,y,x] = max over the window's positions inside the image
//	avg: out[n,c,y,x] = Σ over the window's positions inside the image / d
//
// for the KH×KW window at (y·SY − PT, x·SX − PL). With CeilMode the output
// size rounds up, but a last window must start inside the input or the
// top/left padding. The average's divisor d counts the window's positions
// inside the padded input, (min(y0+KH, H+PB) − y0)·(min(x0+KW, W+PR) − x0),
// with CountIncludePad, else only those inside the image.
type Pool struct {
	Max             bool // else average
	KH, KW          int
	Stride          [2]int // y, x
	Pad             [4]int // top, left, bottom, right
	CeilMode        bool
	CountIncludePad bool
}

// MaxPool returns a square max pool with one stride and padding, as the
// ResNet stem has.
func MaxPool(k, stride, pad int) Pool {
	return Pool{Max: true, KH: k, KW: k, Stride: [2]int{stride, stride}, Pad: [4]int{pad, pad, pad, pad}}
}

// Kind implements Op.
func (p Pool) Kind() string {
	if p.Max {
		return "maxpool"
	}
	return "avgpool"
}

// Arity implements Op.
func (Pool) Arity() int { return 1 }

// Geom is the pool on an input of shape x, in the kernels' terms.
func (p Pool) Geom(x Shape) shaders.PoolGeom {
	g := shaders.PoolGeom{KH: p.KH, KW: p.KW, SH: p.Stride[0], SW: p.Stride[1],
		PT: p.Pad[0], PL: p.Pad[1], PB: p.Pad[2], PR: p.Pad[3],
		CeilMode: p.CeilMode, Max: p.Max, CountIncludePad: p.CountIncludePad}
	if len(x) == 4 {
		g.N, g.C, g.H, g.W = x[0], x[1], x[2], x[3]
	}
	return g
}

// OutShape implements Op.
func (p Pool) OutShape(in []Shape) (Shape, error) {
	n, c, _, _, err := in[0].image(p.Kind())
	if err != nil {
		return nil, err
	}
	g := p.Geom(in[0])
	if err := g.Check(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", p.Kind(), p.Describe(), err)
	}
	return Shape{n, c, g.OH(), g.OW()}, nil
}

// Describe implements Op: k=3x3,s=2,p=1 plus, where they are not the
// plain values, s=2x1, p=0,1,1,0 (top, left, bottom, right), ceil and
// (averages) exclude_pad.
func (p Pool) Describe() string {
	s := fmt.Sprintf("k=%dx%d,s=%d", p.KH, p.KW, p.Stride[0])
	if p.Stride[1] != p.Stride[0] {
		s += fmt.Sprintf("x%d", p.Stride[1])
	}
	if d := p.Pad; d[0] == d[1] && d[0] == d[2] && d[0] == d[3] {
		s += fmt.Sprintf(",p=%d", d[0])
	} else {
		s += fmt.Sprintf(",p=%d,%d,%d,%d", d[0], d[1], d[2], d[3])
	}
	if p.CeilMode {
		s += ",ceil"
	}
	if !p.Max && !p.CountIncludePad {
		s += ",exclude_pad"
	}
	return s
}

// Eval implements Op.
func (p Pool) Eval(in []Shape, data [][]float32, out []float32) {
	g := p.Geom(in[0])
	H, W, OH, OW := g.H, g.W, g.OH(), g.OW()
	for nc := 0; nc < g.N*g.C; nc++ {
		plane := data[0][nc*H*W : (nc+1)*H*W]
		for y := 0; y < OH; y++ {
			for x := 0; x < OW; x++ {
				y0, x0 := y*g.SH-g.PT, x*g.SW-g.PL
				m, sum, seen := math.Inf(-1), 0.0, 0
				for iy := max(y0, 0); iy < min(y0+g.KH, H); iy++ {
					for ix := max(x0, 0); ix < min(x0+g.KW, W); ix++ {
						v := float64(plane[iy*W+ix])
						m = math.Max(m, v)
						sum += v
						seen++
					}
				}
				v := m
				if !p.Max {
					d := seen
					if p.CountIncludePad {
						d = (min(y0+g.KH, H+g.PB) - y0) * (min(x0+g.KW, W+g.PR) - x0)
					}
					v = sum / float64(d)
				}
				out[(nc*OH+y)*OW+x] = float32(v)
			}
		}
	}
}

// StridedIn implements Strided: the input is contiguous.
func (Pool) StridedIn(int) bool { return false }

// StridedOut implements Strided: the output may be a slice of a
// concatenation (DenseNet's pools write the first part of a dense block).
func (Pool) StridedOut() bool { return true }

// Lower implements Op.
func (p Pool) Lower(l Lowerer, in []Shape, _ Shape) error {
	g := p.Geom(in[0])
	g.Out = l.Layout(Out())
	k, err := shaders.Pool(g, l.Caps().MaxWorkgroupsPerDimension)
	return srcDst(l, k, err)
}

// Random implements Op: a pool has no parameters.
func (p Pool) Random(_ *Rand, in Shape) (Op, []Shape) { return p, []Shape{in} }

// Params implements Op.
func (Pool) Params() [][]float32 { return nil }

// FLOPs implements Op: one per window position.
func (p Pool) FLOPs(_ []Shape, out Shape) int64 { return int64(out.Numel()) * int64(p.KH*p.KW) }

// GlobalAvgPool is out[n,c,0,0] = mean over y, x of in[n,c,y,x].
type GlobalAvgPool struct{}

// Kind implements Op.
func (GlobalAvgPool) Kind() string { return "avgpool" }

// Arity implements Op.
func (GlobalAvgPool) Arity() int { return 1 }

// OutShape implements Op.
func (GlobalAvgPool) OutShape(in []Shape) (Shape, error) {
	n, c, _, _, err := in[0].image("avgpool")
	return Shape{n, c, 1, 1}, err
}

// Describe implements Op.
func (GlobalAvgPool) Describe() string { return "global" }

// Eval implements Op.
func (GlobalAvgPool) Eval(in []Shape, data [][]float32, out []float32) {
	hw := in[0][2] * in[0][3]
	for i := range out {
		var sum float64
		for _, v := range data[0][i*hw : (i+1)*hw] {
			sum += float64(v)
		}
		out[i] = float32(sum / float64(hw))
	}
}

// StridedIn implements Strided: the input is contiguous.
func (GlobalAvgPool) StridedIn(int) bool { return false }

// StridedOut implements Strided.
func (GlobalAvgPool) StridedOut() bool { return true }

// Lower implements Op.
func (GlobalAvgPool) Lower(l Lowerer, in []Shape, _ Shape) error {
	s := in[0]
	k, err := shaders.GlobalAvgPool(s[0], s[1], s[2], s[3], l.Layout(Out()), l.Caps().MaxWorkgroupsPerDimension)
	return srcDst(l, k, err)
}

// Random implements Op.
func (p GlobalAvgPool) Random(_ *Rand, in Shape) (Op, []Shape) { return p, []Shape{in} }

// Params implements Op.
func (GlobalAvgPool) Params() [][]float32 { return nil }

// FLOPs implements Op.
func (GlobalAvgPool) FLOPs(in []Shape, _ Shape) int64 { return int64(in[0].Numel()) }
