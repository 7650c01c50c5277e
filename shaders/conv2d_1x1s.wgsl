// B loader of conv2d_gemm.wgsl for 1×1 convolutions with stride 1 and no
// padding, any pixel count: B[k][j] = src[z][k][j], one image per grid z,
// read element by element.

@group(0) @binding(1) var<storage, read> src: array<f32>;

var<private> bo: u32; // index of (image z, channel 0, this invocation's first column)
var<private> bn: u32; // how many of its four columns lie in the image

fn outBase(z: u32, col: u32) -> u32 {
	let hw = p.oh * p.ow;
	if (col >= hw) {
		return NOCOL;
	}
	return z * p.cout * hw + col;
}

fn bInit(z: u32, col: u32) {
	let hw = p.oh * p.ow;
	bo = z * p.cin * hw + col;
	bn = 0u;
	if (col < hw) {
		bn = min(4u, hw - col);
	}
}

fn bLoad(k: u32) -> vec4<f32> {
	let o = bo + k * p.oh * p.ow;
	var v = vec4<f32>(0.0);
	if (bn > 0u) {
		v.x = src[o];
	}
	if (bn > 1u) {
		v.y = src[o + 1u];
	}
	if (bn > 2u) {
		v.z = src[o + 2u];
	}
	if (bn > 3u) {
		v.w = src[o + 3u];
	}
	return v;
}
