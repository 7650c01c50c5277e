// The mean softmax cross-entropy's gradient with respect to the logits
// src [n][k], for the loss gradient dy[0]:
//   dx[r,j] = dy[0]·(softmax(src[r])[j] − (j == labels[r])) / n,
// labels holding each row's class as a float. One invocation per row,
// serial over its k logits; tensors contiguous.

struct Params {
	n: u32, k: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> labels: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let r = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (r >= p.n) {
		return;
	}
	let base = r * p.k;
	var m = src[base];
	for (var j = 1u; j < p.k; j = j + 1u) {
		m = max(m, src[base + j]);
	}
	var sum = 0.0;
	for (var j = 0u; j < p.k; j = j + 1u) {
		sum = sum + exp(src[base + j] - m);
	}
	let label = u32(labels[r]);
	for (var j = 0u; j < p.k; j = j + 1u) {
		var v = exp(src[base + j] - m) / sum;
		if (j == label) {
			v = v - 1.0;
		}
		dx[base + j] = dy[0] * v / f32(p.n);
	}
}
