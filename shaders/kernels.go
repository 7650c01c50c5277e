package shaders

import (
	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// ConvKernel is one convolution kernel of the registry: everything the
// chooser, the tuner, the op checker's labels, the variant suite and the
// command line know about it. Adding a kernel is one entry in ConvKernels
// plus its WGSL.
type ConvKernel struct {
	Name string
	Doc  string
	// Supports reports whether the kernel computes g, leaving aside its
	// input stage (ConvGeom.Pre): see PreStage.
	Supports func(g ConvGeom) bool
	// PreStage marks the kernels that apply an input stage and read their
	// input at any layout (ConvGeom.In, a slice of a concatenation); the
	// others compute no geometry with Pre set or an input that is not
	// Plain.
	PreStage bool
	// Default reports whether the untuned choice may pick the kernel for
	// g on a device with capabilities c; the chooser takes the first
	// entry, in table order, that supports g and says yes. Nil: never.
	Default func(g ConvGeom, c gpu.Caps) bool
	// Tune marks the candidates the tuner times on GPUs.
	Tune bool
	// Large marks the kernels the variant suite also runs on the large
	// ResNet layers (inputs of 28² and more); the others, which share
	// their code with one of these and differ in tile constants, run on
	// the small layers and the edge cases only.
	Large bool
	// Launch returns the kernel's launches for g (which it supports).
	Launch func(g ConvGeom, c gpu.Caps) (ConvLaunch, error)
}

// cols is the number of output pixels over the batch: the GEMM's columns.
func (g ConvGeom) cols() int { return g.N * g.OH() * g.OW() }

// onGPU and onCPU select kernels by the kind of adapter.
func onGPU(_ ConvGeom, c gpu.Caps) bool { return !c.CPU }
func onCPU(_ ConvGeom, c gpu.Caps) bool { return c.CPU }

// Rules of the GPU default, after what the tuner picked on an NVIDIA H200
// (BENCHMARKS.md): Winograd for 3×3 stride 1 (small tiles when there are
// few output pixels), GEMM kernels for 1×1 convolutions, K split where few
// output pixels meet a long K, 64×64 tiles elsewhere.
func (g ConvGeom) few() bool { return g.cols()*g.Cout < 64*64*64 }

func plain(g ConvGeom) bool   { return g.Plain() }
func is1x1(g ConvGeom) bool   { return g.Is1x1() }
func is3x3s1(g ConvGeom) bool { return g.Plain() && g.KH == 3 && g.KW == 3 && g.SH == 1 }
func anyConv(ConvGeom) bool   { return true }

// gemmKernel is a registry entry of the GEMM family; the 1×1 ones apply
// an input stage (their B loaders, conv2d_1x1.wgsl and conv2d_1x1s.wgsl).
func gemmKernel(name, doc string, v gemmVariant, supports func(ConvGeom) bool, def func(ConvGeom, gpu.Caps) bool, large bool) ConvKernel {
	launch := func(g ConvGeom, c gpu.Caps) (ConvLaunch, error) {
		switch {
		case v.wino:
			return winograd(name, v, g, c)
		case v.split > 1:
			return kSplit(name, v, g, c)
		}
		return gemmLaunch(name, v, g, c)
	}
	return ConvKernel{Name: name, Doc: doc, Supports: supports, Default: def, Tune: true, Large: large, PreStage: v.is1, Launch: launch}
}

// ConvKernels is the registry, in the order the untuned chooser tries
// the kernels.
var ConvKernels = []ConvKernel{
	{Name: "direct4", Doc: "no workgroup memory or barriers; input and weights read from textures of four channels a texel (conv2d_pack.wgsl packs the input), generated per kernel size (conv2d_direct.go): the CPU-adapter default up to 7×7",
		Supports: func(g ConvGeom) bool {
			_, _, _, ok := direct4Block(u32(g.KH), u32(g.KW), u32(g.SH))
			return g.Plain() && ok
		},
		Default: onCPU, Large: true, PreStage: true, Launch: direct4},
	gemmKernel("wino", "Winograd F(2×2, 3×3): input transform, 16 GEMMs (64×64 tiles), output transform", gemmVariant{tile64, false, 0, true},
		is3x3s1, func(g ConvGeom, c gpu.Caps) bool { return !c.CPU && g.cols() >= 3136 }, true),
	gemmKernel("wino_small", "wino with 32×32 tiles, K split 4 ways inside the workgroup", gemmVariant{tile32k4, false, 0, true},
		is3x3s1, onGPU, false),
	gemmKernel("gemm1x1_128", "1×1 stride 1 as a GEMM per image, 128×64 tiles, vec4 loads", gemmVariant{tile128, true, 0, false},
		is1x1, func(g ConvGeom, c gpu.Caps) bool { return !c.CPU && g.cols() >= 1024 }, true),
	gemmKernel("gemm1x1_small", "1×1 as a GEMM, 32×32 tiles, K split 4 ways inside the workgroup", gemmVariant{tile32k4, true, 0, false},
		is1x1, onGPU, false),
	gemmKernel("splitk8", "implicit GEMM, 32×32 tiles, K split across 8 workgroups, then conv2d_reduce.wgsl", gemmVariant{tile32k4, false, 8, false},
		plain, func(g ConvGeom, c gpu.Caps) bool { return !c.CPU && g.few() && g.K() >= 1024 }, false),
	gemmKernel("tiled16k16", "implicit GEMM, 16×16 tiles, K split 16 ways inside the workgroup", gemmVariant{tile16k16, false, 0, false},
		plain, func(g ConvGeom, c gpu.Caps) bool { return !c.CPU && g.few() }, false),
	gemmKernel("tiled64", "implicit GEMM, 64×64 tiles, 4×4 per invocation, kernel size compiled in: the GPU default elsewhere", gemmVariant{tile64, false, 0, false},
		plain, onGPU, false),
	gemmKernel("tiled128", "implicit GEMM, 128×64 tiles, 8×4 per invocation: many channels, large batches", gemmVariant{tile128, false, 0, false},
		plain, nil, true),
	gemmKernel("tiled64x128", "implicit GEMM, 64×128 tiles, 4×8 per invocation: many pixels, large batches", gemmVariant{tile64x128, false, 0, false},
		plain, nil, false),
	gemmKernel("tiled32k4", "implicit GEMM, 32×32 tiles, K split 4 ways inside the workgroup", gemmVariant{tile32k4, false, 0, false},
		plain, nil, false),
	gemmKernel("gemm1x1", "1×1 as a GEMM, 64×64 tiles, vec4 loads", gemmVariant{tile64, true, 0, false},
		is1x1, nil, true),
	gemmKernel("splitk4", "splitk8 across 4 workgroups", gemmVariant{tile32k4, false, 4, false},
		plain, nil, false),
	{Name: "direct", Doc: "direct4 reading storage buffers instead of textures (generated, up to 7×7)",
		Supports: func(g ConvGeom) bool {
			_, _, _, ok := directBlock(u32(g.KH), u32(g.KW), u32(g.SH))
			return g.Plain() && ok
		},
		Launch: direct},
	{Name: "grouped", Doc: "grouped convolutions (ResNeXt, depthwise) of kernels up to 7×7, any stride, dilation and padding per axis: per invocation 4 output channels of one group × a block of pixels, input and weights read from textures as direct4's (conv2d_grouped.wgsl)",
		Supports: groupedSupports, Default: func(ConvGeom, gpu.Caps) bool { return true }, Tune: true, Large: true, PreStage: true, Launch: grouped},
	{Name: "general", Doc: "implicit GEMM over any convolution: groups, dilation, per-axis stride and padding (conv2d_general.wgsl); the fallback",
		Supports: anyConv, Default: func(ConvGeom, gpu.Caps) bool { return true }, PreStage: true,
		Launch: func(g ConvGeom, c gpu.Caps) (ConvLaunch, error) { return ConvGeneral(g, c.MaxWorkgroupsPerDimension) }},
}

// Computes reports whether the kernel computes g, its input stage and
// input layout included: the one test of a kernel against a geometry.
func (k ConvKernel) Computes(g ConvGeom) bool {
	return k.Supports(g) && (k.PreStage || !g.Pre && g.PlainIn())
}

// Kernel returns the registry entry called name.
func Kernel(name string) (ConvKernel, bool) {
	for _, k := range ConvKernels {
		if k.Name == name {
			return k, true
		}
	}
	return ConvKernel{}, false
}

// KernelNames lists the registry's kernels in table order.
func KernelNames() []string {
	names := make([]string, len(ConvKernels))
	for i, k := range ConvKernels {
		names[i] = k.Name
	}
	return names
}

// Defaults returns, in order of preference, the kernels the untuned
// chooser may pick for g on a device with capabilities c; the last is
// always one that supports every convolution.
func Defaults(g ConvGeom, c gpu.Caps) []string {
	var out []string
	for _, k := range ConvKernels {
		if k.Default != nil && k.Computes(g) && k.Default(g, c) {
			out = append(out, k.Name)
		}
	}
	return out
}

// Candidates returns the kernels the tuner times for g.
func Candidates(g ConvGeom) []string {
	var out []string
	for _, k := range ConvKernels {
		if k.Tune && k.Computes(g) {
			out = append(out, k.Name)
		}
	}
	return out
}
