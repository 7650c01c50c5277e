// Package onnx imports ONNX models (the format of torch.onnx.export,
// tf2onnx and the ONNX model zoo) as graphs of the project's ops.
//
// Load reads a .onnx file (and the external-data files beside it, for
// models over 2 GB), checks it and decodes its constants; Model.Graph then
// maps its nodes onto graph ops for a batch size: convolutions, batch
// norms, pools, additions, concatenations, flattens and linear layers as
// in the project's own builders, so that graph.Optimize folds and fuses
// them the same way. Shape computations that exporters emit around a
// flatten (Shape, Gather, Unsqueeze, Concat, Reshape), Constant nodes,
// Identity and inference-mode Dropout are folded at import; a zero Pad
// joins the padding of the Conv or AveragePool after it; multiplications
// and additions by per-channel constants join the convolution before them
// where that is exact, else become a graph.Affine.
//
// The standard operator set at versions 11 to 18 is supported, with the
// operators Conv, BatchNormalization, Relu, Clip (a graph.Clip, or a ReLU
// when its range is [0, ∞)), MaxPool, AveragePool, GlobalAveragePool, Add, Sub, Mul, Div,
// Sum, Concat, Flatten, Reshape, Gemm, MatMul, Softmax, Pad, Identity,
// Dropout, and on constants Constant, ConstantOfShape, Shape, Gather,
// Unsqueeze, Squeeze, Slice, Cast and Transpose. Anything else, or an
// attribute or input an operator does not support, is an error that
// names the node, its operator and the opset: the importer never guesses.
//
// Files are untrusted: every size is checked before memory is allocated
// for it (tensor dimensions against the bytes that hold them, external
// data against its file), nodes must form an acyclic graph whose inputs
// all exist, and a bad file gives one error, never a panic.
package onnx
