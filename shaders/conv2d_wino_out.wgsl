// Winograd F(2×2, 3×3), output transform and epilogue: for every output
// channel m and tile t, the 4 × 4 products M[(4i + j)][m][t] of the GEMM
// (conv2d_gemm.wgsl with ZMAT) become the 2 × 2 outputs Y = Aᵀ M A,
//   Aᵀ = [1 1 1 0; 0 1 -1 -1],
// which get the epilogue (conv2d_epilogue.wgsl) where the tile lies inside
// the output. One invocation per (m, t).

@group(0) @binding(1) var<storage, read> prod: array<f32>;
// Bindings 2-5: conv2d_post.wgsl; finish: conv2d_epilogue.wgsl.

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let i = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 256u + li;
	if (i >= p.cout * p.p) {
		return;
	}
	let m = i / p.p;
	let t = i - m * p.p;
	let plane = p.cout * p.p4;
	let o = m * p.p4 + t;
	var r: array<vec4<f32>, 4>; // rows of M
	for (var k = 0u; k < 4u; k = k + 1u) {
		let q = o + 4u * k * plane;
		r[k] = vec4<f32>(prod[q], prod[q + plane], prod[q + 2u * plane], prod[q + 3u * plane]);
	}
	// Aᵀ M (over rows), then · A (over columns).
	let s0 = r[0] + r[1] + r[2];
	let s1 = r[1] - r[2] - r[3];
	let tl = tile(t);
	let base = (tl.b * p.cout + m) * p.oh * p.ow;
	let sc = scale[m];
	let bi = bias[m];
	put(base, tl.y, tl.x, s0.x + s0.y + s0.z, sc, bi);
	put(base, tl.y, tl.x + 1u, s0.y - s0.z - s0.w, sc, bi);
	put(base, tl.y + 1u, tl.x, s1.x + s1.y + s1.z, sc, bi);
	put(base, tl.y + 1u, tl.x + 1u, s1.y - s1.z - s1.w, sc, bi);
}

// put finishes output (y, x) of the image and channel at base, if it lies
// inside the output.
fn put(base: u32, y: u32, x: u32, v: f32, sc: f32, bi: f32) {
	if (y < p.oh && x < p.ow) {
		finish(base + y * p.ow + x, v, sc, bi);
	}
}
