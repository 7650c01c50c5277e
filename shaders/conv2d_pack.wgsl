// Packs an NCHW tensor into the texture the "direct4" convolution reads,
// four channels a texel: texel ((img·C4 + c4)·H·W + pix), C4 = ⌈C/4⌉,
// holds channels 4·c4 … 4·c4+3 of pixel pix of image img, zero past the
// last channel; texel t sits at (t mod TEXW, t / TEXW). The source is the
// tensor's buffer copied as it is into a texture (flat: texel i holds
// floats 4i … 4i+3), since llvmpipe fetches texels far faster than it
// loads storage-buffer floats; image img of the tensor starts at float
// in_off + img·in_bstride there (a slice of a concatenation). With ALIGNED
// (H·W, in_off and in_bstride multiples of 4) an invocation turns 4
// pixels × 4 channels around, one source texel per channel; else it
// gathers one float from each of 4 source texels per output texel.
// Every float of a real channel passes through stage (the convolution's
// input stage, conv2d_prestage.wgsl, or the identity; appended by the
// host), so that a pre-activation costs no pass of its own.

struct Params {
	c: u32, hw: u32, texels: u32, in_off: u32,
	in_bstride: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var flat: texture_2d<f32>;
@group(0) @binding(2) var dst: texture_storage_2d<rgba32float, write>;

fn at(t: u32) -> vec2<u32> {
	return vec2<u32>(t % TEXW, t / TEXW);
}

fn put(t: u32, v: vec4<f32>) {
	textureStore(dst, vec2<i32>(at(t)), v);
}

// chan returns source texel i through the input stage of channel c (or
// zero when channel c is past the last); with ALIGNED the texel holds
// channel c only.
fn chan(c: u32, i: u32) -> vec4<f32> {
	if (c >= p.c) {
		return vec4<f32>(0.0);
	}
	return stage(textureLoad(flat, at(i), 0), c, p.c);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
	@builtin(local_invocation_index) li: u32) {
	let u = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	let c4n = (p.c + 3u) / 4u;
	if (ALIGNED) {
		// u: pixels 4q … 4q+3 of channel group c4 of image img
		let hw4 = p.hw / 4u;
		if (u >= p.texels / 4u) {
			return;
		}
		let q = u % hw4;
		let c0 = ((u / hw4) % c4n) * 4u;
		let img = u / (hw4 * c4n);
		let s = (p.in_off + img * p.in_bstride + c0 * p.hw) / 4u + q; // texel of channel c0
		let a = chan(c0, s);
		let b = chan(c0 + 1u, s + hw4);
		let c = chan(c0 + 2u, s + 2u * hw4);
		let d = chan(c0 + 3u, s + 3u * hw4);
		let t = (img * c4n + c0 / 4u) * p.hw + 4u * q;
		put(t, vec4<f32>(a.x, b.x, c.x, d.x));
		put(t + 1u, vec4<f32>(a.y, b.y, c.y, d.y));
		put(t + 2u, vec4<f32>(a.z, b.z, c.z, d.z));
		put(t + 3u, vec4<f32>(a.w, b.w, c.w, d.w));
	} else {
		// u: output texel
		if (u >= p.texels) {
			return;
		}
		let pix = u % p.hw;
		let c0 = ((u / p.hw) % c4n) * 4u;
		let f = p.in_off + (u / (p.hw * c4n)) * p.in_bstride + c0 * p.hw + pix; // float of channel c0
		var v = vec4<f32>(0.0);
		for (var k = 0u; k < 4u; k = k + 1u) {
			let fk = f + k * p.hw;
			v[k] = chan(c0 + k, fk / 4u)[fk % 4u];
		}
		put(u, v);
	}
}
