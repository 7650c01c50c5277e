package shaders

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// groupedWG is the workgroup size of conv2d_grouped.wgsl.
const groupedWG = 64

// groupedSupports reports whether conv2d_grouped.wgsl computes g: a
// grouped convolution (groups > 1) up to 3×3 without dilation, with one
// stride and one padding.
func groupedSupports(g ConvGeom) bool {
	return g.Groups > 1 && g.KH <= 3 && g.KW <= 3 && g.DH == 1 && g.DW == 1 &&
		g.SH == g.SW && g.PT == g.PL && g.PT == g.PB && g.PT == g.PR
}

// groupedBlock is the block of output pixels an invocation of
// conv2d_grouped.wgsl computes at stride s, with 4 channels, vec as the
// kernel's VEC. On a GPU one pixel, so that neighbouring invocations read
// and write neighbouring pixels and the small late layers still fill the
// device. On a CPU adapter the largest blocks whose loops llvmpipe still
// unrolls (7 divides every ResNet feature-map width): 2 × 7 at stride 1;
// 1 × 7 at stride 2; 1 × 4 at larger strides, or at stride 2 where a step
// is one channel (its patch loads cost more). Measured on lavapipe, 2 × 7
// ran 2–3 times as fast at stride 1 as 1 × 7, 1 × 14 or 2 × 4, and as fast
// as a generated, unrolled 16-channel kernel (direct4's form); 1 × 7 ran
// fastest at stride 2. Larger blocks (2 × 7 at stride 2, 4 × 7, 8
// channels) leave loops rolled and the accumulators in memory: they ran
// 2–10 times slower after 10–60 s of compiling.
func groupedBlock(s int, vec bool, c gpu.Caps) (br, bc uint32) {
	switch {
	case !c.CPU:
		return 1, 1
	case s == 1:
		return 2, 7
	case s == 2 && vec:
		return 1, 7
	}
	return 1, 4
}

// grouped returns the launches of conv2d_grouped.wgsl for g:
// conv2d_pack.wgsl packs the input into a texture, which the kernel reads
// with the weights packed by PackWeights, Cin/Groups channels an output
// channel.
func grouped(g ConvGeom, c gpu.Caps) (ConvLaunch, error) {
	if c.MaxInvocationsPerWorkgroup < groupedWG {
		return ConvLaunch{}, fmt.Errorf("shaders: conv2d kernel grouped needs workgroups of %d invocations, the adapter allows %d", groupedWG, c.MaxInvocationsPerWorkgroup)
	}
	p := convParams(g)
	cing, coutg := g.Cin/g.Groups, g.Cout/g.Groups
	vec := cing%4 == 0
	br, bc := groupedBlock(g.SH, vec, c)
	blocks := g.N * ((g.OH() + int(br) - 1) / int(br)) * ((g.OW() + int(bc) - 1) / int(bc))
	if !fits(blocks, g.Groups, (coutg+3)/4) {
		return ConvLaunch{}, fmt.Errorf("shaders: %v needs more than 2³¹ − 1 invocations", g)
	}
	grid, err := fold1D(blocks*g.Groups*((coutg+3)/4), groupedWG, c.MaxWorkgroupsPerDimension)
	if err != nil {
		return ConvLaunch{}, fmt.Errorf("shaders: %v: %v", g, err)
	}
	// the weights' texture; packed checks the input's
	if t, maxTexels := g.Cout*((cing+3)/4)*g.KH*g.KW, gpu.TexWidth*int(c.MaxTextureDimension2D); t > maxTexels {
		return ConvLaunch{}, fmt.Errorf("shaders: %v: a texture of %d texels exceeds the adapter's %d", g, t, maxTexels)
	}
	ph, pw := (br-1)*p.Stride+p.KH, (bc-1)*p.Stride+p.KW
	consts := append(epilogue(g.Residual, g.ReLU),
		Const{"TEXW", uint32(gpu.TexWidth)}, Const{"KH", p.KH}, Const{"KW", p.KW}, Const{"KHW", p.KH * p.KW},
		Const{"S", p.Stride}, Const{"VEC", vec}, Const{"BR", br}, Const{"BC", bc},
		Const{"PH", ph}, Const{"PW", pw}, Const{"PHW", ph * pw}, Const{"NQ", br * bc})
	return packed(g, Launch{
		Key: gpu.Key{Kernel: "conv2d", Variant: "grouped",
			Consts: [8]uint32{b2u(g.Residual), b2u(g.ReLU), p.KH, p.KW, p.Stride, b2u(vec), br, bc}},
		Source: func() string {
			return Source("conv2d_params.wgsl", consts...) + Source("conv2d_grouped.wgsl") + Source(epilogueFile)
		},
		Params: &p,
		Groups: grid,
		Binds:  convBinds,
	}, cing, c)
}
