package shaders_test

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// namedLaunch is a launch with a label for failure messages.
type namedLaunch struct {
	name string
	l    *shaders.Launch
}

// allLaunches returns every kind of launch the package produces: each
// convolution kernel's launches (Pre, main, Post) over the awkward and edge
// cases it supports, and those of the other kernels for each of their
// modes.
func allLaunches(t *testing.T) []namedLaunch {
	var out []namedLaunch
	add := func(name string, l shaders.Launch, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, namedLaunch{name, &l})
	}
	cs, geoms := convCases(append(opcheck.Awkward(), edgeConvs()...))
	for _, k := range shaders.ConvKernels {
		n := 0
		for i, c := range cs {
			if !k.Computes(geoms[i]) {
				continue
			}
			n++
			cl, err := shaders.Conv2D(geoms[i], k.Name, testCaps)
			if err != nil {
				t.Fatalf("%s on %s: %v", k.Name, c, err)
			}
			for _, l := range convLaunches(cl) {
				out = append(out, namedLaunch{fmt.Sprintf("%s on %s: %v", k.Name, c, l.Key), l})
			}
		}
		if n == 0 {
			t.Errorf("%s supports none of the cases", k.Name)
		}
	}
	const maxGroups = 65535
	for _, g := range []shaders.PoolGeom{
		pg(1, 3, 9, 9, 3, 2, 1, true, false, false),
		pg(1, 3, 9, 9, 3, 2, 1, false, false, false),
		pg(1, 3, 9, 9, 3, 2, 1, false, true, true),
	} {
		l, err := shaders.Pool(g, maxGroups)
		add(g.String(), l, err)
	}
	l, err := shaders.GlobalAvgPool(2, 5, 7, 7, shaders.Layout{}, maxGroups)
	add("global avgpool", l, err)
	l, err = shaders.Linear(2, 70, 13, maxGroups)
	add("linear", l, err)
	l, err = shaders.Softmax(3, 1000, maxGroups)
	add("softmax", l, err)
	for _, mode := range []uint32{shaders.ModeReLU, shaders.ModeAdd, shaders.ModeAffine, shaders.ModeClip} {
		for _, relu := range []bool{false, true} {
			l, err = shaders.Elementwise(mode, relu, shaders.EltwiseGeom{N: 2, C: 5, Inner: 9}, maxGroups)
			add(fmt.Sprintf("elementwise mode %d relu %t", mode, relu), l, err)
		}
	}
	l, err = shaders.Concat(2, 27, shaders.Layout{}, shaders.Layout{Off: 45, BStride: 72}, maxGroups)
	add("concat", l, err)
	l, err = shaders.Copy(1001, maxGroups)
	add("copy", l, err)
	grad := shaders.ConvGeom{N: 2, Cin: 4, Cout: 6, H: 7, W: 7, KH: 3, KW: 3, SH: 2, SW: 2, PT: 1, PL: 1, PB: 1, PR: 1, DH: 1, DW: 1, Groups: 2}
	l, err = shaders.ConvInputGrad(grad, maxGroups)
	add("conv2d input grad", l, err)
	l, err = shaders.ConvWeightGrad(grad, maxGroups)
	add("conv2d weight grad", l, err)
	l, err = shaders.ReLUGrad(1001, maxGroups)
	add("relu grad", l, err)
	l, err = shaders.ClipGrad(1001, 0, 6, maxGroups)
	add("clip grad", l, err)
	l, err = shaders.ChannelSum(2, 5, 9, maxGroups)
	add("channel sum", l, err)
	for _, max := range []bool{false, true} {
		l, err = shaders.PoolGrad(pg(1, 3, 9, 9, 3, 2, 1, max, false, !max), maxGroups)
		add(fmt.Sprintf("pool grad max %t", max), l, err)
	}
	for _, relu := range []bool{false, true} {
		ls, li, err := shaders.BatchNormGrad(2, 5, 9, 1e-5, relu, maxGroups)
		add("batchnorm stats grad", ls, err)
		add("batchnorm input grad", li, err)
		l, err = shaders.BatchNormEvalGrad(2, 5, 9, 1e-5, relu, maxGroups)
		add("batchnorm eval grad", l, err)
	}
	for _, relu := range []bool{false, true} {
		l, err = shaders.BatchNormTrain(2, 5, 9, 1e-5, relu, maxGroups)
		add("batchnorm train", l, err)
	}
	l, err = shaders.CrossEntropy(3, 10)
	add("cross entropy", l, err)
	l, err = shaders.CrossEntropyGrad(3, 10, maxGroups)
	add("cross entropy grad", l, err)
	l, err = shaders.SoftmaxGrad(3, 70, maxGroups)
	add("softmax grad", l, err)
	l, err = shaders.Accumulate(1001, maxGroups)
	add("accumulate", l, err)
	return out
}

// Every launch names exactly the bindings its WGSL declares besides the
// parameters at binding 0, so that the executor's binding by name meets
// every declaration.
func TestLaunchBindings(t *testing.T) {
	seen := map[gpu.Key]bool{}
	for _, nl := range allLaunches(t) {
		if seen[nl.l.Key] {
			continue // an equal key denotes an equal source (TestConvLaunches)
		}
		seen[nl.l.Key] = true
		m, err := gpu.BindingNames(nl.l.Source())
		if err != nil {
			t.Errorf("%s: %v", nl.name, err)
			continue
		}
		if _, ok := m[0]; !ok {
			t.Errorf("%s: no binding 0 (the parameters)", nl.name)
		}
		var decl []string
		for b, name := range m {
			if b != 0 {
				decl = append(decl, name)
			}
		}
		slices.Sort(decl)
		binds := slices.Sorted(slices.Values(nl.l.Binds))
		if !slices.Equal(decl, binds) {
			t.Errorf("%s: the WGSL declares %q besides binding 0, the launch binds %q", nl.name, decl, nl.l.Binds)
		}
	}
	t.Logf("%d distinct pipelines", len(seen))
}

// Every launch's parameter struct has as many 32-bit fields as the WGSL
// `struct Params` it fills, so that no field shifts (the compile-time
// size checks beside each struct guard the Go side only).
func TestParamsMatchWGSL(t *testing.T) {
	seen := map[gpu.Key]bool{}
	for _, nl := range allLaunches(t) {
		if seen[nl.l.Key] {
			continue
		}
		seen[nl.l.Key] = true
		src := nl.l.Source()
		start := strings.Index(src, "struct Params {")
		if start < 0 {
			t.Errorf("%s: no struct Params", nl.name)
			continue
		}
		body := src[start+len("struct Params {"):]
		body = body[:strings.Index(body, "}")]
		fields := 0
		for _, line := range strings.Split(body, "\n") {
			if i := strings.Index(line, "//"); i >= 0 {
				line = line[:i]
			}
			fields += strings.Count(line, ": u32")
		}
		if got := binary.Size(nl.l.Params); got != 4*fields {
			t.Errorf("%s: %T has %d bytes, the WGSL struct %d u32 fields", nl.name, nl.l.Params, got, fields)
		}
	}
}
