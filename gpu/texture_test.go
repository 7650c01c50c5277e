package gpu_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
)

// gatherSrc copies texel idx[i] of a texture to out[4i … 4i+3], through a
// storage texture written by a second kernel (scatterSrc) when it is the
// source: the two ways kernels use textures.
const gatherSrc = `
struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var tex: texture_2d<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
	let i = gid.x;
	if (i < p.n) {
		let t = idx[i];
		out[i] = textureLoad(tex, vec2<u32>(t % %Wu, t / %Wu), 0);
	}
}`

const scatterSrc = `
struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var dst: texture_storage_2d<rgba32float, write>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
	let t = gid.x;
	if (t < p.n) {
		textureStore(dst, vec2<i32>(i32(t % %Wu), i32(t / %Wu)), src[t] * 2.0);
	}
}`

type nParams struct{ N, _, _, _ uint32 }

// A texture written from the host and one written by a kernel read back
// texel for texel, across rows and up to the last texel.
func TestTexture(t *testing.T) {
	d := gputest.Device(t)
	const texels = 2*gpu.TexWidth + 37
	vals := make([]float32, 4*texels-2) // the last texel is partly written
	for i := range vals {
		vals[i] = float32(i) + 0.25
	}
	host, err := d.NewTexture("host", texels)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Release()
	if host.Texels%gpu.TexWidth != 0 || host.Texels < texels {
		t.Fatalf("texture of %d texels, want whole rows of at least %d", host.Texels, texels)
	}
	if err := d.WriteTexture(host, vals); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteTexture(host, make([]float32, 4*host.Texels+4)); err == nil {
		t.Error("writing past the end of a texture is no error")
	}
	w := fmt.Sprint(gpu.TexWidth)
	gather, err := d.Pipeline(gpu.Key{Kernel: "test-gather"}, func() string { return strings.ReplaceAll(gatherSrc, "%W", w) })
	if err != nil {
		t.Fatal(err)
	}
	scatter, err := d.Pipeline(gpu.Key{Kernel: "test-scatter"}, func() string { return strings.ReplaceAll(scatterSrc, "%W", w) })
	if err != nil {
		t.Fatal(err)
	}
	idx := []uint32{0, 1, gpu.TexWidth - 1, gpu.TexWidth, 2*gpu.TexWidth + 5, texels - 1}
	ib, _ := d.NewBuffer("idx", uint64(4*len(idx)))
	defer ib.Release()
	ib32 := make([]float32, len(idx))
	for i, v := range idx {
		ib32[i] = math.Float32frombits(v)
	}
	if err := d.Write(ib, 0, gpu.Bytes(ib32)); err != nil {
		t.Fatal(err)
	}
	src, _ := d.NewBuffer("src", 4*uint64(len(vals)+2))
	defer src.Release()
	if err := d.Write(src, 0, gpu.Bytes(vals)); err != nil {
		t.Fatal(err)
	}
	kern, err := d.NewTexture("kernel", texels)
	if err != nil {
		t.Fatal(err)
	}
	defer kern.Release()
	out, _ := d.NewBuffer("out", uint64(16*len(idx)))
	defer out.Release()
	for _, c := range []struct {
		tex   *gpu.Texture
		scale float32
	}{{host, 1}, {kern, 2}} {
		var ds []*gpu.Dispatch
		if c.tex == kern {
			s, err := d.Bind("scatter", scatter, &nParams{N: texels}, gpu.Groups{(texels + 63) / 64, 1, 1}, gpu.Binds{"src": src, "dst": kern})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Release()
			ds = append(ds, s)
		}
		g, err := d.Bind("gather", gather, &nParams{N: uint32(len(idx))}, gpu.Groups{1, 1, 1}, gpu.Binds{"tex": c.tex, "idx": ib, "out": out})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Release()
		got := make([]float32, 4*len(idx))
		if _, err := d.Run(append(ds, g), []gpu.ReadBack{{Buf: out, Dst: gpu.Bytes(got)}}, false); err != nil {
			t.Fatal(err)
		}
		for i, ti := range idx {
			for j := 0; j < 4; j++ {
				want := float32(0)
				if k := 4*int(ti) + j; k < len(vals) {
					want = c.scale * vals[k]
				}
				if g := got[4*i+j]; g != want {
					t.Errorf("%s texture, texel %d component %d = %v, want %v", c.tex.Label, ti, j, g, want)
				}
			}
		}
	}
}

// A texture past the adapter's size limit is an error, not a crash.
func TestHugeTextureIsError(t *testing.T) {
	d := gputest.Device(t)
	if _, err := d.NewTexture("huge", uint64(gpu.TexWidth)*uint64(d.Limits.MaxTextureDimension2D+1)); err == nil {
		t.Error("no error for a texture past the adapter's limit")
	}
}
