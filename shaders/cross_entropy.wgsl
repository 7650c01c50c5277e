// The mean softmax cross-entropy of logits src [n][k] against labels (one
// class a row, as floats):
//   dst[0] = (1/n) Σ_r (m_r + log Σ_j exp(src[r,j] − m_r) − src[r, labels[r]]),
// m_r the row's maximum. One invocation, serial over the rows (the loss is
// a training step's last, smallest op).

struct Params {
	n: u32, k: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(1)
fn main() {
	var loss = 0.0;
	for (var r = 0u; r < p.n; r = r + 1u) {
		let base = r * p.k;
		var m = src[base];
		for (var j = 1u; j < p.k; j = j + 1u) {
			m = max(m, src[base + j]);
		}
		var sum = 0.0;
		for (var j = 0u; j < p.k; j = j + 1u) {
			sum = sum + exp(src[base + j] - m);
		}
		loss = loss + m + log(sum) - src[base + u32(labels[r])];
	}
	dst[0] = loss / f32(p.n);
}
