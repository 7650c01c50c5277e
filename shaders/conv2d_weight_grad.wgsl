// The convolution's weight gradient: for weight (o, c0, i, j), input
// channel ci = (o / og)·cg + c0,
//   dweight[o,c0,i,j] = Σ_{n,y,x} dy[n,o,y,x] · src[n, ci, y·sh − pt + i·dh, x·sw − pl + j·dw]
// over the positions inside the image. dy is the gradient at the
// convolution's sum. One invocation per weight element, each summing over
// the batch and the output positions (a first, plain kernel: no
// workgroup memory, no split of the sum); the 1-D index folded over x, y
// and z; all tensors contiguous.

struct Params {
	total: u32, cin: u32, cout: u32, h: u32,
	w: u32, oh: u32, ow: u32, kh: u32,
	kw: u32, sh: u32, sw: u32, pt: u32,
	pl: u32, dh: u32, dw: u32, cg: u32,
	og: u32, n: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dweight: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let e = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (e >= p.total) {
		return;
	}
	let j = e % p.kw;
	let i = (e / p.kw) % p.kh;
	let c0 = (e / (p.kw * p.kh)) % p.cg;
	let o = e / (p.kw * p.kh * p.cg);
	let ci = (o / p.og) * p.cg + c0;
	var sum = 0.0;
	for (var n = 0u; n < p.n; n = n + 1u) {
		let dyo = (n * p.cout + o) * p.oh * p.ow;
		let xo = (n * p.cin + ci) * p.h * p.w;
		for (var y = 0u; y < p.oh; y = y + 1u) {
			let iy = i32(y * p.sh + i * p.dh) - i32(p.pt);
			if (iy < 0 || iy >= i32(p.h)) {
				continue;
			}
			for (var x = 0u; x < p.ow; x = x + 1u) {
				let ix = i32(x * p.sw + j * p.dw) - i32(p.pl);
				if (ix >= 0 && ix < i32(p.w)) {
					sum = sum + dy[dyo + y * p.ow + x] * src[xo + u32(iy) * p.w + u32(ix)];
				}
			}
		}
	}
	dweight[e] = sum;
}
