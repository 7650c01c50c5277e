// Concatenation, one input at a time: the input, outer blocks of
// src_axis × inner values, goes to its slice of the output, outer blocks
// of dst_axis × inner values starting at offset along the axis:
//   dst[(o·dst_axis + offset + a)·inner + i] = src[(o·src_axis + a)·inner + i].
// One invocation per input element, the 1-D index folded over x and y.

struct Params {
	total: u32, inner: u32, src_axis: u32, dst_axis: u32,
	offset: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let i = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (i >= p.total) {
		return;
	}
	let block = p.src_axis * p.inner;
	let o = i / block;
	let r = i % block;
	dst[(o * p.dst_axis + p.offset) * p.inner + r] = src[i];
}
