// Fully connected layer: dst[n, o] = Σ_i weight[o, i] · src[n, i] + bias[o].
// One workgroup of 64 invocations per output (o, n): each sums a strided
// part of the dot product, then a tree reduction in workgroup memory.

struct Params {
	batch: u32, inf: u32, outf: u32, total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

var<workgroup> part: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let i = wg.x + wg.y * nw.x + wg.z * nw.x * nw.y;
	let valid = i < p.total;
	let n = i / p.outf;
	let o = i % p.outf;
	var sum = 0.0;
	if (valid) {
		for (var k = li; k < p.inf; k = k + 64u) {
			sum = fma(weight[o * p.inf + k], src[n * p.inf + k], sum);
		}
	}
	part[li] = sum;
	workgroupBarrier();
	for (var s = 32u; s > 0u; s = s >> 1u) {
		if (li < s) {
			part[li] = part[li] + part[li + s];
		}
		workgroupBarrier();
	}
	if (valid && li == 0u) {
		dst[i] = part[0] + bias[o];
	}
}
