const RESIDUAL: bool = false;
const RELU: bool = true;
const BM: u32 = 64u;
const BN: u32 = 64u;
const ALD: u32 = 4u;
const BLD: u32 = 4u;
const RT: u32 = 16u;
const CT: u32 = 16u;
const ASZ: u32 = 1024u;
const BSZ: u32 = 1024u;
// The parameters and bindings 0, 3-6 of conv2d_general.wgsl (ConvGeneralParams
// in conv2d_general.go mirrors Params). The bindings match the other conv2d
// kernels', so conv2d_epilogue.wgsl follows unchanged.

struct Params {
	n: u32, cin: u32, h: u32, w: u32,
	cout: u32, oh: u32, ow: u32, kh: u32,
	kw: u32, sh: u32, sw: u32, pt: u32,
	pl: u32, dh: u32, dw: u32, groups: u32,
	cing: u32, coutg: u32, k: u32, npix: u32,
	ctiles: u32, rtiles: u32, tiles: u32, out_off: u32,
	out_bstride: u32, in_off: u32, in_bstride: u32, _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> scale: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> res: array<f32>;
@group(0) @binding(6) var<storage, read_write> dst: array<f32>;
// conv2d, variant "general": any convolution (groups, dilation, stride and
// padding per side) as an implicit GEMM per group g:
//   C[m, j] = Σ_k A[m, k] · B_g[k, j],  m = output channel of group g,
//   j = (n, oy, ox), k = (ci, ky, kx) with ci < cing = cin / groups,
//   A = weights [cout][cing·kh·kw], B_g the im2col view of input channels
//   g·cing + ci at (oy·sh − pt + ky·dh, ox·sw − pl + kx·dw), zero outside
//   the image; image n of the input starts at p.in_off + n·p.in_bstride
//   (a slice of a concatenation, for kernels with an input stage).
// A BM×BN tile of one group's C per workgroup of 256 invocations (64×64,
// or 16×256 for groups of at most 16 output channels), each accumulating a
// 4×4 block (rows ty + RT·i, columns tx + CT·j so that writes coalesce); K
// advances in steps of 16 through workgroup memory, each invocation loading
// ALD weights and BLD inputs a step. The host prepends BM, BN, ALD, BLD,
// RT = BM/4 and CT = BN/4.
// The tiles are numbered column tile fastest, then row tile within the
// group, then group, and the number is folded over the grid's x, y and z;
// workgroups past p.tiles write nothing.
// Every input element inside the image passes through stage (the input
// stage, conv2d_prestage.wgsl, or the identity), the zero padding not.
// Epilogue: finish (conv2d_epilogue.wgsl, appended by the host).

// Params and bindings 0, 3-6: conv2d_general_params.wgsl, prepended by the host.
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;

const BK: u32 = 16u;

var<workgroup> As: array<f32, ASZ>; // [BK][BM]
var<workgroup> Bs: array<f32, BSZ>; // [BK][BN]

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let tile = wg.x + wg.y * nw.x + wg.z * nw.x * nw.y;
	let live = tile < p.tiles;
	let ct = tile % p.ctiles;
	let rt = tile / p.ctiles;
	let grp = rt / p.rtiles;
	let r0 = (rt % p.rtiles) * BM; // first row of the tile within its group
	let n0 = ct * BN;
	let tx = li % CT;
	let ty = li / CT;
	let khw = p.kh * p.kw;
	let ohw = p.oh * p.ow;
	let hw = p.h * p.w;

	// The column this invocation gathers for B, decoded once.
	let bcol = li % BN;
	let j = n0 + bcol;
	let jvalid = live && j < p.npix;
	let jj = select(0u, j, jvalid);
	let b = jj / ohw;
	let pix = jj % ohw;
	let iy0 = i32((pix / p.ow) * p.sh) - i32(p.pt);
	let ix0 = i32((pix % p.ow) * p.sw) - i32(p.pl);
	let sbase = p.in_off + b * p.in_bstride + grp * p.cing * hw; // the input at its layout

	// The row of A this invocation loads, and its first column.
	let arow = (li * ALD) / BK;
	let avalid = live && r0 + arow < p.coutg;
	let abase = (grp * p.coutg + r0 + arow) * p.k;
	let ak = (li * ALD) % BK;

	var acc: array<f32, 16>;
	for (var k0 = 0u; k0 < p.k; k0 = k0 + BK) {
		for (var t = 0u; t < ALD; t = t + 1u) {
			let gk = k0 + ak + t;
			var v = 0.0;
			if (avalid && gk < p.k) {
				v = weight[abase + gk];
			}
			As[(ak + t) * BM + arow] = v;
		}
		for (var t = 0u; t < BLD; t = t + 1u) {
			let kk = (li / BN) * BLD + t;
			let gk = k0 + kk;
			var v = 0.0;
			if (jvalid && gk < p.k) {
				let ci = gk / khw;
				let r = gk % khw;
				let iy = iy0 + i32((r / p.kw) * p.dh);
				let ix = ix0 + i32((r % p.kw) * p.dw);
				if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
					v = stage(vec4<f32>(src[sbase + ci * hw + u32(iy) * p.w + u32(ix)]), grp * p.cing + ci, p.cin).x;
				}
			}
			Bs[kk * BN + bcol] = v;
		}
		workgroupBarrier();
		for (var kk = 0u; kk < BK; kk = kk + 1u) {
			var a: array<f32, 4>;
			var bv: array<f32, 4>;
			for (var i = 0u; i < 4u; i = i + 1u) {
				a[i] = As[kk * BM + ty + RT * i];
				bv[i] = Bs[kk * BN + tx + CT * i];
			}
			for (var i = 0u; i < 4u; i = i + 1u) {
				for (var jx = 0u; jx < 4u; jx = jx + 1u) {
					acc[i * 4u + jx] = fma(a[i], bv[jx], acc[i * 4u + jx]);
				}
			}
		}
		workgroupBarrier();
	}

	if (!live) {
		return;
	}
	for (var i = 0u; i < 4u; i = i + 1u) {
		let r = r0 + ty + RT * i;
		if (r >= p.coutg) {
			continue;
		}
		let m = grp * p.coutg + r;
		let s = scale[m];
		let bb = bias[m];
		for (var jx = 0u; jx < 4u; jx = jx + 1u) {
			let col = n0 + tx + CT * jx;
			if (col >= p.npix) {
				continue;
			}
			finish(((col / ohw) * p.cout + m) * ohw + col % ohw, acc[i * 4u + jx], s, bb);
		}
	}
}

fn stage(v: vec4<f32>, c: u32, nc: u32) -> vec4<f32> {
	return v;
}
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
