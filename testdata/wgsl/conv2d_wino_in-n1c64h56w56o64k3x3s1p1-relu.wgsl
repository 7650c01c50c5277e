// The parameters of the Winograd F(2×2, 3×3) transforms (WinoParams in
// conv2d.go mirrors Params), shared by conv2d_wino_in.wgsl and
// conv2d_wino_out.wgsl. The output is cut into 2×2 tiles, TH × TW per image,
// P = N·TH·TW in all; the 16 matrices between the transforms have P4 = P
// rounded up to a multiple of 4 columns, so the GEMM reads them as vec4.

struct Params {
	n: u32, c: u32, h: u32, w: u32,
	cout: u32, oh: u32, ow: u32, pad: u32,
	th: u32, tw: u32, p: u32, p4: u32,
	out_off: u32, out_bstride: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// The image and the top-left output pixel (y, x) of tile t.
struct Tile {
	b: u32,
	y: u32,
	x: u32,
}

fn tile(t: u32) -> Tile {
	let per = p.th * p.tw;
	let b = t / per;
	let r = t - b * per;
	let ty = r / p.tw;
	return Tile(b, 2u * ty, 2u * (r - ty * p.tw));
}
// Winograd F(2×2, 3×3), input transform: for every input channel c and
// output tile t, the 4 × 4 input patch d under the tile (zero outside the
// image) becomes V = Bᵀ d B,
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
// stored as 16 matrices: V[(4i + j)][c][t] (P4 columns; the columns past P
// are zero). One invocation per (c, t).

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let i = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 256u + li;
	if (i >= p.c * p.p4) {
		return;
	}
	let c = i / p.p4;
	let t = i - c * p.p4;
	var d: array<vec4<f32>, 4>; // rows of the patch
	if (t < p.p) {
		let tl = tile(t);
		let base = (tl.b * p.c + c) * p.h * p.w;
		let y0 = i32(tl.y) - i32(p.pad);
		let x0 = i32(tl.x) - i32(p.pad);
		for (var r = 0; r < 4; r = r + 1) {
			let y = y0 + r;
			if (y < 0 || y >= i32(p.h)) {
				continue;
			}
			let row = base + u32(y) * p.w;
			var v = vec4<f32>(0.0);
			if (x0 >= 0 && x0 < i32(p.w)) {
				v.x = src[row + u32(x0)];
			}
			if (x0 + 1 >= 0 && x0 + 1 < i32(p.w)) {
				v.y = src[row + u32(x0 + 1)];
			}
			if (x0 + 2 >= 0 && x0 + 2 < i32(p.w)) {
				v.z = src[row + u32(x0 + 2)];
			}
			if (x0 + 3 >= 0 && x0 + 3 < i32(p.w)) {
				v.w = src[row + u32(x0 + 3)];
			}
			d[r] = v;
		}
	}
	// Bᵀ d (over rows), then · B (over columns).
	let u0 = d[0] - d[2];
	let u1 = d[1] + d[2];
	let u2 = d[2] - d[1];
	let u3 = d[1] - d[3];
	let plane = p.c * p.p4;
	store4(0u * plane + i, plane, u0);
	store4(4u * plane + i, plane, u1);
	store4(8u * plane + i, plane, u2);
	store4(12u * plane + i, plane, u3);
}

// store4 writes row u · B: four matrices plane elements apart.
fn store4(o: u32, plane: u32, u: vec4<f32>) {
	dst[o] = u.x - u.z;
	dst[o + plane] = u.y + u.z;
	dst[o + 2u * plane] = u.z - u.y;
	dst[o + 3u * plane] = u.y - u.w;
}
