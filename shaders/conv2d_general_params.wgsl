// The parameters and bindings 0, 3-6 of conv2d_general.wgsl (ConvGeneralParams
// in conv2d_general.go mirrors Params). The bindings match the other conv2d
// kernels', so conv2d_epilogue.wgsl follows unchanged.

struct Params {
	n: u32, cin: u32, h: u32, w: u32,
	cout: u32, oh: u32, ow: u32, kh: u32,
	kw: u32, sh: u32, sw: u32, pt: u32,
	pl: u32, dh: u32, dw: u32, groups: u32,
	cing: u32, coutg: u32, k: u32, npix: u32,
	ctiles: u32, rtiles: u32, tiles: u32, out_off: u32,
	out_bstride: u32, in_off: u32, in_bstride: u32, _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> scale: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> res: array<f32>;
@group(0) @binding(6) var<storage, read_write> dst: array<f32>;
