package shaders_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// The output buffer is poisoned with this NaN and followed by guard floats
// that must stay poisoned.
const (
	poisonBits = 0x7fc0dead
	guard      = 64
)

// maxNMSE is the threshold of the kernels' NMSE against the float64 loops.
const maxNMSE = 1e-10

// randoms returns n seeded random floats in [-1, 1), none zero.
func randoms(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		for v[i] == 0 {
			v[i] = float32(2*rng.Float64() - 1)
		}
	}
	return v
}

// runLaunch runs l with ins bound at 1, 2, … and a poisoned output of n
// floats plus the guard bound last, and returns the n floats. It fails if a
// guard float was written.
func runLaunch(t *testing.T, dev *gpu.Device, l shaders.Launch, ins [][]float32, n int) []float32 {
	t.Helper()
	pl, err := dev.Pipeline(l.Key, l.Source)
	if err != nil {
		t.Fatal(err)
	}
	var binds []gpu.Binding
	for i, in := range ins {
		b, err := dev.NewBuffer("in", uint64(4*max(len(in), 1)))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Release()
		if len(in) > 0 {
			if err := dev.Write(b, 0, gpu.Bytes(in)); err != nil {
				t.Fatalf("input %d: %v", i, err)
			}
		}
		binds = append(binds, b)
	}
	size := uint64(4 * (n + guard))
	out, err := dev.NewBuffer("out", size)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	bad := make([]byte, size)
	for i := 0; i < len(bad); i += 4 {
		binary.LittleEndian.PutUint32(bad[i:], poisonBits)
	}
	if err := dev.Write(out, 0, bad); err != nil {
		t.Fatal(err)
	}
	ds, err := dev.NewDispatch("test", pl, l.Params, l.Groups, append(binds, out)...)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Release()
	got := make([]byte, size)
	if _, err := dev.Run([]*gpu.Dispatch{ds}, []gpu.ReadBack{{Buf: out, Dst: got}}, false); err != nil {
		t.Fatal(err)
	}
	for i := n; i < n+guard; i++ {
		if v := binary.LittleEndian.Uint32(got[4*i:]); v != poisonBits {
			t.Errorf("guard float %d written: %#x", i-n, v)
			break
		}
	}
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(got[4*i:]))
	}
	return vals
}

// nmse is Σ(got − want)² / Σ want², +Inf if got holds a NaN or an Inf.
func nmse(got []float32, want []float64) float64 {
	var num, den float64
	for i, w := range want {
		g := float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1)
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	if den == 0 {
		return num
	}
	return num / den
}

// refConv is the convolution g describes, in float64:
// out[n,m,y,x] = (Σ_{c,ky,kx} w[m,c,ky,kx]·in[n, (m / (Cout/G))·(Cin/G) + c,
// y·SH − PT + ky·DH, x·SW − PL + kx·DW])·scale[m] + bias[m] (+ res) (ReLU),
// the input zero outside the image.
func refConv(g shaders.ConvGeom, in, w, scale, bias, res []float32) []float64 {
	oh, ow := g.OH(), g.OW()
	cing, coutg := g.Cin/g.Groups, g.Cout/g.Groups
	out := make([]float64, g.N*g.Cout*oh*ow)
	for n := 0; n < g.N; n++ {
		for m := 0; m < g.Cout; m++ {
			c0 := m / coutg * cing
			for y := 0; y < oh; y++ {
				for x := 0; x < ow; x++ {
					var s float64
					for c := 0; c < cing; c++ {
						for ky := 0; ky < g.KH; ky++ {
							iy := y*g.SH - g.PT + ky*g.DH
							if iy < 0 || iy >= g.H {
								continue
							}
							for kx := 0; kx < g.KW; kx++ {
								ix := x*g.SW - g.PL + kx*g.DW
								if ix < 0 || ix >= g.W {
									continue
								}
								s += float64(w[((m*cing+c)*g.KH+ky)*g.KW+kx]) * float64(in[((n*g.Cin+c0+c)*g.H+iy)*g.W+ix])
							}
						}
					}
					i := ((n*g.Cout+m)*oh+y)*ow + x
					o := s*float64(scale[m]) + float64(bias[m])
					if g.Residual {
						o += float64(res[i])
					}
					if g.ReLU {
						o = math.Max(o, 0)
					}
					out[i] = o
				}
			}
		}
	}
	return out
}

// cg is a square-strided, symmetric-padded, undilated geometry; the cases
// below adjust the rest.
func cg(n, cin, h, w, cout, k, s, pad, groups int, res, relu bool) shaders.ConvGeom {
	return shaders.ConvGeom{N: n, Cin: cin, H: h, W: w, Cout: cout, KH: k, KW: k, SH: s, SW: s,
		PT: pad, PL: pad, PB: pad, PR: pad, DH: 1, DW: 1, Groups: groups, Residual: res, ReLU: relu}
}

func generalConvCases() []shaders.ConvGeom {
	dil2 := cg(1, 5, 10, 10, 7, 3, 1, 2, 1, false, true)
	dil2.DH, dil2.DW = 2, 2
	dil12 := cg(2, 4, 7, 9, 6, 3, 1, 1, 1, true, false)
	dil12.DW, dil12.PL, dil12.PR = 2, 2, 2
	asym := cg(1, 6, 8, 9, 10, 3, 2, 0, 1, true, true)
	asym.PT, asym.PL, asym.PB, asym.PR = 0, 1, 1, 0
	asym2 := cg(2, 3, 7, 6, 5, 3, 2, 0, 1, false, false)
	asym2.PT, asym2.PL, asym2.PB, asym2.PR = 2, 0, 0, 1
	asym2.SW = 1
	r13 := cg(1, 5, 6, 7, 8, 1, 1, 0, 1, false, true)
	r13.KW, r13.PL, r13.PR = 3, 1, 1
	r31 := cg(2, 5, 6, 7, 8, 1, 1, 0, 1, true, false)
	r31.KH, r31.PT, r31.PB = 3, 1, 1
	dwDil := cg(1, 8, 9, 9, 8, 3, 2, 2, 8, true, true)
	dwDil.DH, dwDil.DW = 2, 2
	return []shaders.ConvGeom{
		cg(1, 4, 6, 5, 6, 3, 1, 1, 2, false, true),     // groups 2
		cg(1, 6, 7, 7, 9, 3, 1, 1, 3, true, true),      // groups 3: cin 6, cout 9
		cg(2, 128, 7, 7, 128, 3, 1, 1, 32, true, true), // 32 groups of 4 channels (ResNeXt), batch 2
		cg(1, 8, 9, 9, 8, 3, 1, 1, 8, false, false),    // depthwise
		cg(2, 6, 14, 14, 12, 3, 1, 1, 3, false, true),  // 392 pixels: two column tiles of 256
		dwDil, // depthwise, stride 2, dilation 2
		cg(1, 8, 5, 6, 140, 3, 1, 1, 2, false, true), // 70 channels a group: two row tiles per group
		dil2,  // dilation 2
		dil12, // dilation (1, 2)
		asym,  // padding (0, 1, 1, 0), stride 2
		asym2, // padding (2, 0, 0, 1), stride (2, 1)
		r13,   // 1×3
		r31,   // 3×1
		cg(1, 3, 1, 1, 5, 3, 1, 1, 1, true, true),     // a 1×1 image
		cg(3, 4, 5, 5, 70, 3, 1, 1, 1, true, false),   // batch 3, 70 channels
		cg(1, 16, 8, 8, 16, 3, 1, 1, 1, false, false), // 3×3 pad 1
		cg(1, 16, 8, 8, 16, 3, 1, 1, 1, true, true),   // 3×3 pad 1, residual + ReLU
		cg(1, 3, 20, 18, 8, 7, 2, 3, 1, false, true),  // the stem: 7×7 stride 2 pad 3 on 3 channels
		cg(2, 16, 9, 9, 32, 1, 2, 0, 1, true, false),  // 1×1 stride 2
		cg(1, 40, 3, 3, 20, 3, 1, 1, 1, false, false), // K = 360 over 9 pixels
	}
}

// TestConvGeneral runs conv2d_general.wgsl on every case against refConv,
// the ResNeXt case with a workgroup limit of 5 so that its grid folds
// (5×5×2, past its 32 tiles).
func TestConvGeneral(t *testing.T) {
	dev := gputest.Device(t)
	rng := rand.New(rand.NewPCG(7, 11))
	cases := generalConvCases()
	for i, g := range cases {
		maxGroups := dev.Limits.MaxWorkgroupsPerDimension
		if i == 2 {
			maxGroups = 5
		}
		t.Run(g.String(), func(t *testing.T) {
			start := time.Now()
			l, err := shaders.ConvGeneral(g, maxGroups)
			if err != nil {
				t.Fatal(err)
			}
			if l.Pre != nil || l.Post != nil || l.Weights != nil {
				t.Fatal("ConvGeneral set more than its Launch")
			}
			nout := g.N * g.Cout * g.OH() * g.OW()
			in := randoms(rng, g.N*g.Cin*g.H*g.W)
			w := randoms(rng, g.Cout*g.Cin/g.Groups*g.KH*g.KW)
			scale, bias := randoms(rng, g.Cout), randoms(rng, g.Cout)
			res := randoms(rng, nout)
			got := runLaunch(t, dev, l.Launch, [][]float32{in, w, scale, bias, res}, nout)
			want := refConv(g, in, w, scale, bias, res)
			if e := nmse(got, want); !(e <= maxNMSE) {
				t.Errorf("NMSE %.3e > %.0e (grid %v)", e, maxNMSE, l.Groups)
			}
			t.Logf("%v in %d workgroups, %v", l.Key, l.Groups.Count(), time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestConvGeneralLaunch checks the key, the grid and the errors without a device.
func TestConvGeneralLaunch(t *testing.T) {
	g := cg(2, 128, 7, 7, 128, 3, 1, 1, 32, true, false)
	l, err := shaders.ConvGeneral(g, 65535)
	if err != nil {
		t.Fatal(err)
	}
	if want := (gpu.Key{Kernel: "conv2d", Variant: "general", Consts: [8]uint32{1, 0, 16}}); l.Key != want {
		t.Errorf("key %+v, want %+v", l.Key, want)
	}
	p := l.Params.(*shaders.ConvGeneralParams)
	if p.CinG != 4 || p.CoutG != 4 || p.K != 36 || p.NPix != 98 || p.CTiles != 1 || p.RTiles != 1 || p.Tiles != 32 {
		t.Errorf("params %+v", *p)
	}
	if l.Groups != (gpu.Groups{32, 1, 1}) {
		t.Errorf("grid %v, want 32 workgroups", l.Groups)
	}
	if l, err = shaders.ConvGeneral(g, 5); err != nil || l.Groups.Check(5) != nil || l.Groups.Count() < 32 {
		t.Errorf("folded grid %v, %v", l.Groups, err)
	}
	if _, err := shaders.ConvGeneral(g, 1); err == nil {
		t.Error("32 workgroups fit a limit of 1")
	}
	g.Groups = 2 // 64 channels a group: 64×64 tiles
	if l, err = shaders.ConvGeneral(g, 65535); err != nil || l.Key.Consts[2] != 64 || l.Params.(*shaders.ConvGeneralParams).Tiles != 4 {
		t.Errorf("2 groups of 64: key %+v, params %+v, %v", l.Key, l.Params, err)
	}
	g.Groups = 3
	if _, err := shaders.ConvGeneral(g, 65535); err == nil {
		t.Error("3 groups of 128 channels accepted")
	}
}
