// Pooling. MODE (prepended by the host) chooses the op:
//   MODE 0, max pool: dst[n,c,y,x] = max over the K×K window at
//     (y·S − P, x·S − P) of src, ignoring positions outside the image.
//   MODE 1, global average pool: dst[n,c] = mean over y, x of src[n,c,y,x].
// One invocation per output element, the 1-D index folded over x and y.

struct Params {
	nc: u32, h: u32, w: u32, oh: u32,
	ow: u32, k: u32, stride: u32, pad: u32,
	total: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let i = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (i >= p.total) {
		return;
	}
	if (MODE == 1u) {
		let base = i * p.h * p.w;
		var sum = 0.0;
		for (var t = 0u; t < p.h * p.w; t = t + 1u) {
			sum = sum + src[base + t];
		}
		dst[i] = sum / f32(p.h * p.w);
		return;
	}
	let ohw = p.oh * p.ow;
	let nc = i / ohw;
	let y = (i % ohw) / p.ow;
	let x = i % p.ow;
	let base = nc * p.h * p.w;
	var m = -3.4028235e38;
	var seen = false;
	for (var ky = 0u; ky < p.k; ky = ky + 1u) {
		let iy = i32(y * p.stride + ky) - i32(p.pad);
		if (iy < 0 || iy >= i32(p.h)) {
			continue;
		}
		for (var kx = 0u; kx < p.k; kx = kx + 1u) {
			let ix = i32(x * p.stride + kx) - i32(p.pad);
			if (ix < 0 || ix >= i32(p.w)) {
				continue;
			}
			let v = src[base + u32(iy) * p.w + u32(ix)];
			if (!seen || v > m) {
				m = v;
				seen = true;
			}
		}
	}
	dst[i] = m;
}
