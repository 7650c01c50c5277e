const RESIDUAL: bool = true;
const RELU: bool = true;
const KH: u32 = 1u;
const KW: u32 = 1u;
const STRIDE: u32 = 1u;
const SPLIT: u32 = 1u;
const ZMAT: bool = false;
const BM: u32 = 32u;
const BN: u32 = 32u;
const BK: u32 = 8u;
const TM: u32 = 4u;
const TN: u32 = 4u;
const KS: u32 = 4u;
const BKT: u32 = 32u;
const RM: u32 = 1u;
const RN: u32 = 1u;
const NTS: u32 = 64u;
const ASTR: u32 = 9u;
const BSTR: u32 = 8u;
const ASZ: u32 = 288u;
const BSZ: u32 = 256u;
const SHSZ: u32 = 1088u;
const ALD: u32 = 1u;
const BLD: u32 = 1u;
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
// B loader of conv2d_gemm.wgsl for 1×1 convolutions with stride 1 and no
// padding whose images have a multiple of 4 pixels (and whose input
// layout's offset and batch stride are multiples of 4): B[k][j] =
// stage(src[z][k][j]), one image per grid z, image z starting at
// p.in_off + z·p.in_bstride, read as vec4 (four pixels of one channel)
// through the input stage (conv2d_prestage.wgsl or the identity, appended
// by the host).

@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;

var<private> b4: u32; // vec4 index of (image z, channel 0, this invocation's first column)
var<private> bok: bool;

fn outBase(z: u32, col: u32) -> u32 {
	let hw = p.oh * p.ow;
	if (col >= hw) {
		return NOCOL;
	}
	return z * p.cout * hw + col;
}

fn bInit(z: u32, col: u32) {
	let hw = p.oh * p.ow;
	bok = col < hw;
	b4 = (p.in_off + z * p.in_bstride + col) / 4u;
}

fn bLoad(k: u32) -> vec4<f32> {
	if (bok) {
		return stage(src[b4 + k * (p.oh * p.ow / 4u)], k, p.cin);
	}
	return vec4<f32>(0.0);
}
// conv2d GEMM core, shared by the variants tiled64, tiled128, tiled64x128,
// small, splitk and gemm1x1*: the convolution as the matrix product
//   C[m, j] = Σ_k A[m, k] · B[k, j],  m = output channel, k = (ci, ky, kx),
//   A = weights [Cout][Cin·KH·KW], B = the input seen as a K × columns matrix,
// then out = C·scale[m] + bias[m] (+ res) and ReLU, per RESIDUAL and RELU
// (conv2d_epilogue.wgsl).
//
// The host puts in front of this file the compile-time constants (tile
// sizes, kernel geometry, flags) and a B loader (conv2d_im2col.wgsl,
// conv2d_1x1.wgsl or conv2d_1x1s.wgsl) that declares binding 1 and
//   fn bInit(z: u32, col: u32)    this invocation's columns col … col+3 of
//                                 grid slice z (z is the image for 1×1)
//   fn bLoad(k: u32) -> vec4<f32> B[k][col … col+3], zero past the last column
//   fn outBase(z: u32, col: u32) -> u32
//                                 dst index of (column col, m = 0), or NOCOL
//                                 past the last column
//
// One workgroup of 256 invocations computes a BM × BN tile of C. Each step
// brings BKT = BK·KS rows of A and B into workgroup memory (double
// buffered: the global loads of the next step are issued before the
// current step's arithmetic); the invocations form KS slices, slice s
// multiplying rows s·BK … s·BK+BK-1, each invocation a TM × TN block
// (TM/4 and TN/4 vec4 groups, half a tile apart). With KS > 1 the slices'
// partial sums are added in workgroup memory before the epilogue.
//
// With SPLIT > 1 (im2col loader only) K is also split across workgroups:
// grid slice z multiplies rows z·kchunk … z·kchunk+kchunk-1 and writes its
// raw sums to dst at z·(N·Cout·OH·OW) + the output index, leaving scale,
// bias, residual and ReLU to conv2d_reduce.wgsl, which adds the slices. A
// tile of few pixels and many output channels over a long K (late layers at
// batch 1) then spreads over SPLIT times as many workgroups.
//
// With ZMAT (the Winograd loader conv2d_wino.wgsl) grid slice z is one of
// 16 independent products: A is the z-th Cout × K matrix of the weights,
// and the raw sums go to dst at z·Cout·npix + the output index, for
// conv2d_wino_out.wgsl.
// Workgroup tiles are vec4 over m (A, stored transposed, rows padded to an
// odd number of vec4 against bank conflicts) and over columns (B).
//
// Every array that should live in registers is indexed by constants only
// (the vec4 groups are written out, guarded by constant conditions): a
// loop-indexed one can land in local memory, which was ten times slower on
// an NVIDIA H200. So TM, TN ∈ {4, 8}, ALD, BLD ∈ {1, 2}, and KS > 1 only
// with TM = TN = 4.
//
// Host-derived constants: BKT = BK·KS, RM = TM/4, RN = TN/4, NTS = 256/KS,
// ASTR = BM/4 + 1, BSTR = BN/4, ASZ = BKT·ASTR, BSZ = BKT·BSTR,
// SHSZ = 2·(ASZ+BSZ), or KS·BM·BN/4 if more and KS > 1,
// ALD = BKT·BM/1024, BLD = BKT·BN/1024.

// Params and bindings 0, 3-6: conv2d_params.wgsl, prepended by the host;
// binding 1 comes with the loader.
@group(0) @binding(2) var<storage, read> weight: array<f32>;

const NOCOL: u32 = 0xffffffffu;

var<workgroup> sh: array<vec4<f32>, SHSZ>;

// The invocation's TM × TN sums: acc[(4·r + i)·RN + c] holds rows
// 4·(ty + r·BM/TM) + i and columns 4·(tx + c·BN/TN) + 0…3.
var<private> acc: array<vec4<f32>, 16>;

// Staged global loads of one step: A (vec4 over 4 rows m), B (vec4 over 4
// columns).
var<private> ra0: vec4<f32>;
var<private> ra1: vec4<f32>;
var<private> rb0: vec4<f32>;
var<private> rb1: vec4<f32>;

// The rows this workgroup multiplies end before kEnd; part is its slice's
// offset in dst (SPLIT > 1).
var<private> kEnd: u32;
var<private> part: u32;
var<private> aBase: u32; // offset of this slice's A (ZMAT)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let m0 = wg.y * BM;
	let n0 = wg.x * BN;
	var z = wg.z;
	var k0 = 0u;
	kEnd = p.k;
	if (SPLIT > 1u) {
		z = 0u;
		k0 = wg.z * p.kchunk;
		kEnd = min(k0 + p.kchunk, p.k);
		part = wg.z * p.cout * p.npix;
	}
	if (ZMAT) {
		aBase = wg.z * p.cout * p.k;
		part = wg.z * p.cout * p.npix;
	}

	// Loader roles: A rows k = kA, m = m0 + 4·mA (+ 4·256/BKT) + 0…3;
	// B rows k = kB (+ 1024/BN), columns n0 + 4·nB + 0…3.
	let kA = li % BKT;
	let mA = li / BKT;
	let nB = li % (BN / 4u);
	let kB = li / (BN / 4u);
	bInit(z, n0 + 4u * nB);

	// Compute roles.
	let s = select(li / NTS, 0u, KS == 1u);
	let ls = li % NTS;
	let tx = ls % (BN / TN);
	let ty = ls / (BN / TN);

	let nsteps = (kEnd - k0 + BKT - 1u) / BKT;
	loadStep(k0, m0, kA, mA, kB);
	storeStep(0u, kA, mA, kB, nB);
	workgroupBarrier();
	for (var t = 0u; t < nsteps; t = t + 1u) {
		let cur = (t & 1u) * (ASZ + BSZ);
		let more = t + 1u < nsteps;
		if (more) {
			loadStep(k0 + (t + 1u) * BKT, m0, kA, mA, kB);
		}
		for (var kk = 0u; kk < BK; kk = kk + 1u) {
			let ao = cur + (s * BK + kk) * ASTR + ty;
			let bo = cur + ASZ + (s * BK + kk) * BSTR + tx;
			let a0 = sh[ao];
			let b0 = sh[bo];
			mac(0u, a0, b0);
			if (RN > 1u) {
				mac(1u, a0, sh[bo + BN / TN]);
			}
			if (RM > 1u) {
				let a1 = sh[ao + BM / TM];
				mac(4u * RN, a1, b0);
				if (RN > 1u) {
					mac(4u * RN + 1u, a1, sh[bo + BN / TN]);
				}
			}
		}
		if (more) {
			storeStep(((t + 1u) & 1u) * (ASZ + BSZ), kA, mA, kB, nB);
		}
		workgroupBarrier();
	}

	if (KS == 1u) {
		let m = m0 + 4u * ty;
		let col = n0 + 4u * tx;
		let ob0 = outBase4(z, col);
		storeBlock(0u, m, ob0);
		if (RM > 1u) {
			storeBlock(4u * RN, m + 4u * (BM / TM), ob0);
		}
		if (RN > 1u) {
			let ob1 = outBase4(z, col + 4u * (BN / TN));
			storeBlock(1u, m, ob1);
			if (RM > 1u) {
				storeBlock(4u * RN + 1u, m + 4u * (BM / TM), ob1);
			}
		}
		return;
	}

	// KS > 1 (so TM = TN = 4): every slice parks its four sums (row i of
	// invocation ls at (s·4 + i)·NTS + ls), then the 256 invocations add the
	// slices, one unit u = i·NTS + ls at a time.
	sh[(s * 4u) * NTS + ls] = acc[0];
	sh[(s * 4u + 1u) * NTS + ls] = acc[1];
	sh[(s * 4u + 2u) * NTS + ls] = acc[2];
	sh[(s * 4u + 3u) * NTS + ls] = acc[3];
	workgroupBarrier();
	for (var u = li; u < 4u * NTS; u = u + 256u) {
		var v = sh[u];
		for (var t = 1u; t < KS; t = t + 1u) {
			v = v + sh[t * 4u * NTS + u];
		}
		let uls = u % NTS;
		let col = n0 + 4u * (uls % (BN / TN));
		storeQuad(m0 + 4u * (uls / (BN / TN)) + u / NTS, outBase4(z, col), v);
	}
}

// mac adds the outer product of a (4 rows) and b (4 columns) to the block
// whose first row is acc[q].
fn mac(q: u32, a: vec4<f32>, b: vec4<f32>) {
	acc[q] = fma(vec4<f32>(a.x), b, acc[q]);
	acc[q + RN] = fma(vec4<f32>(a.y), b, acc[q + RN]);
	acc[q + 2u * RN] = fma(vec4<f32>(a.z), b, acc[q + 2u * RN]);
	acc[q + 3u * RN] = fma(vec4<f32>(a.w), b, acc[q + 3u * RN]);
}

fn loadA(k: u32, m: u32) -> vec4<f32> {
	var v = vec4<f32>(0.0);
	if (k < kEnd) {
		let o = aBase + m * p.k + k;
		if (m < p.cout) {
			v.x = weight[o];
		}
		if (m + 1u < p.cout) {
			v.y = weight[o + p.k];
		}
		if (m + 2u < p.cout) {
			v.z = weight[o + 2u * p.k];
		}
		if (m + 3u < p.cout) {
			v.w = weight[o + 3u * p.k];
		}
	}
	return v;
}

fn loadB(k: u32) -> vec4<f32> {
	if (k < kEnd) {
		return bLoad(k);
	}
	return vec4<f32>(0.0);
}

// loadStep reads this invocation's share of rows k0 … k0+BKT-1 of A and B
// into ra* and rb*, with zeros past K and Cout.
fn loadStep(k0: u32, m0: u32, kA: u32, mA: u32, kB: u32) {
	ra0 = loadA(k0 + kA, m0 + 4u * mA);
	if (ALD > 1u) {
		ra1 = loadA(k0 + kA, m0 + 4u * (mA + 256u / BKT));
	}
	rb0 = loadB(k0 + kB);
	if (BLD > 1u) {
		rb1 = loadB(k0 + kB + 1024u / BN);
	}
}

// storeStep writes ra* and rb* into the workgroup tiles at offset buf.
fn storeStep(buf: u32, kA: u32, mA: u32, kB: u32, nB: u32) {
	sh[buf + kA * ASTR + mA] = ra0;
	if (ALD > 1u) {
		sh[buf + kA * ASTR + mA + 256u / BKT] = ra1;
	}
	sh[buf + ASZ + kB * BSTR + nB] = rb0;
	if (BLD > 1u) {
		sh[buf + ASZ + (kB + 1024u / BN) * BSTR + nB] = rb1;
	}
}

fn outBase4(z: u32, col: u32) -> vec4<u32> {
	return vec4<u32>(outBase(z, col), outBase(z, col + 1u), outBase(z, col + 2u), outBase(z, col + 3u));
}

// storeBlock writes the 4 × 4 block whose first row is acc[q]: rows m … m+3,
// the columns whose dst offsets ob holds.
fn storeBlock(q: u32, m: u32, ob: vec4<u32>) {
	storeQuad(m, ob, acc[q]);
	storeQuad(m + 1u, ob, acc[q + RN]);
	storeQuad(m + 2u, ob, acc[q + 2u * RN]);
	storeQuad(m + 3u, ob, acc[q + 3u * RN]);
}

fn storeQuad(m: u32, ob: vec4<u32>, v: vec4<f32>) {
	if (m >= p.cout) {
		return;
	}
	if (SPLIT > 1u || ZMAT) {
		let mo = part + m * p.oh * p.ow;
		storeRaw(ob.x, mo, v.x);
		storeRaw(ob.y, mo, v.y);
		storeRaw(ob.z, mo, v.z);
		storeRaw(ob.w, mo, v.w);
		return;
	}
	let s = scale[m];
	let b = bias[m];
	let mo = m * p.oh * p.ow;
	store1(ob.x + mo, ob.x, v.x, s, b);
	store1(ob.y + mo, ob.y, v.y, s, b);
	store1(ob.z + mo, ob.z, v.z, s, b);
	store1(ob.w + mo, ob.w, v.w, s, b);
}

// store1 finishes output idx unless its column base is NOCOL.
fn store1(idx: u32, base: u32, v: f32, s: f32, b: f32) {
	if (base != NOCOL) {
		finish(idx, v, s, b);
	}
}

fn storeRaw(base: u32, mo: u32, v: f32) {
	if (base != NOCOL) {
		dst[base + mo] = v;
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
