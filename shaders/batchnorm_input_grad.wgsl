// Training-mode batch-norm's backward, second stage: the input gradient
//   dx = gamma·inv·(dz − dbeta/M − x̂·dgamma/M), x̂ = (x − mean)·inv,
// with dz = dy masked by fwd > 0 (the output) when RELU, M = n·hw, mean
// and inv the rows of stats, and dgamma, dbeta as batchnorm_stats_grad.wgsl
// wrote them. One
// invocation per element, the 1-D index folded over x, y and z; tensors
// contiguous.

struct Params {
	n: u32, c: u32, hw: u32, total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> fwd: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> stats: array<f32>;
@group(0) @binding(6) var<storage, read> dgamma: array<f32>;
@group(0) @binding(7) var<storage, read> dbeta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
	let i = (wg.x + wg.y * nw.x + wg.z * nw.x * nw.y) * 64u + li;
	if (i >= p.total) {
		return;
	}
	let c = (i / p.hw) % p.c;
	let m = f32(p.n * p.hw);
	var dz = dy[i];
	if (RELU && fwd[i] <= 0.0) {
		dz = 0.0;
	}
	let inv = stats[p.c + c];
	let xhat = (src[i] - stats[c]) * inv;
	dx[i] = gamma[c] * inv * (dz - dbeta[c] / m - xhat * dgamma[c] / m);
}
