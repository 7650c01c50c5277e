// B loader of conv2d_gemm.wgsl for 1×1 convolutions with stride 1 and no
// padding whose images have a multiple of 4 pixels (and whose input
// layout's offset and batch stride are multiples of 4): B[k][j] =
// stage(src[z][k][j]), one image per grid z, image z starting at
// p.in_off + z·p.in_bstride, read as vec4 (four pixels of one channel)
// through the input stage (conv2d_prestage.wgsl or the identity, appended
// by the host).

@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;

var<private> b4: u32; // vec4 index of (image z, channel 0, this invocation's first column)
var<private> bok: bool;

fn outBase(z: u32, col: u32) -> u32 {
	let hw = p.oh * p.ow;
	if (col >= hw) {
		return NOCOL;
	}
	return z * p.cout * hw + col;
}

fn bInit(z: u32, col: u32) {
	let hw = p.oh * p.ow;
	bok = col < hw;
	b4 = (p.in_off + z * p.in_bstride + col) / 4u;
}

fn bLoad(k: u32) -> vec4<f32> {
	if (bok) {
		return stage(src[b4 + k * (p.oh * p.ow / 4u)], k, p.cin);
	}
	return vec4<f32>(0.0);
}
