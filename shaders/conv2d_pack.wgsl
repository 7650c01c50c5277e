// Packs an NCHW tensor into the texture the "direct4" convolution reads,
// four channels a texel: texel ((img·C4 + c4)·H·W + pix), C4 = ⌈C/4⌉,
// holds channels 4·c4 … 4·c4+3 of pixel pix of image img, zero past the
// last channel; texel t sits at (t mod TEXW, t / TEXW).

struct Params {
	c: u32, hw: u32, texels: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var dst: texture_storage_2d<rgba32float, write>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
	@builtin(local_invocation_index) li: u32) {
	let t = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (t >= p.texels) {
		return;
	}
	let c4n = (p.c + 3u) / 4u;
	let pix = t % p.hw;
	let c0 = ((t / p.hw) % c4n) * 4u;
	let base = ((t / (p.hw * c4n)) * p.c + c0) * p.hw + pix;
	var v = vec4<f32>(0.0);
	v.x = src[base];
	if (c0 + 1u < p.c) {
		v.y = src[base + p.hw];
	}
	if (c0 + 2u < p.c) {
		v.z = src[base + 2u * p.hw];
	}
	if (c0 + 3u < p.c) {
		v.w = src[base + 3u * p.hw];
	}
	textureStore(dst, vec2<i32>(i32(t % TEXW), i32(t / TEXW)), v);
}
