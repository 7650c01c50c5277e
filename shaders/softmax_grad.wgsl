// The softmax's gradient along each row of `len` elements, from its
// output fwd [rows][len] and output gradient dy:
//   dx[r, j] = fwd[r, j]·(dy[r, j] − Σ_k dy[r, k]·fwd[r, k]).
// One invocation per row, serial over its elements, the 1-D index folded
// over x, y and z; tensors contiguous.

struct Params {
	rows: u32, len: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> fwd: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let r = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (r >= p.rows) {
		return;
	}
	let base = r * p.len;
	var dot = 0.0;
	for (var k = 0u; k < p.len; k = k + 1u) {
		dot = dot + dy[base + k] * fwd[base + k];
	}
	for (var k = 0u; k < p.len; k = k + 1u) {
		dx[base + k] = fwd[base + k] * (dy[base + k] - dot);
	}
}
