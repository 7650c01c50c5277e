// Concatenation, one input at a time: the input, blocks of block
// contiguous elements (src_stride apart from src_off), goes to its slice of
// the output (dst_stride apart from dst_off):
//   dst[dst_off + o·dst_stride + r] = src[src_off + o·src_stride + r],
// element i = o·block + r. Along the channels the blocks are the images,
// which also lets either side be a slice of another concatenation; along
// a later axis they are the (image, channel, …) blocks before it. One
// invocation per input element, the 1-D index folded over x, y and z.

struct Params {
	total: u32, block: u32,
	src_off: u32, src_stride: u32,
	dst_off: u32, dst_stride: u32,
	_pad0: u32, _pad1: u32,
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
	let o = i / p.block;
	let r = i - o * p.block;
	dst[p.dst_off + o * p.dst_stride + r] = src[p.src_off + o * p.src_stride + r];
}
