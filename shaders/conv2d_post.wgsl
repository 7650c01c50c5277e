// The bindings of a two-launch convolution's second launch
// (conv2d_reduce.wgsl, conv2d_wino_out.wgsl) for its epilogue
// (conv2d_epilogue.wgsl); binding 1 (the first launch's results) comes
// with the kernel.

@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read_write> dst: array<f32>;
