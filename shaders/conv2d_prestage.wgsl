// A convolution's input stage (ConvGeom.Pre), appended by the host to the
// kernel that reads the input (conv2d_pack.wgsl, conv2d_general.wgsl, the
// GEMM kernels with the 1×1 loaders conv2d_1x1.wgsl and conv2d_1x1s.wgsl):
// element x of input channel c of nc becomes x·pre[c] + pre[nc + c], then
// max(·, 0) with PRE_RELU (prepended by the host). Without an input stage
// the host appends stageNone (conv2d_general.go) instead.

@group(0) @binding(7) var<storage, read> pre: array<f32>;

fn stage(v: vec4<f32>, c: u32, nc: u32) -> vec4<f32> {
	let y = v * pre[c] + vec4<f32>(pre[nc + c]);
	if (PRE_RELU) {
		return max(y, vec4<f32>(0.0));
	}
	return y;
}
