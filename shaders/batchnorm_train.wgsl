// Training-mode batch-norm's forward: per channel c, over its M = n·hw
// elements, mean and inv = 1/sqrt(biased variance + eps), then
//   dst = (src − mean)·inv·gamma[c] + beta[c], max(·, 0) if RELU.
// One invocation per channel, serial over its elements (a first, plain
// kernel: the batch statistics in one pass of the invocation, no
// workgroup reduction); tensors contiguous. eps is given as its float32
// bits.

struct Params {
	n: u32, c: u32, hw: u32, eps_bits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let c = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (c >= p.c) {
		return;
	}
	let m = f32(p.n * p.hw);
	var mean = 0.0;
	for (var n = 0u; n < p.n; n = n + 1u) {
		for (var k = 0u; k < p.hw; k = k + 1u) {
			mean = mean + src[(n * p.c + c) * p.hw + k];
		}
	}
	mean = mean / m;
	var v = 0.0;
	for (var n = 0u; n < p.n; n = n + 1u) {
		for (var k = 0u; k < p.hw; k = k + 1u) {
			let d = src[(n * p.c + c) * p.hw + k] - mean;
			v = v + d * d;
		}
	}
	let s = inverseSqrt(v / m + bitcast<f32>(p.eps_bits)) * gamma[c];
	for (var n = 0u; n < p.n; n = n + 1u) {
		for (var k = 0u; k < p.hw; k = k + 1u) {
			let i = (n * p.c + c) * p.hw + k;
			var y = (src[i] - mean) * s + beta[c];
			if (RELU) {
				y = max(y, 0.0);
			}
			dst[i] = y;
		}
	}
}
