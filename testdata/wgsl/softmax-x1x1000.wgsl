// Softmax over each row of `len` elements:
//   dst[r, c] = exp(src[r, c] − max_r) / Σ_c exp(src[r, c] − max_r).
// One workgroup of 64 invocations per row, reductions in workgroup memory.

struct Params {
	rows: u32, len: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> part: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let r = wg.x;
	let base = r * p.len;
	var m = -3.4028235e38;
	for (var c = li; c < p.len; c = c + 64u) {
		m = max(m, src[base + c]);
	}
	part[li] = m;
	workgroupBarrier();
	for (var s = 32u; s > 0u; s = s >> 1u) {
		if (li < s) {
			part[li] = max(part[li], part[li + s]);
		}
		workgroupBarrier();
	}
	let rowmax = part[0];
	workgroupBarrier();
	var sum = 0.0;
	for (var c = li; c < p.len; c = c + 64u) {
		sum = sum + exp(src[base + c] - rowmax);
	}
	part[li] = sum;
	workgroupBarrier();
	for (var s = 32u; s > 0u; s = s >> 1u) {
		if (li < s) {
			part[li] = part[li] + part[li + s];
		}
		workgroupBarrier();
	}
	let total = part[0];
	for (var c = li; c < p.len; c = c + 64u) {
		dst[base + c] = exp(src[base + c] - rowmax) / total;
	}
}
