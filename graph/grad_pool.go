package graph

import "math"

// Trainable implements Differentiable: a pool has no parameters.
func (Pool) Trainable() ([]string, [][]float32) { return nil, nil }

// window calls f(iy, ix) for the positions inside the image of the
// window of output (y, x), and returns the average's divisor.
func (p Pool) window(g poolGeom64, y, x int, f func(iy, ix int)) int {
	y0, x0 := y*p.Stride[0]-p.Pad[0], x*p.Stride[1]-p.Pad[1]
	seen := 0
	for iy := max(y0, 0); iy < min(y0+p.KH, g.H); iy++ {
		for ix := max(x0, 0); ix < min(x0+p.KW, g.W); ix++ {
			f(iy, ix)
			seen++
		}
	}
	if p.CountIncludePad {
		return (min(y0+p.KH, g.H+p.Pad[2]) - y0) * (min(x0+p.KW, g.W+p.Pad[3]) - x0)
	}
	return seen
}

// poolGeom64 is the geometry the float64 pool loops read.
type poolGeom64 struct{ NC, H, W, OH, OW int }

func (p Pool) geom64(in Shape) poolGeom64 {
	g := p.Geom(in)
	return poolGeom64{NC: g.N * g.C, H: g.H, W: g.W, OH: g.OH(), OW: g.OW()}
}

// Forward64 implements Differentiable.
func (p Pool) Forward64(in []Shape, x, _ [][]float64, out []float64) {
	g := p.geom64(in[0])
	for nc := 0; nc < g.NC; nc++ {
		plane := x[0][nc*g.H*g.W:]
		for y := 0; y < g.OH; y++ {
			for xo := 0; xo < g.OW; xo++ {
				m, sum := math.Inf(-1), 0.0
				d := p.window(g, y, xo, func(iy, ix int) {
					v := plane[iy*g.W+ix]
					m = math.Max(m, v)
					sum += v
				})
				if !p.Max {
					m = sum / float64(d)
				}
				out[(nc*g.OH+y)*g.OW+xo] = m
			}
		}
	}
}

// Backward64 implements Differentiable: a max pool routes each output's
// gradient to the first position (in scan order) holding the window's
// maximum, as PyTorch does; an average pool spreads it evenly, dout/d, over
// the window's positions inside the image.
func (p Pool) Backward64(in []Shape, x, _ [][]float64, _, dout []float64) ([][]float64, [][]float64) {
	g := p.geom64(in[0])
	dx := make([]float64, len(x[0]))
	for nc := 0; nc < g.NC; nc++ {
		plane, dplane := x[0][nc*g.H*g.W:], dx[nc*g.H*g.W:]
		for y := 0; y < g.OH; y++ {
			for xo := 0; xo < g.OW; xo++ {
				d := dout[(nc*g.OH+y)*g.OW+xo]
				if p.Max {
					m, at := math.Inf(-1), -1
					p.window(g, y, xo, func(iy, ix int) {
						if v := plane[iy*g.W+ix]; v > m {
							m, at = v, iy*g.W+ix
						}
					})
					if at >= 0 {
						dplane[at] += d
					}
					continue
				}
				var pos []int
				div := p.window(g, y, xo, func(iy, ix int) { pos = append(pos, iy*g.W+ix) })
				for _, k := range pos {
					dplane[k] += d / float64(div)
				}
			}
		}
	}
	return [][]float64{dx}, nil
}
