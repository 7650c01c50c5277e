// The epilogue every conv2d kernel ends with, appended by the host after
// the kernel: out[idx] = v·s + b (+ res[idx]) (ReLU), per RESIDUAL and RELU,
// with s = scale[m] and b = bias[m] of the output channel (the callers load
// them once per channel). idx numbers the output [N][Cout][OH][OW]
// contiguously, as the residual lies; the output itself lies at its layout
// (outAt). The kernel's parameter file declares res and dst, and p with
// cout, oh, ow, out_off and out_bstride.

fn finish(idx: u32, v: f32, s: f32, b: f32) {
	var o = v * s + b;
	if (RESIDUAL) {
		o = o + res[idx];
	}
	if (RELU) {
		o = max(o, 0.0);
	}
	dst[outAt(idx)] = o;
}

// outAt is where output element idx lies in dst: image n = idx / (Cout·OH·OW)
// starts at out_off + n·out_bstride, so that the output can be a slice of a
// concatenation's; a contiguous output has out_off = 0 and
// out_bstride = Cout·OH·OW (the host sets that for a single image too), and
// takes the branch without a division.
fn outAt(idx: u32) -> u32 {
	let img = p.cout * p.oh * p.ow;
	if (p.out_bstride == img) {
		return p.out_off + idx;
	}
	let n = idx / img;
	return p.out_off + n * p.out_bstride + (idx - n * img);
}
