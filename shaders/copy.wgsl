// Copy: dst[i] = src[i] for i < n, four floats per invocation as one
// vec4<f32>: the memory-bandwidth probe. Invocation q copies vec4 q; the
// one past the last whole vec4 copies the n mod 4 tail elements one
// component at a time, so that no element at or past n is written. Both
// buffers hold at least 4·⌈n/4⌉ floats. One invocation per vec4, the 1-D
// index folded over x and y (gpu.Split1D).

struct Params {
	n: u32, full: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let q = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 256u + li;
	if (q < p.full) {
		dst[q] = src[q];
		return;
	}
	if (q == p.full) {
		let v = src[q];
		for (var k = 0u; k < p.n - 4u * p.full; k = k + 1u) {
			dst[q][k] = v[k];
		}
	}
}
