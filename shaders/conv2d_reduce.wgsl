// conv2d_reduce: the second half of a convolution whose K was split across
// workgroups (conv2d_gemm.wgsl with SPLIT > 1): adds the slices' partial
// sums and applies the epilogue,
//   out[i] = (Σ_s part[s·total + i])·scale[m] + bias[m] (+ res[i]) (ReLU),
// with m = (i / (OH·OW)) mod Cout. RESIDUAL and RELU are prepended by the
// host. One invocation per output element.

struct Params {
	total: u32,  // N·Cout·OH·OW
	ohw: u32,    // OH·OW
	cout: u32,
	splits: u32, // slices in part
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
	let m = (i / p.ohw) % p.cout;
	finish(i, v, scale[m], bias[m]);
}
