// The epilogue of a two-launch convolution's second launch
// (conv2d_reduce.wgsl, conv2d_wino_out.wgsl), appended by the host after
// the kernel: out = v·scale[m] + bias[m] (+ res) (ReLU) per RESIDUAL and
// RELU. Binding 1 (the first launch's results) comes with the kernel.

@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read_write> dst: array<f32>;

// finish writes output element idx, of output channel m, from its sum v.
fn finish(idx: u32, m: u32, v0: f32) {
	var v = v0 * scale[m] + bias[m];
	if (RESIDUAL) {
		v = v + res[idx];
	}
	if (RELU) {
		v = max(v, 0.0);
	}
	dst[idx] = v;
}
