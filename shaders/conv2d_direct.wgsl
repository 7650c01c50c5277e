// conv2d, variant "direct": no workgroup memory and no barriers, for CPU
// adapters (lavapipe), where a barrier makes every invocation a coroutine
// and caches do what workgroup memory does on a GPU. Each invocation
// computes a 8 (output channels) × 4 (pixels) block straight from the
// input and weight buffers:
//   out[m, j] = Σ_k w[m, k] · im2col(src)[k, j],  k = (ci, ky, kx),
// then the epilogue: ·scale[m] + bias[m] (+ res) (ReLU).
// KH, KW, STRIDE, RESIDUAL and RELU are prepended by the host. Only
// kernels larger than 7×7 use this file; the others use the kernel that
// conv2d_direct.go generates, which loads each input and weight far fewer
// times (llvmpipe's storage buffer loads cost some 30 cycles a float).

// Params and bindings 0, 3-6: conv2d_params.wgsl, prepended by the host.
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
	let j0 = gid.x * 4u;  // first pixel (over batch × OH × OW)
	let m0 = gid.y * 8u;  // first output channel
	if (j0 >= p.npix || m0 >= p.cout) {
		return;
	}
	let ohw = p.oh * p.ow;
	// Per pixel column: image base offset and top-left input position;
	// columns past the end repeat the last valid one and are not written.
	var base: array<u32, 4>;
	var iy0: array<i32, 4>;
	var ix0: array<i32, 4>;
	for (var c = 0u; c < 4u; c = c + 1u) {
		let j = min(j0 + c, p.npix - 1u);
		let pix = j % ohw;
		base[c] = (j / ohw) * p.cin * p.h * p.w;
		iy0[c] = i32((pix / p.ow) * STRIDE) - i32(p.pad);
		ix0[c] = i32((pix % p.ow) * STRIDE) - i32(p.pad);
	}
	var wrow: array<u32, 8>;
	for (var r = 0u; r < 8u; r = r + 1u) {
		wrow[r] = min(m0 + r, p.cout - 1u) * p.k;
	}
	var acc: array<f32, 32>;
	let hw = p.h * p.w;
	var k = 0u;
	for (var ci = 0u; ci < p.cin; ci = ci + 1u) {
		for (var ky = 0u; ky < KH; ky = ky + 1u) {
			for (var kx = 0u; kx < KW; kx = kx + 1u) {
				var x: array<f32, 4>;
				for (var c = 0u; c < 4u; c = c + 1u) {
					let iy = iy0[c] + i32(ky);
					let ix = ix0[c] + i32(kx);
					var v = 0.0;
					if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
						v = src[base[c] + ci * hw + u32(iy) * p.w + u32(ix)];
					}
					x[c] = v;
				}
				let w0 = weight[wrow[0] + k];
				let w1 = weight[wrow[1] + k];
				let w2 = weight[wrow[2] + k];
				let w3 = weight[wrow[3] + k];
				let w4 = weight[wrow[4] + k];
				let w5 = weight[wrow[5] + k];
				let w6 = weight[wrow[6] + k];
				let w7 = weight[wrow[7] + k];
				acc[0] = fma(w0, x[0], acc[0]);
				acc[1] = fma(w0, x[1], acc[1]);
				acc[2] = fma(w0, x[2], acc[2]);
				acc[3] = fma(w0, x[3], acc[3]);
				acc[4] = fma(w1, x[0], acc[4]);
				acc[5] = fma(w1, x[1], acc[5]);
				acc[6] = fma(w1, x[2], acc[6]);
				acc[7] = fma(w1, x[3], acc[7]);
				acc[8] = fma(w2, x[0], acc[8]);
				acc[9] = fma(w2, x[1], acc[9]);
				acc[10] = fma(w2, x[2], acc[10]);
				acc[11] = fma(w2, x[3], acc[11]);
				acc[12] = fma(w3, x[0], acc[12]);
				acc[13] = fma(w3, x[1], acc[13]);
				acc[14] = fma(w3, x[2], acc[14]);
				acc[15] = fma(w3, x[3], acc[15]);
				acc[16] = fma(w4, x[0], acc[16]);
				acc[17] = fma(w4, x[1], acc[17]);
				acc[18] = fma(w4, x[2], acc[18]);
				acc[19] = fma(w4, x[3], acc[19]);
				acc[20] = fma(w5, x[0], acc[20]);
				acc[21] = fma(w5, x[1], acc[21]);
				acc[22] = fma(w5, x[2], acc[22]);
				acc[23] = fma(w5, x[3], acc[23]);
				acc[24] = fma(w6, x[0], acc[24]);
				acc[25] = fma(w6, x[1], acc[25]);
				acc[26] = fma(w6, x[2], acc[26]);
				acc[27] = fma(w6, x[3], acc[27]);
				acc[28] = fma(w7, x[0], acc[28]);
				acc[29] = fma(w7, x[1], acc[29]);
				acc[30] = fma(w7, x[2], acc[30]);
				acc[31] = fma(w7, x[3], acc[31]);
				k = k + 1u;
			}
		}
	}
	for (var r = 0u; r < 8u; r = r + 1u) {
		let m = m0 + r;
		if (m >= p.cout) {
			break;
		}
		let s = scale[m];
		let b = bias[m];
		for (var c = 0u; c < 4u; c = c + 1u) {
			let j = j0 + c;
			if (j >= p.npix) {
				break;
			}
			finish(((j / ohw) * p.cout + m) * ohw + j % ohw, acc[r * 4u + c], s, b);
		}
	}
}
