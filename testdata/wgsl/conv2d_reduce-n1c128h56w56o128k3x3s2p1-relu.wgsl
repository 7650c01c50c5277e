const RESIDUAL: bool = false;
const RELU: bool = true;
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
