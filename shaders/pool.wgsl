// Pooling, PyTorch's semantics. The window of output (y, x) spans rows
// [y·sh − pt, y·sh − pt + kh) and columns [x·sw − pl, x·sw − pl + kw);
// positions outside the image are ignored.
//   MAX: dst[n,c,y,x] = the window's maximum.
//   else average: dst = the window's sum / the divisor, which is with
//     INCLUDE_PAD its size clipped to the padded input (rows up to
//     hp = h + pb, columns up to wp = w + pr), else its in-image size.
// The host checks that every window meets the image. Global average pool
// is the average of one h×w window. One invocation per output element, the
// 1-D index folded over x, y and z. The input is contiguous; the output
// lies at its layout (put).

struct Params {
	nc: u32, h: u32, w: u32, oh: u32,
	ow: u32, kh: u32, kw: u32, sh: u32,
	sw: u32, pt: u32, pl: u32, hp: u32,
	wp: u32, total: u32, c: u32, out_off: u32,
	out_bstride: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let i = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (i >= p.total) {
		return;
	}
	let ohw = p.oh * p.ow;
	let nc = i / ohw;
	let y = (i % ohw) / p.ow;
	let x = i % p.ow;
	let y0 = i32(y * p.sh) - i32(p.pt);
	let x0 = i32(x * p.sw) - i32(p.pl);
	let y1 = min(y0 + i32(p.kh), i32(p.hp)); // the window clipped to the padded input
	let x1 = min(x0 + i32(p.kw), i32(p.wp));
	let ys = u32(max(y0, 0)); // … and to the image
	let xs = u32(max(x0, 0));
	let ye = u32(min(y1, i32(p.h)));
	let xe = u32(min(x1, i32(p.w)));
	let base = nc * p.h * p.w;
	if (MAX) {
		var m = src[base + ys * p.w + xs];
		for (var iy = ys; iy < ye; iy = iy + 1u) {
			for (var ix = xs; ix < xe; ix = ix + 1u) {
				m = max(m, src[base + iy * p.w + ix]);
			}
		}
		put(i, m);
		return;
	}
	var sum = 0.0;
	for (var iy = ys; iy < ye; iy = iy + 1u) {
		for (var ix = xs; ix < xe; ix = ix + 1u) {
			sum = sum + src[base + iy * p.w + ix];
		}
	}
	var count = (ye - ys) * (xe - xs);
	if (INCLUDE_PAD) {
		count = u32(y1 - y0) * u32(x1 - x0);
	}
	put(i, sum / f32(count));
}

// put stores output element i (numbered [N][C][OH][OW] contiguously) where
// the layout puts it: image n = i / (C·OH·OW) starts at out_off +
// n·out_bstride (a slice of a concatenation's output); a contiguous output
// has out_off = 0 and out_bstride = C·OH·OW, without a division.
fn put(i: u32, v: f32) {
	let img = p.c * p.oh * p.ow;
	if (p.out_bstride == img) {
		dst[p.out_off + i] = v;
		return;
	}
	let n = i / img;
	dst[p.out_off + n * p.out_bstride + (i - n * img)] = v;
}
