const MODE: u32 = 2u;
const RELU: bool = false;
// Element-wise ops for nodes the fusion pass could not absorb.
// MODE (prepended by the host):
//   0: dst = max(a, 0)
//   1: dst = a + b, then max(·, 0) if RELU
//   2: dst[n,c,·] = a[n,c,·] · s[c] + t[c] (batch-norm with precomputed s, t)
//   3: dst = min(max(a, b[0]), b[1]) (a clamp to [b[0], b[1]])
// Element i numbers the tensor [N][C][HW] contiguously; a, b (mode 1) and
// dst each lie at their layout (at), so that an operand or the result can
// be a slice of a concatenation's output. One invocation per element, the
// 1-D index folded over x, y and z.

struct Params {
	total: u32, c: u32, hw: u32,
	a_off: u32, a_bstride: u32,
	b_off: u32, b_bstride: u32,
	dst_off: u32, dst_bstride: u32,
	_pad0: u32, _pad1: u32, _pad2: u32,
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
	var v = a[at(i, p.a_off, p.a_bstride)];
	if (MODE == 1u) {
		v = v + b[at(i, p.b_off, p.b_bstride)];
	}
	if (MODE == 2u) {
		let c = (i / p.hw) % p.c;
		v = v * b[c] + b[p.c + c];
	}
	if (MODE == 3u) {
		v = min(max(v, b[0]), b[1]);
	}
	if (MODE == 0u || RELU) {
		v = max(v, 0.0);
	}
	dst[at(i, p.dst_off, p.dst_bstride)] = v;
}

// at is where element i lies in a tensor at layout (off, bstride): image
// n = i / (C·HW) starts at off + n·bstride. A contiguous tensor has
// off = 0 and bstride = C·HW, without a division.
fn at(i: u32, off: u32, bstride: u32) -> u32 {
	let img = p.c * p.hw;
	if (bstride == img) {
		return off + i;
	}
	let n = i / img;
	return off + n * bstride + (i - n * img);
}
