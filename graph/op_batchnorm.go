package graph

import (
	"fmt"
	"math"

	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// BatchNormTrain is training-mode batch normalisation over axis 1, with
// the batch's statistics (PyTorch's BatchNorm2d in train()):
//
//	out[n,c,…] = (in[n,c,…] − μ[c]) / sqrt(σ²[c] + Eps) · Gamma[c] + Beta[c],
//
// μ and σ² the mean and biased variance of channel c over the batch and
// the spatial positions, then max(·,0) if ReLU. It updates no running
// statistics: a training graph measures gradients, and a trainer would keep
// those itself. Training graphs use it where inference graphs have
// BatchNorm (which the inference passes fold into the convolution).
type BatchNormTrain struct {
	Gamma, Beta []float32
	Eps         float64
	ReLU        bool
}

// Kind implements Op.
func (b *BatchNormTrain) Kind() string { return "batchnorm_train" }

// Arity implements Op.
func (b *BatchNormTrain) Arity() int { return 1 }

// OutShape implements Op.
func (b *BatchNormTrain) OutShape(in []Shape) (Shape, error) {
	if len(in[0]) < 2 {
		return nil, fmt.Errorf("batchnorm_train: input has shape %v, want channels on axis 1", in[0])
	}
	c := in[0][1]
	if len(b.Gamma) != c || len(b.Beta) != c {
		return nil, fmt.Errorf("batchnorm_train: %d weights and %d biases for %d channels", len(b.Gamma), len(b.Beta), c)
	}
	if b.Eps <= 0 {
		return nil, fmt.Errorf("batchnorm_train: eps %g is not positive", b.Eps)
	}
	return in[0].Clone(), nil
}

// Describe implements Op.
func (b *BatchNormTrain) Describe() string {
	if b.ReLU {
		return fmt.Sprintf("eps=%g,relu", b.Eps)
	}
	return fmt.Sprintf("eps=%g", b.Eps)
}

// Eval implements Op through Forward64.
func (b *BatchNormTrain) Eval(in []Shape, data [][]float32, out []float32) {
	eval64(b, in, data, out)
}

// Lower implements Op: batchnorm_train.wgsl, the statistics and the
// normalisation per channel.
func (b *BatchNormTrain) Lower(l Lowerer, in []Shape, _ Shape) error {
	s := in[0]
	k, err := shaders.BatchNormTrain(s[0], s[1], s.Numel()/(s[0]*s[1]), b.Eps, b.ReLU, l.Caps().MaxWorkgroupsPerDimension)
	if err != nil {
		return err
	}
	l.Launch(k, map[string]Res{"src": In(0), "gamma": Param("gamma", b.Gamma), "beta": Param("beta", b.Beta), "dst": Out()})
	return nil
}

// Random implements Op: gammas in [0.5, 1.5), betas in [-0.5, 0.5).
func (b *BatchNormTrain) Random(r *Rand, in Shape) (Op, []Shape) {
	eps := b.Eps
	if eps == 0 {
		eps = 1e-5
	}
	return &BatchNormTrain{Gamma: r.Uniform(in[1], 0.5, 1.5), Beta: r.Uniform(in[1], -0.5, 0.5), Eps: eps, ReLU: b.ReLU}, []Shape{in}
}

// Params implements Op.
func (b *BatchNormTrain) Params() [][]float32 { return [][]float32{b.Gamma, b.Beta} }

// FLOPs implements Op: the statistics (3 an element) and the affine (2).
func (b *BatchNormTrain) FLOPs(_ []Shape, out Shape) int64 { return 5 * int64(out.Numel()) }

// Trainable implements Differentiable.
func (b *BatchNormTrain) Trainable() ([]string, [][]float32) {
	return []string{"weight", "bias"}, [][]float32{b.Gamma, b.Beta}
}

// stats returns x̂ (the normalised input) and 1/sqrt(σ²+Eps) per channel.
func (b *BatchNormTrain) stats(s Shape, x []float64) (xhat, inv []float64) {
	c, inner := s[1], s.Numel()/(s[0]*s[1])
	m := float64(s[0] * inner)
	mean, inv := make([]float64, c), make([]float64, c)
	for i, v := range x {
		mean[i/inner%c] += v
	}
	for k := range mean {
		mean[k] /= m
	}
	for i, v := range x {
		d := v - mean[i/inner%c]
		inv[i/inner%c] += d * d
	}
	for k := range inv {
		inv[k] = 1 / math.Sqrt(inv[k]/m+b.Eps)
	}
	xhat = make([]float64, len(x))
	for i, v := range x {
		k := i / inner % c
		xhat[i] = (v - mean[k]) * inv[k]
	}
	return xhat, inv
}

// Forward64 implements Differentiable with p = Gamma, Beta.
func (b *BatchNormTrain) Forward64(in []Shape, x, p [][]float64, out []float64) {
	s := in[0]
	c, inner := s[1], s.Numel()/(s[0]*s[1])
	xhat, _ := b.stats(s, x[0])
	for i, v := range xhat {
		k := i / inner % c
		y := v*p[0][k] + p[1][k]
		if b.ReLU {
			y = math.Max(y, 0)
		}
		out[i] = y
	}
}

// Backward64 implements Differentiable. With dz the output gradient
// masked by the ReLU, M the elements of a channel and the sums over them,
//
//	dGamma = Σ dz·x̂, dBeta = Σ dz,
//	dx = Gamma/sqrt(σ²+Eps) · (dz − dBeta/M − x̂·dGamma/M).
func (b *BatchNormTrain) Backward64(in []Shape, x, p [][]float64, out, dout []float64) ([][]float64, [][]float64) {
	s := in[0]
	c, inner := s[1], s.Numel()/(s[0]*s[1])
	m := float64(s[0] * inner)
	xhat, inv := b.stats(s, x[0])
	dz := reluMask(b.ReLU, out, dout)
	dg, db := make([]float64, c), make([]float64, c)
	for i, d := range dz {
		k := i / inner % c
		dg[k] += d * xhat[i]
		db[k] += d
	}
	dx := make([]float64, len(dz))
	for i, d := range dz {
		k := i / inner % c
		dx[i] = p[0][k] * inv[k] * (d - db[k]/m - xhat[i]*dg[k]/m)
	}
	return [][]float64{dx}, [][]float64{dg, db}
}
