// B loader of conv2d_gemm.wgsl for any convolution: the im2col view of the
// NCHW input, B[k][j] = src[b][ci][oy·STRIDE - pad + ky][ox·STRIDE - pad + kx]
// with k = (ci, ky, kx) and j = (b, oy, ox) over the whole batch (grid z is
// 1), zero outside the image. KH, KW and STRIDE are compile-time constants,
// so the decoding of k needs no division by a variable; each invocation
// decodes its four columns once.

@group(0) @binding(1) var<storage, read> src: array<f32>;

// Per column of this invocation: the input origin of its window and the
// offset of its image; a column past npix gets an origin that no window
// reaches.
var<private> iy0: vec4<i32>;
var<private> ix0: vec4<i32>;
var<private> img: vec4<u32>;

fn outBase(z: u32, col: u32) -> u32 {
	if (col >= p.npix) {
		return NOCOL;
	}
	let ohw = p.oh * p.ow;
	let b = col / ohw;
	return b * p.cout * ohw + (col - b * ohw);
}

struct Col {
	iy0: i32,
	ix0: i32,
	img: u32,
}

fn column(j: u32) -> Col {
	if (j >= p.npix) {
		return Col(-0x40000000, 0, 0u);
	}
	let ohw = p.oh * p.ow;
	let b = j / ohw;
	let pix = j - b * ohw;
	let oy = pix / p.ow;
	let ox = pix - oy * p.ow;
	return Col(i32(oy * STRIDE) - i32(p.pad), i32(ox * STRIDE) - i32(p.pad), b * p.cin * p.h * p.w);
}

fn bInit(z: u32, col: u32) {
	let c0 = column(col);
	let c1 = column(col + 1u);
	let c2 = column(col + 2u);
	let c3 = column(col + 3u);
	iy0 = vec4<i32>(c0.iy0, c1.iy0, c2.iy0, c3.iy0);
	ix0 = vec4<i32>(c0.ix0, c1.ix0, c2.ix0, c3.ix0);
	img = vec4<u32>(c0.img, c1.img, c2.img, c3.img);
}

fn bLoad(k: u32) -> vec4<f32> {
	let ci = k / (KH * KW);
	let r = k - ci * (KH * KW);
	let ky = r / KW;
	let kx = r - ky * KW;
	let iy = vec4<u32>(iy0 + vec4<i32>(i32(ky)));
	let ix = vec4<u32>(ix0 + vec4<i32>(i32(kx)));
	let inside = (iy < vec4<u32>(p.h)) & (ix < vec4<u32>(p.w));
	let o = img + vec4<u32>(ci * p.h * p.w) + iy * p.w + ix;
	var v = vec4<f32>(0.0);
	if (inside.x) {
		v.x = src[o.x];
	}
	if (inside.y) {
		v.y = src[o.y];
	}
	if (inside.z) {
		v.z = src[o.z];
	}
	if (inside.w) {
		v.w = src[o.w];
	}
	return v;
}
