package ref

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/resnet-gpu/resnet-gpu/graph"
)

// Executor is the CPU reference. The zero value is ready to use.
type Executor struct{}

// Name implements graph.Executor.
func (Executor) Name() string { return "cpu reference" }

// Compile implements graph.Executor.
func (Executor) Compile(g *graph.Graph) (graph.Program, error) {
	for _, n := range g.Nodes {
		switch n.Op.(type) {
		case *graph.Conv2D, *graph.BatchNorm, graph.ReLU, graph.Add, graph.MaxPool,
			graph.GlobalAvgPool, *graph.Linear, graph.Softmax:
		default:
			return nil, fmt.Errorf("ref: %s: unsupported op %s", n.Name, n.Op.Kind())
		}
	}
	return &program{g: g}, nil
}

type program struct{ g *graph.Graph }

func (p *program) Close() {}

// Run implements graph.Program.
func (p *program) Run(inputs ...[]float32) ([][]float32, error) {
	g := p.g
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("ref: %d inputs, want %d", len(inputs), len(g.Inputs))
	}
	vals := map[int][]float32{}
	for i, v := range g.Inputs {
		if len(inputs[i]) != v.Shape.Numel() {
			return nil, fmt.Errorf("ref: input %s has %d elements, want %d (%v)", v.Name, len(inputs[i]), v.Shape.Numel(), v.Shape)
		}
		vals[v.ID] = inputs[i]
	}
	last := g.LastUse()
	keep := map[int]bool{}
	for _, v := range g.Outputs {
		keep[v.ID] = true
	}
	for _, n := range g.Nodes {
		in := make([][]float32, len(n.Inputs))
		for i, v := range n.Inputs {
			in[i] = vals[v.ID]
		}
		vals[n.Out.ID] = Apply(n.Op, n.Inputs[0].Shape, n.Out.Shape, in)
		for _, v := range n.Inputs {
			if last[v.ID] == n.ID && !keep[v.ID] {
				delete(vals, v.ID)
			}
		}
	}
	out := make([][]float32, len(g.Outputs))
	for i, v := range g.Outputs {
		out[i] = vals[v.ID]
	}
	return out, nil
}

// Apply computes one op on the CPU: in holds the op's inputs, the first of
// shape s, and the result has shape o.
func Apply(op graph.Op, s, o graph.Shape, in [][]float32) []float32 {
	out := make([]float32, o.Numel())
	switch op := op.(type) {
	case *graph.Conv2D:
		var res []float32
		if op.Residual {
			res = in[1]
		}
		conv2D(op, s, o, in[0], res, out)
	case *graph.BatchNorm:
		batchNorm(op, s, in[0], out)
	case graph.ReLU:
		for i, v := range in[0] {
			out[i] = float32(math.Max(float64(v), 0))
		}
	case graph.Add:
		for i := range out {
			v := float64(in[0][i]) + float64(in[1][i])
			if op.ReLU {
				v = math.Max(v, 0)
			}
			out[i] = float32(v)
		}
	case graph.MaxPool:
		maxPool(op, s, o, in[0], out)
	case graph.GlobalAvgPool:
		hw := s[2] * s[3]
		for i := 0; i < s[0]*s[1]; i++ {
			var sum float64
			for _, v := range in[0][i*hw : (i+1)*hw] {
				sum += float64(v)
			}
			out[i] = float32(sum / float64(hw))
		}
	case *graph.Linear:
		linear(op, s[0], in[0], out)
	case graph.Softmax:
		per := s[1] * s[2] * s[3]
		for n := 0; n < s[0]; n++ {
			softmax(in[0][n*per:(n+1)*per], out[n*per:(n+1)*per])
		}
	}
	return out
}

// parallel runs f(i) for i in [0,n) on all cores.
func parallel(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// conv2D computes
//
//	out[n,o,y,x] = scale[o] * Σ_{c,i,j} w[o,c,i,j] * in[n,c,y*S-P+i,x*S-P+j] + bias[o] (+ res) (ReLU)
//
// with a float64 accumulator per output element; one task per (n, o).
func conv2D(op *graph.Conv2D, s, o graph.Shape, in, res, out []float32) {
	H, W, OH, OW := s[2], s[3], o[2], o[3]
	parallel(o[0]*op.Cout, func(task int) {
		n, oc := task/op.Cout, task%op.Cout
		acc := make([]float64, OH*OW)
		for c := 0; c < op.Cin; c++ {
			plane := in[(n*op.Cin+c)*H*W : (n*op.Cin+c+1)*H*W]
			for i := 0; i < op.KH; i++ {
				for j := 0; j < op.KW; j++ {
					w := float64(op.Weight[((oc*op.Cin+c)*op.KH+i)*op.KW+j])
					for y := 0; y < OH; y++ {
						iy := y*op.Stride - op.Pad + i
						if iy < 0 || iy >= H {
							continue
						}
						row := plane[iy*W : (iy+1)*W]
						a := acc[y*OW : (y+1)*OW]
						for x := range a {
							ix := x*op.Stride - op.Pad + j
							if ix >= 0 && ix < W {
								a[x] += w * float64(row[ix])
							}
						}
					}
				}
			}
		}
		scale, bias := 1.0, 0.0
		if op.Scale != nil {
			scale = float64(op.Scale[oc])
		}
		if op.Bias != nil {
			bias = float64(op.Bias[oc])
		}
		base := (n*op.Cout + oc) * OH * OW
		for k, a := range acc {
			v := float64(scale*a) + bias
			if res != nil {
				v += float64(res[base+k])
			}
			if op.ReLU {
				v = math.Max(v, 0)
			}
			out[base+k] = float32(v)
		}
	})
}

// batchNorm computes out = (in - mean) / sqrt(var + eps) * gamma + beta.
func batchNorm(op *graph.BatchNorm, s graph.Shape, in, out []float32) {
	hw := s[2] * s[3]
	for n := 0; n < s[0]; n++ {
		for c := 0; c < s[1]; c++ {
			k := float64(op.Gamma[c]) / math.Sqrt(float64(op.Var[c])+op.Eps)
			base := (n*s[1] + c) * hw
			for i := base; i < base+hw; i++ {
				out[i] = float32(float64((float64(in[i])-float64(op.Mean[c]))*k) + float64(op.Beta[c]))
			}
		}
	}
}

// maxPool computes out[n,c,y,x] = max of in over the window, skipping
// positions outside the image.
func maxPool(op graph.MaxPool, s, o graph.Shape, in, out []float32) {
	H, W, OH, OW := s[2], s[3], o[2], o[3]
	for nc := 0; nc < s[0]*s[1]; nc++ {
		plane := in[nc*H*W : (nc+1)*H*W]
		for y := 0; y < OH; y++ {
			for x := 0; x < OW; x++ {
				m := math.Inf(-1)
				for i := 0; i < op.K; i++ {
					for j := 0; j < op.K; j++ {
						iy, ix := y*op.Stride-op.Pad+i, x*op.Stride-op.Pad+j
						if iy >= 0 && iy < H && ix >= 0 && ix < W {
							m = math.Max(m, float64(plane[iy*W+ix]))
						}
					}
				}
				out[(nc*OH+y)*OW+x] = float32(m)
			}
		}
	}
}

// linear computes out[n,o] = Σ_i W[o,i] * in[n,i] + bias[o].
func linear(op *graph.Linear, batch int, in, out []float32) {
	parallel(op.Out, func(o int) {
		w := op.Weight[o*op.In : (o+1)*op.In]
		for n := 0; n < batch; n++ {
			x := in[n*op.In : (n+1)*op.In]
			var sum float64
			for i := range w {
				sum += float64(w[i]) * float64(x[i])
			}
			if op.Bias != nil {
				sum += float64(op.Bias[o])
			}
			out[n*op.Out+o] = float32(sum)
		}
	})
}

// softmax computes out = exp(in - max) / Σ exp(in - max).
func softmax(in, out []float32) {
	m := math.Inf(-1)
	for _, v := range in {
		m = math.Max(m, float64(v))
	}
	var sum float64
	for _, v := range in {
		sum += math.Exp(float64(v) - m)
	}
	for i, v := range in {
		out[i] = float32(math.Exp(float64(v)-m) / sum)
	}
}
