const RESIDUAL: bool = false;
const RELU: bool = true;
// The parameters of the Winograd F(2×2, 3×3) transforms (WinoParams in
// conv2d.go mirrors Params), shared by conv2d_wino_in.wgsl and
// conv2d_wino_out.wgsl. The output is cut into 2×2 tiles, TH × TW per image,
// P = N·TH·TW in all; the 16 matrices between the transforms have P4 = P
// rounded up to a multiple of 4 columns, so the GEMM reads them as vec4.

struct Params {
	n: u32, c: u32, h: u32, w: u32,
	cout: u32, oh: u32, ow: u32, pad: u32,
	th: u32, tw: u32, p: u32, p4: u32,
	out_off: u32, out_bstride: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// The image and the top-left output pixel (y, x) of tile t.
struct Tile {
	b: u32,
	y: u32,
	x: u32,
}

fn tile(t: u32) -> Tile {
	let per = p.th * p.tw;
	let b = t / per;
	let r = t - b * per;
	let ty = r / p.tw;
	return Tile(b, 2u * ty, 2u * (r - ty * p.tw));
}
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
// The bindings of a two-launch convolution's second launch
// (conv2d_reduce.wgsl, conv2d_wino_out.wgsl) for its epilogue
// (conv2d_epilogue.wgsl); binding 1 (the first launch's results) comes
// with the kernel.

@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read_write> dst: array<f32>;
// The epilogue every conv2d kernel ends with, appended by the host after
// the kernel: out[idx] = v·s + b (+ res[idx]) (ReLU), per RESIDUAL and RELU,
// with s = scale[m] and b = bias[m] of the output channel (the callers load
// them once per channel). idx numbers the output [N][Cout][OH][OW]
// contiguously, as the residual lies; the output itself lies at its layout
// (outAt). The kernel's parameter file declares res and dst, and p with
// cout, oh, ow, out_off and out_bstride.

fn finish(idx: u32, v: f32, s: f32, b: f32) {
	var o = v * s + b;
	if (RESIDUAL) {
		o = o + res[idx];
	}
	if (RELU) {
		o = max(o, 0.0);
	}
	dst[outAt(idx)] = o;
}

// outAt is where output element idx lies in dst: image n = idx / (Cout·OH·OW)
// starts at out_off + n·out_bstride, so that the output can be a slice of a
// concatenation's; a contiguous output has out_off = 0 and
// out_bstride = Cout·OH·OW (the host sets that for a single image too), and
// takes the branch without a division.
fn outAt(idx: u32) -> u32 {
	let img = p.cout * p.oh * p.ow;
	if (p.out_bstride == img) {
		return p.out_off + idx;
	}
	let n = idx / img;
	return p.out_off + n * p.out_bstride + (idx - n * img);
}
