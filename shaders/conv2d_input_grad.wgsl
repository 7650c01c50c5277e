// The convolution's input gradient, a gather: for input element
// (n, ci, iy, ix) of group g = ci / cg, channel c0 = ci % cg in it,
//   dx[n,ci,iy,ix] = Σ_{o in group g, i, j} w[o,c0,i,j] · dy[n,o,y,x]
// over the taps with iy = y·sh − pt + i·dh and ix = x·sw − pl + j·dw for an
// output position (y, x) inside the output. dy is the gradient at the
// convolution's sum (any fused ReLU's mask and scale applied before). One
// invocation per input element, the 1-D index folded over x, y and z; all
// tensors contiguous.

struct Params {
	total: u32, cin: u32, cout: u32, h: u32,
	w: u32, oh: u32, ow: u32, kh: u32,
	kw: u32, sh: u32, sw: u32, pt: u32,
	pl: u32, dh: u32, dw: u32, cg: u32,
	og: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let e = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (e >= p.total) {
		return;
	}
	let hw = p.h * p.w;
	let ix = i32(e % p.w);
	let iy = i32((e / p.w) % p.h);
	let ci = (e / hw) % p.cin;
	let n = e / (hw * p.cin);
	let g = ci / p.cg;
	let c0 = ci % p.cg;
	var sum = 0.0;
	for (var o = g * p.og; o < (g + 1u) * p.og; o = o + 1u) {
		let dyo = (n * p.cout + o) * p.oh * p.ow;
		for (var i = 0u; i < p.kh; i = i + 1u) {
			let ty = iy + i32(p.pt) - i32(i * p.dh); // = y·sh
			if (ty < 0 || ty % i32(p.sh) != 0 || ty / i32(p.sh) >= i32(p.oh)) {
				continue;
			}
			let y = u32(ty) / p.sh;
			for (var j = 0u; j < p.kw; j = j + 1u) {
				let tx = ix + i32(p.pl) - i32(j * p.dw);
				if (tx < 0 || tx % i32(p.sw) != 0 || tx / i32(p.sw) >= i32(p.ow)) {
					continue;
				}
				let x = u32(tx) / p.sw;
				sum = sum + weight[((o * p.cg + c0) * p.kh + i) * p.kw + j] * dy[dyo + y * p.ow + x];
			}
		}
	}
	dx[e] = sum;
}
