// The epilogue every conv2d kernel ends with, appended by the host after
// the kernel: out[idx] = v·s + b (+ res[idx]) (ReLU), per RESIDUAL and RELU,
// with s = scale[m] and b = bias[m] of the output channel (the callers load
// them once per channel). The kernel's parameter file declares res and dst.

fn finish(idx: u32, v: f32, s: f32, b: f32) {
	var o = v * s + b;
	if (RESIDUAL) {
		o = o + res[idx];
	}
	if (RELU) {
		o = max(o, 0.0);
	}
	dst[idx] = o;
}
