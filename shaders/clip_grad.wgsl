// The clamp's gradient: dx = dy where lo <= src <= hi, else 0 (PyTorch's
// clamp's choice at the bounds). src is the clamp's input; lo and hi are
// its bounds' float32 bit patterns. One invocation per element, the 1-D
// index folded over x, y and z; all tensors contiguous.

struct Params {
	total: u32, lo: u32, hi: u32, _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let e = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (e >= p.total) {
		return;
	}
	let v = src[e];
	dx[e] = select(0.0, dy[e], v >= bitcast<f32>(p.lo) && v <= bitcast<f32>(p.hi));
}
