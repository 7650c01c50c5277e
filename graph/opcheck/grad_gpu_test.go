package opcheck_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// gradGPUThreshold is the largest GradErr between the float32 backward
// kernels and the float64 reference: float32 sums of at most a few
// hundred products.
const gradGPUThreshold = 1e-5

// gpuRun uploads the named float32 arrays, runs the launches in one
// submission, each binding names from bufs (outputs are created poisoned
// with NaN, a guard of 16 floats after them), and returns the outputs.
type gpuRun struct {
	t    *testing.T
	dev  *gpu.Device
	bufs map[string]*gpu.Buffer
	lens map[string]int
}

func (r *gpuRun) buffer(name string, v []float32) {
	r.t.Helper()
	b, err := r.dev.NewBuffer(name, uint64(4*(len(v)+16)))
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(b.Release)
	data := append(append([]float32(nil), v...), make([]float32, 16)...)
	for i := len(v); i < len(data); i++ {
		data[i] = float32(math.NaN())
	}
	if err := r.dev.Write(b, 0, gpu.Bytes(data)); err != nil {
		r.t.Fatal(err)
	}
	r.bufs[name], r.lens[name] = b, len(v)
}

// output creates a poisoned output of n elements.
func (r *gpuRun) output(name string, n int) {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	r.buffer(name, v)
}

// run records each launch with its bindings renamed by binds[i] (WGSL
// name → buffer name), runs them in one submission and reads back the
// named outputs, checking that their guards stayed NaN.
func (r *gpuRun) run(ls []shaders.Launch, binds []map[string]string, outs ...string) map[string][]float64 {
	r.t.Helper()
	var ds []*gpu.Dispatch
	for i, l := range ls {
		p, err := r.dev.Pipeline(l.Key, l.Source)
		if err != nil {
			r.t.Fatal(err)
		}
		b := gpu.Binds{}
		for _, name := range l.Binds {
			b[name] = r.bufs[binds[i][name]]
		}
		d, err := r.dev.Bind(l.Key.Kernel, p, l.Params, l.Groups, b)
		if err != nil {
			r.t.Fatal(err)
		}
		r.t.Cleanup(d.Release)
		ds = append(ds, d)
	}
	got := map[string][]float32{}
	var reads []gpu.ReadBack
	for _, o := range outs {
		got[o] = make([]float32, r.lens[o]+16)
		reads = append(reads, gpu.ReadBack{Buf: r.bufs[o], Dst: gpu.Bytes(got[o])})
	}
	if _, err := r.dev.Run(ds, reads, false); err != nil {
		r.t.Fatal(err)
	}
	res := map[string][]float64{}
	for _, o := range outs {
		for i, v := range got[o][r.lens[o]:] {
			if !math.IsNaN(float64(v)) {
				r.t.Errorf("%s: guard element %d written (%v)", o, i, v)
			}
		}
		res[o] = graph.To64(got[o][:r.lens[o]])
	}
	return res
}

// The convolution's (input, weight and bias) and the ReLU's backward
// kernels agree with the CPU reference on the ReLU and every convolution
// of the gradient cases without a scale or input stage; a fused ReLU's
// mask runs as relu_grad on the output first, in the same submission, and
// a residual's gradient is the masked output gradient.
func TestGradGPU(t *testing.T) {
	dev := gputest.Device(t)
	maxGroups := dev.Limits.MaxWorkgroupsPerDimension
	worst := map[string]float64{}
	n := 0
	for _, c := range opcheck.GradCases() {
		conv, isConv := c.Op.(*graph.Conv2D)
		_, isReLU := c.Op.(graph.ReLU)
		if !(isConv && conv.Scale == nil && conv.PreScale == nil) && !isReLU {
			continue
		}
		n++
		s, err := c.Setup(1)
		if err != nil {
			t.Fatal(err)
		}
		want := s.Backward()
		r := &gpuRun{t: t, dev: dev, bufs: map[string]*gpu.Buffer{}, lens: map[string]int{}}
		var got [][]float64
		if isReLU {
			l, err := shaders.ReLUGrad(len(s.DOut), maxGroups)
			if err != nil {
				t.Fatal(err)
			}
			r.buffer("dy", graph.To32(s.DOut))
			r.buffer("x", graph.To32(s.X[0]))
			r.output("dx", len(s.DOut))
			out := r.run([]shaders.Launch{l}, []map[string]string{{"dy": "dy", "src": "x", "dx": "dx"}}, "dx")
			got = [][]float64{out["dx"]}
		} else {
			op := s.Op.(*graph.Conv2D)
			g := op.Geom(s.Shapes[0])
			g.ReLU, g.Residual = false, false // the kernels differentiate the sum
			li, err := shaders.ConvInputGrad(g, maxGroups)
			if err != nil {
				t.Fatal(err)
			}
			lw, err := shaders.ConvWeightGrad(g, maxGroups)
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float64, len(s.DOut))
			s.Op.Forward64(s.Shapes, s.X, s.P, out)
			r.buffer("dout", graph.To32(s.DOut))
			r.buffer("out", graph.To32(out))
			r.buffer("x", graph.To32(s.X[0]))
			r.buffer("w", graph.To32(s.P[0]))
			r.output("dz", len(s.DOut))
			r.output("dx", len(s.X[0]))
			r.output("dw", len(s.P[0]))
			dz := "dout"
			var ls []shaders.Launch
			var binds []map[string]string
			if op.ReLU {
				l, err := shaders.ReLUGrad(len(s.DOut), maxGroups)
				if err != nil {
					t.Fatal(err)
				}
				ls, binds, dz = append(ls, l), append(binds, map[string]string{"dy": "dout", "src": "out", "dx": "dz"}), "dz"
			}
			ls = append(ls, li, lw)
			binds = append(binds, map[string]string{"dy": dz, "weight": "w", "dx": "dx"}, map[string]string{"dy": dz, "src": "x", "dweight": "dw"})
			outs := []string{"dx", "dw", "dz"}
			if op.Bias != nil {
				lb, err := shaders.ChannelSum(g.N, g.Cout, g.OH()*g.OW(), maxGroups)
				if err != nil {
					t.Fatal(err)
				}
				r.output("db", g.Cout)
				ls, binds, outs = append(ls, lb), append(binds, map[string]string{"dy": dz, "dbias": "db"}), append(outs, "db")
			}
			res := r.run(ls, binds, outs...)
			got = [][]float64{res["dx"]}
			if op.Residual {
				d := res["dz"]
				if !op.ReLU {
					d = s.DOut
				}
				got = append(got, d)
			}
			got = append(got, res["dw"])
			if op.Bias != nil {
				got = append(got, res["db"])
			}
		}
		e, err := opcheck.GradErr(got, want)
		if err != nil || e > gradGPUThreshold {
			t.Errorf("%s: GPU backward vs CPU reference: max rel err %.3e (threshold %.0e) %v", c, e, gradGPUThreshold, err)
		}
		worst[c.Op.Kind()] = max(worst[c.Op.Kind()], e)
	}
	if n == 0 {
		t.Fatal("no cases")
	}
	t.Logf("%d cases: %v", n, fmt.Sprint(worst))
}
