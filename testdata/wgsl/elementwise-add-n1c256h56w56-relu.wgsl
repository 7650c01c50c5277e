const MODE: u32 = 1u;
const RELU: bool = true;
// Element-wise ops for nodes the fusion pass could not absorb.
// MODE (prepended by the host):
//   0: dst = max(a, 0)
//   1: dst = a + b, then max(·, 0) if RELU
//   2: dst[n,c,·] = a[n,c,·] · s[c] + t[c] (batch-norm with precomputed s, t)

struct Params {
	total: u32, c: u32, hw: u32, _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let i = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (i >= p.total) {
		return;
	}
	var v = a[i];
	if (MODE == 1u) {
		v = v + b[i];
	}
	if (MODE == 2u) {
		let c = (i / p.hw) % p.c;
		v = v * b[c] + b[p.c + c];
	}
	if (MODE == 0u || RELU) {
		v = max(v, 0.0);
	}
	dst[i] = v;
}
