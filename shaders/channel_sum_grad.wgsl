// A per-channel sum over the batch and the positions, the gradient of a
// per-channel bias (a convolution's bias, a batch-norm's beta):
//   dbias[c] = Σ_{n,k} dy[n,c,k], k < hw.
// One invocation per channel, summing serially (a first, plain kernel);
// dy contiguous.

struct Params {
	n: u32, c: u32, hw: u32, _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let c = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (c >= p.c) {
		return;
	}
	var sum = 0.0;
	for (var n = 0u; n < p.n; n = n + 1u) {
		let base = (n * p.c + c) * p.hw;
		for (var k = 0u; k < p.hw; k = k + 1u) {
			sum = sum + dy[base + k];
		}
	}
	dbias[c] = sum;
}
