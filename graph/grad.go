package graph

import "math"

// Differentiable is implemented by ops with a reverse-mode gradient, the
// ops a training graph is made of. Its methods work in float64 throughout
// (the CPU reference of the backward pass), on the op's trainable
// parameters passed in explicitly so that a trainer can hold, update and
// perturb them (finite differences) without rebuilding the op; the op's
// other parameters (a frozen batch-norm's statistics, a convolution's
// Scale or input stage) are read from the op and treated as constants.
type Differentiable interface {
	Op
	// Trainable names the op's trainable parameter arrays ("weight",
	// "bias") and returns their values, in the order Forward64 and
	// Backward64 take them.
	Trainable() (names []string, vals [][]float32)
	// Forward64 computes the op like Eval, in float64: from the inputs x
	// of shapes in and the trainable parameters p into out.
	Forward64(in []Shape, x, p [][]float64, out []float64)
	// Backward64 returns the gradients of a scalar loss with respect to
	// each input (dx) and each trainable parameter (dp), given the
	// forward's inputs x, parameters p and output out, and the loss's
	// gradient with respect to the output, dout.
	Backward64(in []Shape, x, p [][]float64, out, dout []float64) (dx, dp [][]float64)
}

// To64 returns v in float64.
func To64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = float64(f)
	}
	return out
}

// To32 returns v rounded to float32.
func To32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = float32(f)
	}
	return out
}

// eval64 is Eval for ops defined by their Forward64: the inputs and the
// trainable parameters in float64, the output rounded once.
func eval64(op Differentiable, in []Shape, data [][]float32, out []float32) {
	x := make([][]float64, len(data))
	for i, d := range data {
		x[i] = To64(d)
	}
	_, vals := op.Trainable()
	p := make([][]float64, len(vals))
	for i, v := range vals {
		p[i] = To64(v)
	}
	o := make([]float64, len(out))
	op.Forward64(in, x, p, o)
	for i, v := range o {
		out[i] = float32(v)
	}
}

// reluMask zeroes dout where out is not positive (the output of a fused
// ReLU), in a copy.
func reluMask(relu bool, out, dout []float64) []float64 {
	d := append([]float64(nil), dout...)
	if relu {
		for i, v := range out {
			if v <= 0 {
				d[i] = 0
			}
		}
	}
	return d
}

// Trainable implements Differentiable: a ReLU has no parameters.
func (ReLU) Trainable() ([]string, [][]float32) { return nil, nil }

// Forward64 implements Differentiable.
func (ReLU) Forward64(_ []Shape, x, _ [][]float64, out []float64) {
	for i, v := range x[0] {
		out[i] = math.Max(v, 0)
	}
}

// Backward64 implements Differentiable: dx = dout where x > 0, else 0
// (PyTorch's choice at 0).
func (ReLU) Backward64(_ []Shape, x, _ [][]float64, _, dout []float64) ([][]float64, [][]float64) {
	dx := make([]float64, len(dout))
	for i, v := range x[0] {
		if v > 0 {
			dx[i] = dout[i]
		}
	}
	return [][]float64{dx}, nil
}

// Trainable implements Differentiable: a clamp has no parameters.
func (Clip) Trainable() ([]string, [][]float32) { return nil, nil }

// Forward64 implements Differentiable.
func (c Clip) Forward64(_ []Shape, x, _ [][]float64, out []float64) {
	for i, v := range x[0] {
		out[i] = min(max(v, float64(c.Min)), float64(c.Max))
	}
}

// Backward64 implements Differentiable: dx = dout where Min <= x <= Max,
// else 0 (PyTorch's clamp's choice at the bounds).
func (c Clip) Backward64(_ []Shape, x, _ [][]float64, _, dout []float64) ([][]float64, [][]float64) {
	dx := make([]float64, len(dout))
	for i, v := range x[0] {
		if v >= float64(c.Min) && v <= float64(c.Max) {
			dx[i] = dout[i]
		}
	}
	return [][]float64{dx}, nil
}

// Trainable implements Differentiable: an addition has no parameters.
func (Add) Trainable() ([]string, [][]float32) { return nil, nil }

// Forward64 implements Differentiable.
func (a Add) Forward64(_ []Shape, x, _ [][]float64, out []float64) {
	for i := range out {
		v := x[0][i] + x[1][i]
		if a.ReLU {
			v = math.Max(v, 0)
		}
		out[i] = v
	}
}

// Backward64 implements Differentiable: both inputs get dout (masked by
// a fused ReLU).
func (a Add) Backward64(_ []Shape, _, _ [][]float64, out, dout []float64) ([][]float64, [][]float64) {
	d := reluMask(a.ReLU, out, dout)
	return [][]float64{d, append([]float64(nil), d...)}, nil
}

// Trainable implements Differentiable: a view has no parameters.
func (view) Trainable() ([]string, [][]float32) { return nil, nil }

// Forward64 implements Differentiable: a copy.
func (view) Forward64(_ []Shape, x, _ [][]float64, out []float64) { copy(out, x[0]) }

// Backward64 implements Differentiable: the gradient passes unchanged.
func (view) Backward64(_ []Shape, _, _ [][]float64, _, dout []float64) ([][]float64, [][]float64) {
	return [][]float64{append([]float64(nil), dout...)}, nil
}

// Trainable implements Differentiable: a global pool has no parameters.
func (GlobalAvgPool) Trainable() ([]string, [][]float32) { return nil, nil }

// Forward64 implements Differentiable.
func (GlobalAvgPool) Forward64(in []Shape, x, _ [][]float64, out []float64) {
	hw := in[0][2] * in[0][3]
	for i := range out {
		var sum float64
		for _, v := range x[0][i*hw : (i+1)*hw] {
			sum += v
		}
		out[i] = sum / float64(hw)
	}
}

// Backward64 implements Differentiable: dx[n,c,y,x] = dout[n,c] / (H·W).
func (GlobalAvgPool) Backward64(in []Shape, _, _ [][]float64, _, dout []float64) ([][]float64, [][]float64) {
	hw := in[0][2] * in[0][3]
	dx := make([]float64, in[0].Numel())
	for i := range dx {
		dx[i] = dout[i/hw] / float64(hw)
	}
	return [][]float64{dx}, nil
}

// Trainable implements Differentiable: the weights, then the bias if
// present.
func (l *Linear) Trainable() ([]string, [][]float32) {
	if l.Bias == nil {
		return []string{"weight"}, [][]float32{l.Weight}
	}
	return []string{"weight", "bias"}, [][]float32{l.Weight, l.Bias}
}

// Forward64 implements Differentiable.
func (l *Linear) Forward64(in []Shape, x, p [][]float64, out []float64) {
	for n := 0; n < in[0][0]; n++ {
		xn := x[0][n*l.In : (n+1)*l.In]
		for o := 0; o < l.Out; o++ {
			var sum float64
			for i, w := range p[0][o*l.In : (o+1)*l.In] {
				sum += w * xn[i]
			}
			if len(p) > 1 {
				sum += p[1][o]
			}
			out[n*l.Out+o] = sum
		}
	}
}

// Backward64 implements Differentiable:
//
//	dx[n,i] = Σ_o dout[n,o]·W[o,i], dW[o,i] = Σ_n dout[n,o]·x[n,i], dBias[o] = Σ_n dout[n,o].
func (l *Linear) Backward64(in []Shape, x, p [][]float64, _, dout []float64) ([][]float64, [][]float64) {
	batch := in[0][0]
	dx, dw := make([]float64, batch*l.In), make([]float64, l.Out*l.In)
	db := make([]float64, l.Out)
	for n := 0; n < batch; n++ {
		xn, dxn := x[0][n*l.In:(n+1)*l.In], dx[n*l.In:(n+1)*l.In]
		for o := 0; o < l.Out; o++ {
			d := dout[n*l.Out+o]
			db[o] += d
			w, dwo := p[0][o*l.In:(o+1)*l.In], dw[o*l.In:(o+1)*l.In]
			for i := range xn {
				dxn[i] += d * w[i]
				dwo[i] += d * xn[i]
			}
		}
	}
	dp := [][]float64{dw}
	if len(p) > 1 {
		dp = append(dp, db)
	}
	return [][]float64{dx}, dp
}

// Trainable implements Differentiable: a softmax has no parameters.
func (Softmax) Trainable() ([]string, [][]float32) { return nil, nil }

// Forward64 implements Differentiable.
func (Softmax) Forward64(in []Shape, x, _ [][]float64, out []float64) {
	rows, n := softmaxRows(in[0])
	for r := 0; r < rows; r++ {
		softmax64(x[0][r*n:(r+1)*n], out[r*n:(r+1)*n])
	}
}

// softmax64 writes the softmax of x into y.
func softmax64(x, y []float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	var sum float64
	for i, v := range x {
		y[i] = math.Exp(v - m)
		sum += y[i]
	}
	for i := range y {
		y[i] /= sum
	}
}

// Backward64 implements Differentiable: dx = y ⊙ (dout − Σ_k dout_k·y_k)
// along each row.
func (Softmax) Backward64(in []Shape, _, _ [][]float64, out, dout []float64) ([][]float64, [][]float64) {
	rows, n := softmaxRows(in[0])
	dx := make([]float64, len(out))
	for r := 0; r < rows; r++ {
		y, d := out[r*n:(r+1)*n], dout[r*n:(r+1)*n]
		var dot float64
		for k := range y {
			dot += d[k] * y[k]
		}
		for k := range y {
			dx[r*n+k] = y[k] * (d[k] - dot)
		}
	}
	return [][]float64{dx}, nil
}

// Trainable implements Differentiable: Gamma and Beta; the running
// statistics Mean and Var are constants (eval mode).
func (b *BatchNorm) Trainable() ([]string, [][]float32) {
	return []string{"weight", "bias"}, [][]float32{b.Gamma, b.Beta}
}

// Forward64 implements Differentiable: Eval with p = Gamma, Beta.
func (b *BatchNorm) Forward64(in []Shape, x, p [][]float64, out []float64) {
	s := in[0]
	inner := s.Numel() / (s[0] * s[1])
	for i, v := range x[0] {
		c := i / inner % s[1]
		y := (v-float64(b.Mean[c]))/math.Sqrt(float64(b.Var[c])+b.Eps)*p[0][c] + p[1][c]
		if b.ReLU {
			y = math.Max(y, 0)
		}
		out[i] = y
	}
}

// Backward64 implements Differentiable: with x̂ = (x − Mean)/sqrt(Var + Eps)
// and dz the output gradient masked by the ReLU,
//
//	dx = dz·Gamma/sqrt(Var + Eps), dGamma[c] = Σ dz·x̂, dBeta[c] = Σ dz.
func (b *BatchNorm) Backward64(in []Shape, x, p [][]float64, out, dout []float64) ([][]float64, [][]float64) {
	s := in[0]
	inner := s.Numel() / (s[0] * s[1])
	dz := reluMask(b.ReLU, out, dout)
	dx := make([]float64, len(dz))
	dg, db := make([]float64, s[1]), make([]float64, s[1])
	for i, d := range dz {
		c := i / inner % s[1]
		inv := 1 / math.Sqrt(float64(b.Var[c])+b.Eps)
		dx[i] = d * p[0][c] * inv
		dg[c] += d * (x[0][i] - float64(b.Mean[c])) * inv
		db[c] += d
	}
	return [][]float64{dx}, [][]float64{dg, db}
}
