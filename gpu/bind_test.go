package gpu_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
)

func TestBindingNames(t *testing.T) {
	for _, c := range []struct {
		name string
		src  string
		want map[int]string
		err  string // a substring of the error; "" for none
	}{
		{"storage and uniform", `
struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
var<workgroup> tile: array<f32, 256>;
@compute @workgroup_size(64) fn main() {}`,
			map[int]string{0: "p", 1: "src", 2: "dst"}, ""},
		{"textures", `
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var flat: texture_2d<f32>;
@group(0) @binding(2) var dst: texture_storage_2d<rgba32float, write>;`,
			map[int]string{0: "p", 1: "flat", 2: "dst"}, ""},
		{"spaces, newlines, attribute order", `
@group( 0 )  @binding( 3 )
	var < storage , read >   weight :   array<f32> ;
@binding(4) @group(0) var<storage,read_write> out:array<f32>;`,
			map[int]string{3: "weight", 4: "out"}, ""},
		{"comments", `
// @group(0) @binding(7) var<storage, read> old: array<f32>;
/* @group(0) @binding(8) var<storage, read> older: array<f32>;
   /* nested */ @group(0) @binding(9) var<storage, read> oldest: array<f32>; */
@group(0) @binding(1) var<storage, read> a: array<f32>; // the input
@group(0) /* between */ @binding(2) var<storage, read_write> b: array<f32>;`,
			map[int]string{1: "a", 2: "b"}, ""},
		{"none", `@compute @workgroup_size(1) fn main() {}`, map[int]string{}, ""},
		{"duplicate index", `
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;`, nil, "binding 1 declared twice"},
		{"duplicate name", `
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;`, nil, "a declared twice"},
		{"group 1", `@group(1) @binding(0) var<storage, read> a: array<f32>;`, nil, "only group 0"},
		{"no group", `@binding(0) var<storage, read> a: array<f32>;`, nil, "both @group and @binding"},
	} {
		got, err := gpu.BindingNames(c.src)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.err)
		case c.err == "" && !maps.Equal(got, c.want):
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// Bind names the kernel and the binding in every mismatch between binds
// and the WGSL, and binds by name whatever the order of the map.
func TestBind(t *testing.T) {
	d := gputest.Device(t)
	p, err := d.Pipeline(gpu.Key{Kernel: "test-axpb"}, func() string { return axpbSrc })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Bindings(), map[int]string{0: "p", 1: "src", 2: "dst"}; !maps.Equal(got, want) {
		t.Errorf("Bindings() = %v, want %v", got, want)
	}
	p.Bindings()[1] = "changed"
	if p.Bindings()[1] != "src" {
		t.Error("Bindings returns the pipeline's own map")
	}
	a, _ := d.NewBuffer("a", 64)
	defer a.Release()
	b, _ := d.NewBuffer("b", 64)
	defer b.Release()
	var none *gpu.Buffer
	params := axpbParams{N: 16, Mul: 2, Add: 1}
	for _, c := range []struct {
		name  string
		binds gpu.Binds
		want  []string
	}{
		{"missing", gpu.Binds{"src": a}, []string{`binding 2 "dst" is not in binds`}},
		{"extra", gpu.Binds{"src": a, "dst": b, "bias": a}, []string{`"bias", which the WGSL does not declare`}},
		{"nil", gpu.Binds{"src": nil, "dst": b}, []string{`binding 1 "src" is nil`}},
		{"nil buffer", gpu.Binds{"src": a, "dst": none}, []string{`binding 2 "dst" is nil`}},
		{"params", gpu.Binds{"p": a, "src": a, "dst": b}, []string{`binding 0 "p" holds the parameters`}},
		{"several", gpu.Binds{"in": a, "out": b}, []string{`"src" is not in binds`, `"dst" is not in binds`, `"in", which`, `"out", which`}},
	} {
		ds, err := d.Bind("bind-"+c.name, p, params, gpu.Groups{1, 1, 1}, c.binds)
		if err == nil {
			ds.Release()
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range append(c.want, "bind-"+c.name, "kernel test-axpb") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.name, err, w)
			}
		}
	}
	ds, err := d.Bind("axpb", p, params, gpu.Groups{1, 1, 1}, gpu.Binds{"dst": b, "src": a})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Release()
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i)
	}
	y := make([]float32, 16)
	if _, err := d.RunWith([]*gpu.Dispatch{ds}, []gpu.Upload{{Buf: a, Data: gpu.Bytes(x)}}, []gpu.ReadBack{{Buf: b, Dst: gpu.Bytes(y)}}, false); err != nil {
		t.Fatal(err)
	}
	for i := range y {
		if y[i] != 2*x[i]+1 {
			t.Fatalf("out[%d] = %v, want %v", i, y[i], 2*x[i]+1)
		}
	}
	if err := d.Err(); err != nil {
		t.Errorf("device error: %v", err)
	}
}

// A pipeline whose WGSL declares a binding outside group 0 is an error
// naming the kernel.
func TestPipelineBadBindings(t *testing.T) {
	d := gputest.Device(t)
	_, err := d.Pipeline(gpu.Key{Kernel: "two-groups"}, func() string {
		return "@group(1) @binding(0) var<storage, read_write> out: array<f32>;\n@compute @workgroup_size(1) fn main() { out[0] = 1.0; }"
	})
	if err == nil || !strings.Contains(err.Error(), "two-groups") || !strings.Contains(err.Error(), "group 0") {
		t.Fatalf("got %v, want an error naming the kernel and the group", err)
	}
}
