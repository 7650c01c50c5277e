// Gradient accumulation for a value several ops read: dst[e] += src[e]
// over total elements. One invocation per element, the 1-D index folded
// over x, y and z.

struct Params {
	total: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let e = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (e >= p.total) {
		return;
	}
	dst[e] = dst[e] + src[e];
}
