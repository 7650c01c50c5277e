// B loader of conv2d_gemm.wgsl for 1×1 convolutions with stride 1 and no
// padding, any pixel count and input layout: B[k][j] = stage(src[z][k][j]),
// one image per grid z, image z starting at p.in_off + z·p.in_bstride,
// read element by element, through the input stage (conv2d_prestage.wgsl
// or the identity, appended by the host); zero past the last column.

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
	bo = p.in_off + z * p.in_bstride + col;
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
	return select(vec4<f32>(0.0), stage(v, k, p.cin), vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(bn));
}
