package graph

import "math"

// Trainable implements Differentiable: the weights, then the bias if
// present. Scale and the input stage (PreScale, PreShift) are constants:
// training graphs keep their batch-norms as separate ops.
func (c *Conv2D) Trainable() ([]string, [][]float32) {
	if c.Bias == nil {
		return []string{"weight"}, [][]float32{c.Weight}
	}
	return []string{"weight", "bias"}, [][]float32{c.Weight, c.Bias}
}

// staged returns the convolution's input after its input stage (a copy
// of x when there is none).
func (c *Conv2D) staged(in Shape, x []float64) []float64 {
	xs := append([]float64(nil), x...)
	if c.PreScale == nil {
		return xs
	}
	hw := in[2] * in[3]
	for i, v := range xs {
		ch := i / hw % c.Cin
		y := v*float64(c.PreScale[ch]) + float64(c.PreShift[ch])
		if c.PreReLU {
			y = math.Max(y, 0)
		}
		xs[i] = y
	}
	return xs
}

// xRange returns the output columns [x0, x1) whose tap j reads a column
// inside the W-wide image, and the column the first one reads (0, 0, 0
// when there are none).
func (g convGeom64) xRange(j int) (x0, x1, ix0 int) {
	off := j*g.DW - g.PL // ix = x·SW + off
	x0 = 0
	if off < 0 {
		x0 = (-off + g.SW - 1) / g.SW
	}
	x1 = min(g.OW, (g.W-1-off)/g.SW+1)
	if g.W-1-off < 0 || x1 <= x0 {
		return 0, 0, 0
	}
	return x0, x1, x0*g.SW + off
}

// rows calls f(y, iy) for the output rows y whose tap i reads row iy
// inside the image.
func (g convGeom64) rows(i int, f func(y, iy int)) {
	for y := 0; y < g.OH; y++ {
		if iy := y*g.SH - g.PT + i*g.DH; iy >= 0 && iy < g.H {
			f(y, iy)
		}
	}
}

// convGeom64 is the geometry the float64 convolution loops read.
type convGeom64 struct {
	N, Cin, Cout, H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW, Cg, Og int
}

func (c *Conv2D) geom64(in Shape) convGeom64 {
	g := c.Geom(in)
	return convGeom64{N: g.N, Cin: g.Cin, Cout: g.Cout, H: g.H, W: g.W, OH: g.OH(), OW: g.OW(),
		KH: g.KH, KW: g.KW, SH: g.SH, SW: g.SW, PT: g.PT, PL: g.PL, DH: g.DH, DW: g.DW,
		Cg: g.Cin / g.Groups, Og: g.Cout / g.Groups}
}

// Forward64 implements Differentiable: Eval in float64 with p = Weight
// (and Bias).
func (c *Conv2D) Forward64(in []Shape, x, p [][]float64, out []float64) {
	g := c.geom64(in[0])
	xs := c.staged(in[0], x[0])
	w := p[0]
	parallel(g.N*g.Cout, func(task int) {
		n, oc := task/g.Cout, task%g.Cout
		acc := make([]float64, g.OH*g.OW)
		for c0 := 0; c0 < g.Cg; c0++ {
			ci := oc/g.Og*g.Cg + c0
			plane := xs[(n*g.Cin+ci)*g.H*g.W:]
			for i := 0; i < g.KH; i++ {
				for j := 0; j < g.KW; j++ {
					wv := w[((oc*g.Cg+c0)*g.KH+i)*g.KW+j]
					x0, x1, ix0 := g.xRange(j)
					g.rows(i, func(y, iy int) {
						a, in := acc[y*g.OW:], plane[iy*g.W+ix0:]
						for x := x0; x < x1; x++ {
							a[x] += wv * in[(x-x0)*g.SW]
						}
					})
				}
			}
		}
		scale, bias := 1.0, 0.0
		if c.Scale != nil {
			scale = float64(c.Scale[oc])
		}
		if len(p) > 1 {
			bias = p[1][oc]
		}
		base := (n*g.Cout + oc) * g.OH * g.OW
		for k, a := range acc {
			v := scale*a + bias
			if c.Residual {
				v += x[1][base+k]
			}
			if c.ReLU {
				v = math.Max(v, 0)
			}
			out[base+k] = v
		}
	})
}

// Backward64 implements Differentiable. With dz the output gradient
// masked by a fused ReLU, da = dz·Scale[o] and xs the staged input:
//
//	dW[o,c,i,j] = Σ_{n,y,x} da[n,o,y,x] · xs[n, g·Cg + c, y·SY − PT + i·DY, x·SX − PL + j·DX]
//	dxs[n,ci,…] = Σ over the taps that read it of W[o,c,i,j] · da[n,o,y,x]
//	dBias[o] = Σ_{n,y,x} dz[n,o,y,x], dres = dz,
//
// and dx = dxs·PreScale (zero where a pre-ReLU clipped) through an input
// stage.
func (c *Conv2D) Backward64(in []Shape, x, p [][]float64, out, dout []float64) ([][]float64, [][]float64) {
	g := c.geom64(in[0])
	xs := c.staged(in[0], x[0])
	w := p[0]
	dz := reluMask(c.ReLU, out, dout)
	da := append([]float64(nil), dz...)
	if c.Scale != nil {
		for i := range da {
			da[i] *= float64(c.Scale[i/(g.OH*g.OW)%g.Cout])
		}
	}
	dw := make([]float64, len(w))
	parallel(g.Cout, func(oc int) {
		for n := 0; n < g.N; n++ {
			d := da[(n*g.Cout+oc)*g.OH*g.OW:]
			for c0 := 0; c0 < g.Cg; c0++ {
				ci := oc/g.Og*g.Cg + c0
				plane := xs[(n*g.Cin+ci)*g.H*g.W:]
				for i := 0; i < g.KH; i++ {
					for j := 0; j < g.KW; j++ {
						var sum float64
						x0, x1, ix0 := g.xRange(j)
						g.rows(i, func(y, iy int) {
							dy, in := d[y*g.OW:], plane[iy*g.W+ix0:]
							for x := x0; x < x1; x++ {
								sum += dy[x] * in[(x-x0)*g.SW]
							}
						})
						dw[((oc*g.Cg+c0)*g.KH+i)*g.KW+j] += sum
					}
				}
			}
		}
	})
	dx := make([]float64, len(xs))
	parallel(g.N*g.Cin, func(task int) {
		n, ci := task/g.Cin, task%g.Cin
		grp, c0 := ci/g.Cg, ci%g.Cg
		plane := dx[(n*g.Cin+ci)*g.H*g.W:]
		for oc := grp * g.Og; oc < (grp+1)*g.Og; oc++ {
			d := da[(n*g.Cout+oc)*g.OH*g.OW:]
			for i := 0; i < g.KH; i++ {
				for j := 0; j < g.KW; j++ {
					wv := w[((oc*g.Cg+c0)*g.KH+i)*g.KW+j]
					x0, x1, ix0 := g.xRange(j)
					g.rows(i, func(y, iy int) {
						dy, dxr := d[y*g.OW:], plane[iy*g.W+ix0:]
						for x := x0; x < x1; x++ {
							dxr[(x-x0)*g.SW] += wv * dy[x]
						}
					})
				}
			}
		}
	})
	if c.PreScale != nil {
		hw := g.H * g.W
		for i := range dx {
			ch := i / hw % g.Cin
			if c.PreReLU && xs[i] <= 0 {
				dx[i] = 0
			} else {
				dx[i] *= float64(c.PreScale[ch])
			}
		}
	}
	dp := [][]float64{dw}
	if len(p) > 1 {
		db := make([]float64, g.Cout)
		for i, d := range dz {
			db[i/(g.OH*g.OW)%g.Cout] += d
		}
		dp = append(dp, db)
	}
	dxs := [][]float64{dx}
	if c.Residual {
		dxs = append(dxs, dz)
	}
	return dxs, dp
}
