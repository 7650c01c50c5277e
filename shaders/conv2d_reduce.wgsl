// conv2d_reduce: the second half of a convolution whose K was split across
// workgroups (conv2d_gemm.wgsl with SPLIT > 1): adds the slices' partial
// sums and applies the epilogue,
//   out[i] = (Σ_s part[s·total + i])·scale[m] + bias[m] (+ res[i]) (ReLU),
// with m = (i / (OH·OW)) mod Cout. RESIDUAL and RELU are prepended by the
// host. One invocation per output element.

struct Params {
	total: u32, // N·Cout·OH·OW
	oh: u32, ow: u32, cout: u32,
	splits: u32, // slices in part
	out_off: u32, out_bstride: u32, // the output's layout (conv2d_epilogue.wgsl)
	_pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
// Bindings 2-5: conv2d_post.wgsl; finish: conv2d_epilogue.wgsl.

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let i = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 256u + li;
	if (i >= p.total) {
		return;
	}
	var v = 0.0;
	for (var s = 0u; s < p.splits; s = s + 1u) {
		v = v + part[s * p.total + i];
	}
	let m = (i / (p.oh * p.ow)) % p.cout;
	finish(i, v, scale[m], bias[m]);
}
