// B loader of conv2d_gemm.wgsl for the Winograd GEMM: grid slice z
// multiplies the transformed weights U[z] (Cout × Cin) by the transformed
// input V[z] (Cin × P4, conv2d_wino_in.wgsl), so B[k][j] = V[z][k][j]. The
// host sets npix = P4 (a multiple of 4) and oh·ow = P4, so the products land
// at z·Cout·P4 + m·P4 + j.

@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;

var<private> vbase: u32; // (z·K·P4 + col) / 4
var<private> vin: bool;   // col < P4

fn outBase(z: u32, col: u32) -> u32 {
	if (col >= p.npix) {
		return NOCOL;
	}
	return col;
}

fn bInit(z: u32, col: u32) {
	vbase = (z * p.k * p.npix + col) / 4u;
	vin = col < p.npix;
}

fn bLoad(k: u32) -> vec4<f32> {
	if (!vin) {
		return vec4<f32>(0.0);
	}
	return src[vbase + k * (p.npix / 4u)];
}
