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
