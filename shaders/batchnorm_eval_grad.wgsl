// Eval-mode batch-norm's backward (running statistics, constants): per
// channel c, with inv = 1/sqrt(var[c] + eps), x̂ = (x − mean[c])·inv and
// dz = dy masked by fwd > 0 (the output) when RELU,
//   dx = dz·gamma[c]·inv, dgamma[c] = Σ dz·x̂, dbeta[c] = Σ dz,
// stats holding mean and var as two rows of c. One invocation per
// channel, serial over its n·hw elements (a first, plain kernel); tensors
// contiguous. eps is given as its float32 bits.

struct Params {
	n: u32, c: u32, hw: u32, eps_bits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> fwd: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(7) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let c = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (c >= p.c) {
		return;
	}
	let mean = stats[c];
	let inv = inverseSqrt(stats[p.c + c] + bitcast<f32>(p.eps_bits));
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
			dx[i] = dz * gamma[c] * inv;
		}
	}
	dgamma[c] = dg;
	dbeta[c] = db;
}
