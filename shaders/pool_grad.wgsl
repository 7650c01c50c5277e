// The pools' input gradient, a gather: input element (n, c, iy, ix)
// collects dy[n,c,y,x] from every output (y, x) whose window (as in
// pool.wgsl) covers it:
//   MAX: if it is the window's first maximum in scan order (PyTorch's
//     choice), the whole dy;
//   else average: dy / the window's divisor (INCLUDE_PAD: its size
//     clipped to the padded input; else its in-image size).
// One invocation per input element, the 1-D index folded over x, y and
// z; all tensors contiguous.

struct Params {
	nc: u32, h: u32, w: u32, oh: u32,
	ow: u32, kh: u32, kw: u32, sh: u32,
	sw: u32, pt: u32, pl: u32, hp: u32,
	wp: u32, total: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let e = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (e >= p.total) {
		return;
	}
	let hw = p.h * p.w;
	let nc = e / hw;
	let iy = i32((e % hw) / p.w);
	let ix = i32(e % p.w);
	let base = nc * hw;
	// outputs y with y·sh − pt ≤ iy < y·sh − pt + kh
	let ylo = max((iy + i32(p.pt) - i32(p.kh) + i32(p.sh)) / i32(p.sh), 0); // ⌈(iy + pt − kh + 1)/sh⌉ for iy + pt − kh + 1 ≥ 0
	let yhi = min((iy + i32(p.pt)) / i32(p.sh), i32(p.oh) - 1);
	let xlo = max((ix + i32(p.pl) - i32(p.kw) + i32(p.sw)) / i32(p.sw), 0);
	let xhi = min((ix + i32(p.pl)) / i32(p.sw), i32(p.ow) - 1);
	var sum = 0.0;
	for (var y = ylo; y <= yhi; y = y + 1) {
		for (var x = xlo; x <= xhi; x = x + 1) {
			let y0 = y * i32(p.sh) - i32(p.pt);
			let x0 = x * i32(p.sw) - i32(p.pl);
			if (iy < y0 || iy >= y0 + i32(p.kh) || ix < x0 || ix >= x0 + i32(p.kw)) {
				continue;
			}
			let y1 = min(y0 + i32(p.kh), i32(p.hp));
			let x1 = min(x0 + i32(p.kw), i32(p.wp));
			let ys = u32(max(y0, 0));
			let xs = u32(max(x0, 0));
			let ye = u32(min(y1, i32(p.h)));
			let xe = u32(min(x1, i32(p.w)));
			let d = dy[(nc * p.oh + u32(y)) * p.ow + u32(x)];
			if (MAX) {
				var m = src[base + ys * p.w + xs];
				var at = ys * p.w + xs;
				for (var ry = ys; ry < ye; ry = ry + 1u) {
					for (var rx = xs; rx < xe; rx = rx + 1u) {
						let v = src[base + ry * p.w + rx];
						if (v > m) {
							m = v;
							at = ry * p.w + rx;
						}
					}
				}
				if (at == u32(iy) * p.w + u32(ix)) {
					sum = sum + d;
				}
				continue;
			}
			var count = (ye - ys) * (xe - xs);
			if (INCLUDE_PAD) {
				count = u32(y1 - y0) * u32(x1 - x0);
			}
			sum = sum + d / f32(count);
		}
	}
	dx[e] = sum;
}
