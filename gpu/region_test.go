package gpu_test

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
)

// mixSrc computes dst = a + 10 b over p.n floats, each array a binding of
// its own.
const mixSrc = `
struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
	if (id.x < p.n) { dst[id.x] = a[id.x] + 10.0 * b[id.x]; }
}`

type mixParams struct {
	N uint32
	_ [3]uint32
}

// A dispatch reads two regions of one buffer and writes a region in the
// middle of another: it sees each region from its offset and writes
// nothing outside its region. Regions that are misaligned, too long or
// outside their buffer are errors of Bind, and so is a whole buffer past
// the binding limit.
func TestRegions(t *testing.T) {
	d := gputest.Device(t)
	p, err := d.Pipeline(gpu.Key{Kernel: "test-mix"}, func() string { return mixSrc })
	if err != nil {
		t.Fatal(err)
	}
	align := uint64(d.Limits.MinStorageOffsetAlignment)
	const n = 40
	src, err := d.NewBuffer("src", 3*align)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Release()
	dst, err := d.NewBuffer("dst", 3*align)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Release()
	in := make([]float32, 3*align/4)
	for i := range in {
		in[i] = float32(i)
	}
	const poison = 0x7fc00bad
	before := make([]byte, dst.Size)
	for i := 0; i < len(before); i += 4 {
		binary.LittleEndian.PutUint32(before[i:], poison)
	}
	a := gpu.Region{Buf: src, Offset: 0, Size: 4 * n}
	b := gpu.Region{Buf: src, Offset: 2 * align, Size: 4 * n}
	out := gpu.Region{Buf: dst, Offset: align, Size: 4 * n}
	ds, err := d.Bind("mix", p, mixParams{N: n}, gpu.Groups{1, 1, 1}, gpu.Binds{"a": a, "b": b, "dst": out})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Release()
	got := make([]byte, dst.Size)
	_, err = d.RunWith([]*gpu.Dispatch{ds},
		[]gpu.Upload{{Buf: src, Data: gpu.Bytes(in)}, {Buf: dst, Data: before}},
		[]gpu.ReadBack{{Buf: dst, Dst: got}}, false)
	if err != nil {
		t.Fatal(err)
	}
	lo := int(align / 4)
	for i := 0; i < len(got)/4; i++ {
		bits := binary.LittleEndian.Uint32(got[4*i:])
		if k := i - lo; k >= 0 && k < n {
			if want := in[k] + 10*in[int(2*align/4)+k]; math.Float32frombits(bits) != want {
				t.Fatalf("dst[%d] = %v, want %v", i, math.Float32frombits(bits), want)
			}
		} else if bits != poison {
			t.Fatalf("dst[%d], outside the region, overwritten: %#x", i, bits)
		}
	}

	for _, c := range []struct {
		name string
		r    gpu.Region
		want string
	}{
		{"misaligned", gpu.Region{Buf: dst, Offset: align / 2, Size: 4 * n}, "alignment"},
		{"past the end", gpu.Region{Buf: dst, Offset: 2 * align, Size: align + 4}, "overrun"},
		{"outside", gpu.Region{Buf: dst, Offset: 4 * align, Size: 4}, "overrun"},
		{"odd size", gpu.Region{Buf: dst, Offset: align, Size: 6}, "multiple of 4"},
		{"no buffer", gpu.Region{Offset: align, Size: 4}, "is nil"},
	} {
		ds, err := d.Bind("mix-"+c.name, p, mixParams{N: n}, gpu.Groups{1, 1, 1}, gpu.Binds{"a": a, "b": b, "dst": c.r})
		if err == nil {
			ds.Release()
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range []string{c.want, "mix-" + c.name, `"dst"`} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.name, err, w)
			}
		}
	}

	if max := d.Limits.MaxStorageBufferBinding; max < d.Limits.MaxBufferSize && max <= 1<<28 {
		big, err := d.NewBuffer("big", max+align)
		if err != nil {
			t.Fatalf("a buffer past the binding limit but within the buffer size limit: %v", err)
		}
		defer big.Release()
		if ds, err := d.Bind("mix-big", p, mixParams{N: n}, gpu.Groups{1, 1, 1}, gpu.Binds{"a": a, "b": b, "dst": big}); err == nil {
			ds.Release()
			t.Error("a whole buffer past the binding limit was bound")
		} else if !strings.Contains(err.Error(), "storage binding limit") {
			t.Errorf("binding a buffer past the limit: %v", err)
		}
		tail := gpu.Region{Buf: big, Offset: align, Size: max}
		ds, err := d.Bind("mix-tail", p, mixParams{N: n}, gpu.Groups{1, 1, 1}, gpu.Binds{"a": a, "b": b, "dst": tail})
		if err != nil {
			t.Fatalf("a region of a big buffer: %v", err)
		}
		ds.Release()
	}
	if err := d.Err(); err != nil {
		t.Errorf("device error: %v", err)
	}
}
