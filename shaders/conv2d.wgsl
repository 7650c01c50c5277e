// conv2d, variant "tiled": convolution as an implicit GEMM.
//   C[m, j] = Σ_k A[m, k] · B[k, j],  m = output channel, j = (n, oy, ox),
//   k = (ci, ky, kx), A = weights [Cout][Cin·KH·KW], B = the im2col view of
//   the input (zero outside the image), gathered on the fly.
// A 64×64 tile of C per workgroup of 256 invocations, each accumulating a
// 4×4 block (rows ty + 16·i, columns tx + 16·j so that writes coalesce);
// K advances in steps of 16 through workgroup memory.
// Epilogue: out = C·scale[m] + bias[m] (+ res) then ReLU, per the constants
// RESIDUAL and RELU that the host prepends.

// Params and bindings 0, 3-6: conv2d_params.wgsl, prepended by the host.
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> As: array<f32, 1024>; // [BK][BM]
var<workgroup> Bs: array<f32, 1024>; // [BK][BN]

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let m0 = wg.y * BM;
	let n0 = wg.x * BN;
	let tx = li % 16u;
	let ty = li / 16u;
	let khw = p.kh * p.kw;
	let ohw = p.oh * p.ow;

	// The column this invocation gathers for B, decoded once.
	let bcol = li % BN;
	let j = n0 + bcol;
	let jvalid = j < p.npix;
	let jj = select(0u, j, jvalid);
	let b = jj / ohw;
	let pix = jj % ohw;
	let iy0 = i32((pix / p.ow) * p.stride) - i32(p.pad);
	let ix0 = i32((pix % p.ow) * p.stride) - i32(p.pad);
	let sbase = b * p.cin * p.h * p.w;

	// The row of A this invocation loads.
	let arow = li / 4u;
	let am = m0 + arow;
	let ak = (li % 4u) * 4u;

	var acc: array<f32, 16>;
	for (var k0 = 0u; k0 < p.k; k0 = k0 + BK) {
		for (var t = 0u; t < 4u; t = t + 1u) {
			let gk = k0 + ak + t;
			var v = 0.0;
			if (am < p.cout && gk < p.k) {
				v = weight[am * p.k + gk];
			}
			As[(ak + t) * BM + arow] = v;
		}
		for (var t = 0u; t < 4u; t = t + 1u) {
			let kk = (li / BN) * 4u + t;
			let gk = k0 + kk;
			var v = 0.0;
			if (jvalid && gk < p.k) {
				let ci = gk / khw;
				let r = gk % khw;
				let iy = iy0 + i32(r / p.kw);
				let ix = ix0 + i32(r % p.kw);
				if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
					v = src[sbase + (ci * p.h + u32(iy)) * p.w + u32(ix)];
				}
			}
			Bs[kk * BN + bcol] = v;
		}
		workgroupBarrier();
		for (var kk = 0u; kk < BK; kk = kk + 1u) {
			var a: array<f32, 4>;
			var bv: array<f32, 4>;
			for (var i = 0u; i < 4u; i = i + 1u) {
				a[i] = As[kk * BM + ty + 16u * i];
				bv[i] = Bs[kk * BN + tx + 16u * i];
			}
			for (var i = 0u; i < 4u; i = i + 1u) {
				for (var jx = 0u; jx < 4u; jx = jx + 1u) {
					acc[i * 4u + jx] = fma(a[i], bv[jx], acc[i * 4u + jx]);
				}
			}
		}
		workgroupBarrier();
	}

	for (var i = 0u; i < 4u; i = i + 1u) {
		let m = m0 + ty + 16u * i;
		if (m >= p.cout) {
			continue;
		}
		let s = scale[m];
		let bb = bias[m];
		for (var jx = 0u; jx < 4u; jx = jx + 1u) {
			let col = n0 + tx + 16u * jx;
			if (col >= p.npix) {
				continue;
			}
			finish(((col / ohw) * p.cout + m) * ohw + col % ohw, acc[i * 4u + jx], s, bb);
		}
	}
}
