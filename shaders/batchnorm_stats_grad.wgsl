// Training-mode batch-norm's backward, first stage: per channel c, over
// its M = n·hw elements of src (the batch-norm's input) and the output
// gradient dz (dy masked by fwd > 0 (the output) when RELU),
//   mean, inv = 1/sqrt(biased variance + eps), x̂ = (x − mean)·inv,
//   dgamma = Σ dz·x̂, dbeta = Σ dz,
// mean and inv into stats as two rows of c (batchnorm_input_grad.wgsl
// reads them and dgamma, dbeta). One invocation per channel,
// summing serially (a first, plain kernel); tensors contiguous. eps is
// given as its float32 bits.

struct Params {
	n: u32, c: u32, hw: u32, eps_bits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> fwd: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(6) var<storage, read_write> dbeta: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let c = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (c >= p.c) {
		return;
	}
	let m = f32(p.n * p.hw);
	var mean = 0.0;
	for (var n = 0u; n < p.n; n = n + 1u) {
		for (var k = 0u; k < p.hw; k = k + 1u) {
			mean = mean + src[(n * p.c + c) * p.hw + k];
		}
	}
	mean = mean / m;
	var v = 0.0;
	for (var n = 0u; n < p.n; n = n + 1u) {
		for (var k = 0u; k < p.hw; k = k + 1u) {
			let d = src[(n * p.c + c) * p.hw + k] - mean;
			v = v + d * d;
		}
	}
	let inv = inverseSqrt(v / m + bitcast<f32>(p.eps_bits));
	var dg = 0.0;
	var db = 0.0;
	for (var n = 0u; n < p.n; n = n + 1u) {
		for (var k = 0u; k < p.hw; k = k + 1u) {
			let i = (n * p.c + c) * p.hw + k;
			var dz = dy[i];
			if (RELU && fwd[i] <= 0.0) {
				dz = 0.0;
			}
			dg = dg + dz * (src[i] - mean) * inv;
			db = db + dz;
		}
	}
	stats[c] = mean;
	stats[p.c + c] = inv;
	dgamma[c] = dg;
	dbeta[c] = db;
}
