package shaders_test

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// The output buffer is poisoned with this NaN and followed by guard floats
// that must stay poisoned.
const (
	poisonBits = 0x7fc0dead
	guard      = 64
)

// maxNMSE is the threshold of the kernels' NMSE against the CPU reference.
const maxNMSE = 1e-10

// runLaunch runs l with the arrays of ins bound by name and a poisoned
// output of n floats plus the guard bound as dst, and returns the n
// floats. It fails if a guard float was written.
func runLaunch(t *testing.T, dev *gpu.Device, l shaders.Launch, ins map[string][]float32, n int) []float32 {
	t.Helper()
	pl, err := dev.Pipeline(l.Key, l.Source)
	if err != nil {
		t.Fatal(err)
	}
	binds := gpu.Binds{}
	for name, in := range ins {
		b, err := dev.NewBuffer(name, uint64(4*max(len(in), 1)))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Release()
		if len(in) > 0 {
			if err := dev.Write(b, 0, gpu.Bytes(in)); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		binds[name] = b
	}
	size := uint64(4 * (n + guard))
	out, err := dev.NewBuffer("dst", size)
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
	binds["dst"] = out
	ds, err := dev.Bind("test", pl, l.Params, l.Groups, binds)
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

// check compares a kernel's output with the CPU reference's (ref.Apply of
// op on inputs data of shapes in): NMSE at most maxNMSE, no NaN or Inf.
func check(t *testing.T, got []float32, op graph.Op, in []graph.Shape, data [][]float32, groups gpu.Groups) {
	t.Helper()
	want, _, err := ref.Apply(op, in, data)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	if e, _, err := opcheck.Compare(got, want); err != nil || !(e <= maxNMSE) {
		t.Errorf("NMSE %.3e > %.0e (grid %v) %v", e, maxNMSE, groups, err)
	}
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

// TestConvGeneral runs conv2d_general.wgsl on every case against the CPU
// reference (graph.Conv2D.Eval),
// the ResNeXt case with a workgroup limit of 5 so that its grid folds
// (5×5×2, past its 32 tiles).
func TestConvGeneral(t *testing.T) {
	dev := gputest.Device(t)
	r := graph.NewRand(7)
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
			op, shape := graph.ConvOf(g)
			rop, shapes := op.Random(r, shape)
			conv := rop.(*graph.Conv2D)
			data := [][]float32{r.Uniform(shape.Numel(), -1, 1)}
			res := r.Uniform(g.N*g.Cout*g.OH()*g.OW(), -1, 1)
			if g.Residual {
				data = append(data, res)
			}
			got := runLaunch(t, dev, l.Launch, map[string][]float32{"src": data[0], "weight": conv.Weight,
				"scale": conv.Scale, "bias": conv.Bias, "res": res}, len(res))
			check(t, got, conv, shapes, data, l.Groups)
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
