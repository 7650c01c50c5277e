// The parameters and bindings every conv2d kernel shares (ConvParams in
// conv2d.go mirrors Params). Each kernel file declares bindings 1 and 2,
// the input and the weights, itself: as f32 or vec4<f32> arrays, or as
// textures (the direct4 variant).

struct Params {
	n: u32, cin: u32, h: u32, w: u32,
	cout: u32, oh: u32, ow: u32, kh: u32,
	kw: u32, stride: u32, pad: u32, k: u32,
	npix: u32, kchunk: u32, out_off: u32, out_bstride: u32,
	in_off: u32, in_bstride: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> scale: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> res: array<f32>;
@group(0) @binding(6) var<storage, read_write> dst: array<f32>;
