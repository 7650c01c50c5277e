const RESIDUAL: bool = false;
const RELU: bool = true;
const TEXW: u32 = 4096u;
const KH: u32 = 3u;
const KW: u32 = 3u;
const KHW: u32 = 9u;
const SH: u32 = 1u;
const SW: u32 = 1u;
const DH: u32 = 1u;
const DW: u32 = 1u;
const PT: u32 = 1u;
const PL: u32 = 1u;
const VEC: bool = true;
const BR: u32 = 1u;
const BC: u32 = 1u;
const UY: u32 = 1u;
const UX: u32 = 1u;
const PH: u32 = 3u;
const PW: u32 = 3u;
const PHW: u32 = 9u;
const NQ: u32 = 1u;
// The parameters and bindings every conv2d kernel shares (ConvParams in
// conv2d.go mirrors Params). Each kernel file declares bindings 1 and 2,
// the input and the weights, itself: as f32 or vec4<f32> arrays, or as
// textures (the direct4 variant).

struct Params {
	n: u32, cin: u32, h: u32, w: u32,
	cout: u32, oh: u32, ow: u32, kh: u32,
	kw: u32, stride: u32, pad: u32, k: u32,
	npix: u32, kchunk: u32, out_off: u32, out_bstride: u32,
	in_off: u32, in_bstride: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> scale: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> res: array<f32>;
@group(0) @binding(6) var<storage, read_write> dst: array<f32>;
// conv2d, variant "grouped": a grouped convolution (ResNeXt's 3×3 layers,
// depthwise ones) of a kernel up to 7×7, any stride, dilation and padding
// per axis. The input and the weights are textures of four channels a
// texel, as direct4's (conv2d_pack.wgsl packs the input, PackWeights the
// weights of each output channel's Cin/groups input channels).
// Invocation u computes 4 output channels of one group × a BR × BC block
// of output pixels: u % nblk is the block, u / nblk the channel block
// (group grp, its channels r0 … r0+3), so that neighbouring invocations
// share weights and read neighbouring pixels. Per step over its group's
// input channels it loads the patch under the block once and uses each
// value for the 4 channels and every tap that covers it; no workgroup
// memory, no barriers. Channels past the group's end repeat its last one
// and are not stored.
// With VEC (channels per group a multiple of 4) a step is one texel of
// four input channels; else it is one channel, its value moved into the
// component that holds it in the weights' texels and the others zeroed.
// The loops run over constants that the host prepends: TEXW, KH, KW, KHW
// = KH·KW, the strides SH, SW, dilations DH, DW and top and left padding
// PT, PL, VEC, BR, BC, and the patch under a block: PH rows × PW columns,
// patch row y being input row iy0 + y·UY, column x input column
// ix0 + x·UX (UY divides DH, and SH when BR > 1; without dilation UY = 1
// and PH = (BR−1)·SH + KH), PHW = PH·PW, NQ = BR·BC. conv2d_params.wgsl
// comes before this file; after it the host's fn taps, which calls tap
// for each of the KH·KW taps, and conv2d_epilogue.wgsl; p.k is
// Cin/groups·KH·KW. The workgroup size, 64, is groupedWG in
// conv2d_grouped.go.

@group(0) @binding(1) var src: texture_2d<f32>;
@group(0) @binding(2) var weight: texture_2d<f32>;

fn src4(i: u32) -> vec4<f32> {
	return textureLoad(src, vec2<u32>(i % TEXW, i / TEXW), 0);
}

fn weight4(i: u32) -> vec4<f32> {
	return textureLoad(weight, vec2<u32>(i % TEXW, i / TEXW), 0);
}

// tap adds tap (ky, kx) of the patch v to the accumulators acc, the 4
// channels' weights read from texels wr + ky·KW + kx. The caller (taps)
// passes constants and the loops here are short, so that llvmpipe, whose
// compiler unrolls only small loops, runs straight-line code in which acc
// and v are indexed by constants and live in registers (a loop over the
// taps would index v with a variable).
fn tap(acc: ptr<function, array<vec4<f32>, NQ>>, v: ptr<function, array<vec4<f32>, PHW>>, wr: vec4<u32>, ky: u32, kx: u32) {
	let t = ky * KW + kx;
	let w0 = weight4(wr.x + t);
	let w1 = weight4(wr.y + t);
	let w2 = weight4(wr.z + t);
	let w3 = weight4(wr.w + t);
	for (var r = 0u; r < BR; r = r + 1u) {
		for (var c = 0u; c < BC; c = c + 1u) {
			let e = (*v)[((r * SH + ky * DH) / UY) * PW + (c * SW + kx * DW) / UX];
			let q = r * BC + c;
			(*acc)[q] = (*acc)[q] + vec4<f32>(dot(w0, e), dot(w1, e), dot(w2, e), dot(w3, e));
		}
	}
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
	@builtin(local_invocation_index) li: u32) {
	let cing = p.k / KHW;
	let groups = p.cin / cing;
	let coutg = p.cout / groups;
	let mblocks = (coutg + 3u) / 4u;
	let nbx = (p.ow + BC - 1u) / BC;
	let nby = (p.oh + BR - 1u) / BR;
	let nblk = p.n * nby * nbx;
	let u = ((wg.z * nwg.y + wg.y) * nwg.x + wg.x) * 64u + li;
	let blk = u % nblk;
	let cb = u / nblk;
	if (cb >= groups * mblocks) {
		return;
	}
	let grp = cb / mblocks;
	let r0 = (cb % mblocks) * 4u; // the block's first channel within its group
	let img = blk / (nby * nbx);
	let oy0 = ((blk / nbx) % nby) * BR;
	let ox0 = (blk % nbx) * BC;
	let iy0 = i32(oy0 * SH) - i32(PT);
	let ix0 = i32(ox0 * SW) - i32(PL);
	let hw = p.h * p.w;
	let c4 = (p.cin + 3u) / 4u; // texels a pixel of the packed input
	let c4g = (cing + 3u) / 4u; // texels a tap of the packed weights

	// Patch rows and columns: clamped offsets, and whether inside the image.
	var ry: array<u32, PH>;
	var oky: array<bool, PH>;
	for (var y = 0u; y < PH; y = y + 1u) {
		let iy = iy0 + i32(y * UY);
		let cy = clamp(iy, 0, i32(p.h) - 1);
		ry[y] = u32(cy) * p.w;
		oky[y] = cy == iy;
	}
	var rx: array<u32, PW>;
	var okx: array<bool, PW>;
	for (var x = 0u; x < PW; x = x + 1u) {
		let ix = ix0 + i32(x * UX);
		let cx = clamp(ix, 0, i32(p.w) - 1);
		rx[x] = u32(cx);
		okx[x] = cx == ix;
	}
	// The 4 channels' first weight texels.
	let last = coutg - 1u;
	let wm = vec4<u32>(min(vec4<u32>(r0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last)) + vec4<u32>(grp * coutg));
	let wr = wm * (c4g * KHW);

	var acc: array<vec4<f32>, NQ>; // acc[q]: channels r0 … r0+3 of pixel q (row q / BC, column q % BC) of the block
	var v: array<vec4<f32>, PHW>; // the patch of the current step
	var steps = c4g;
	if (!VEC) {
		steps = cing;
	}
	for (var st = 0u; st < steps; st = st + 1u) {
		var base = (img * c4 + grp * c4g + st) * hw;
		var wk = st * KHW;
		var mask = vec4<f32>(1.0);
		var comp = 0u;
		if (!VEC) {
			let ch = grp * cing + st;
			base = (img * c4 + ch / 4u) * hw;
			comp = ch % 4u;
			wk = (st / 4u) * KHW;
			mask = select(vec4<f32>(0.0), vec4<f32>(1.0), vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(st % 4u));
		}
		for (var y = 0u; y < PH; y = y + 1u) {
			for (var x = 0u; x < PW; x = x + 1u) {
				var t = src4(base + ry[y] + rx[x]);
				if (!VEC) {
					t = mask * t[comp];
				}
				v[y * PW + x] = select(vec4<f32>(0.0), t, oky[y] && okx[x]);
			}
		}
		taps(&acc, &v, wr + vec4<u32>(wk));
	}

	// Epilogue: channel r0 + i at run time (unrolled, its 4·NQ stores would
	// compile slowly), the pixels unrolled.
	let ohw = p.oh * p.ow;
	let ni = min(4u, coutg - r0);
	for (var i = 0u; i < ni; i = i + 1u) {
		let m = grp * coutg + r0 + i;
		let sc = scale[m];
		let bi = bias[m];
		for (var r = 0u; r < BR; r = r + 1u) {
			for (var c = 0u; c < BC; c = c + 1u) {
				if (oy0 + r < p.oh && ox0 + c < p.ow) {
					finish((img * p.cout + m) * ohw + (oy0 + r) * p.ow + ox0 + c, acc[r * BC + c][i], sc, bi);
				}
			}
		}
	}
}

fn taps(acc: ptr<function, array<vec4<f32>, NQ>>, v: ptr<function, array<vec4<f32>, PHW>>, ws: vec4<u32>) {
	tap(acc, v, ws, 0u, 0u); tap(acc, v, ws, 0u, 1u); tap(acc, v, ws, 0u, 2u);
	tap(acc, v, ws, 1u, 0u); tap(acc, v, ws, 1u, 1u); tap(acc, v, ws, 1u, 2u);
	tap(acc, v, ws, 2u, 0u); tap(acc, v, ws, 2u, 1u); tap(acc, v, ws, 2u, 2u);
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
