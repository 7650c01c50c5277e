// B loader of conv2d_gemm.wgsl for 1×1 convolutions with stride 1 and no
// padding whose images have a multiple of 4 pixels: B[k][j] = src[z][k][j],
// one image per grid z, read as vec4 (four pixels of one channel).

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
	b4 = (z * p.cin * hw + col) / 4u;
}

fn bLoad(k: u32) -> vec4<f32> {
	if (bok) {
		return src[b4 + k * (p.oh * p.ow / 4u)];
	}
	return vec4<f32>(0.0);
}
