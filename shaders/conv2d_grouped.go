package shaders

import (
	"fmt"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// groupedWG is the workgroup size of conv2d_grouped.wgsl.
const groupedWG = 64

// groupedMaxK is the largest kernel side conv2d_grouped.wgsl computes.
const groupedMaxK = 7

// groupedMaxField is the bound of the stride, dilation and padding that
// conv2d_grouped.wgsl computes: each is 16 bits of its pipeline key.
const groupedMaxField = 1<<16 - 1

// groupedSupports reports whether conv2d_grouped.wgsl computes g: a
// grouped convolution (groups > 1) of kernels up to 7×7, square or not,
// any stride, dilation and padding per axis up to 65535 (the bottom and
// right padding are any).
func groupedSupports(g ConvGeom) bool {
	small := func(v ...int) bool {
		for _, x := range v {
			if x > groupedMaxField {
				return false
			}
		}
		return true
	}
	return g.Groups > 1 && g.KH <= groupedMaxK && g.KW <= groupedMaxK &&
		small(g.SH, g.SW, g.DH, g.DW, g.PT, g.PL)
}

// groupedForm is the compile-time shape of a conv2d_grouped.wgsl
// launch: the block of BR × BC output pixels an invocation computes and
// the patch of the input under it, PH × PW texels, patch row y being
// input row iy0 + y·UY and column x input column ix0 + x·UX.
type groupedForm struct {
	br, bc, ph, pw, uy, ux int
}

// newGroupedForm is the form of a br × bc block for g: UY is the greatest
// common divisor of the row offsets of the block's taps, r·SH + ky·DH
// (DH when the block is one row), and the patch is every UY-th row from
// the first tap's to the last's; columns alike. Without dilation UY = 1
// and the patch is the (BR−1)·SH + KH rows under the block; a dilated
// kernel over one row of pixels loads only the KH rows its taps read.
func newGroupedForm(g ConvGeom, br, bc int) groupedForm {
	axis := func(b, s, k, d int) (n, u int) {
		u = d
		if b > 1 {
			u = gcd(s, d)
		}
		return ((b-1)*s+(k-1)*d)/u + 1, u
	}
	f := groupedForm{br: br, bc: bc}
	f.ph, f.uy = axis(br, g.SH, g.KH, g.DH)
	f.pw, f.ux = axis(bc, g.SW, g.KW, g.DW)
	return f
}

// gcd is the greatest common divisor of a and b, both positive.
func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// patch is the vec4 values of the patch an invocation of form f loads
// per step.
func (f groupedForm) patch() int { return f.ph * f.pw }

// groupedBlocks are the blocks a CPU adapter's form is chosen from for
// the convolutions groupedBlock3 does not cover, fastest first.
var groupedBlocks = [][2]int{{1, 7}, {1, 4}, {1, 2}}

// groupedBlock is the form of conv2d_grouped.wgsl's launch for g, with
// vec as the kernel's VEC. On a GPU blocks of one pixel, so that
// neighbouring invocations read and write neighbouring pixels and the
// small late layers still fill the device. On a CPU adapter the kernels
// up to 3×3 without dilation and with one stride take groupedBlock3's
// block; the others the first of groupedBlocks whose patch is at most 45
// texels and whose products (KH·KW·BR·BC taps of a block) number at most
// 126, the largest of groupedBlock3's forms; else 1 × 1. llvmpipe's
// compile time grows fast past those: measured on lavapipe (its shader
// cache off), forms with patches of 55–171 texels took 7–52 s to compile,
// the 3×3 ones under 1 s. Within them, 1 × 7 ran fastest or within 10% of
// the fastest on 5×5 grouped and 3×3 dilated 2 layers, 1 × 4 next; the
// larger 2 × 7 ran 1.3–3 times as fast on 5×5 and 7×7 depthwise layers
// (one step) but slower with more steps, and took 7–52 s to compile.
func groupedBlock(g ConvGeom, vec bool, c gpu.Caps) groupedForm {
	switch {
	case !c.CPU:
		return newGroupedForm(g, 1, 1)
	case g.KH <= 3 && g.KW <= 3 && g.DH == 1 && g.DW == 1 && g.SH == g.SW:
		br, bc := groupedBlock3(g.SH, vec)
		return newGroupedForm(g, br, bc)
	}
	for _, b := range groupedBlocks {
		f := newGroupedForm(g, b[0], b[1])
		if f.patch() <= 45 && g.KH*g.KW*b[0]*b[1] <= 126 {
			return f
		}
	}
	return newGroupedForm(g, 1, 1)
}

// groupedBlock3 is the block of output pixels an invocation of
// conv2d_grouped.wgsl computes on a CPU adapter for a kernel up to 3×3
// at stride s, with 4 channels, vec as the kernel's VEC: the largest
// blocks whose loops llvmpipe still unrolls (7 divides every ResNet
// feature-map width): 2 × 7 at stride 1; 1 × 7 at stride 2; 1 × 4 at
// larger strides, or at stride 2 where a step is one channel (its patch
// loads cost more). Measured on lavapipe, 2 × 7 ran 2–3 times as fast at
// stride 1 as 1 × 7, 1 × 14 or 2 × 4, and as fast as a generated,
// unrolled 16-channel kernel (direct4's form); 1 × 7 ran fastest at
// stride 2. Larger blocks (2 × 7 at stride 2, 4 × 7, 8 channels) leave
// loops rolled and the accumulators in memory: they ran 2–10 times
// slower after 10–60 s of compiling.
func groupedBlock3(s int, vec bool) (br, bc int) {
	switch {
	case s == 1:
		return 2, 7
	case s == 2 && vec:
		return 1, 7
	}
	return 1, 4
}

// groupedTaps returns the WGSL function taps of conv2d_grouped.wgsl for
// a kh × kw kernel: one call of tap a tap, its indices constants, so
// that llvmpipe runs straight-line code (see tap).
func groupedTaps(kh, kw int) string {
	var sb strings.Builder
	sb.WriteString("\nfn taps(acc: ptr<function, array<vec4<f32>, NQ>>, v: ptr<function, array<vec4<f32>, PHW>>, ws: vec4<u32>) {\n")
	for ky := 0; ky < kh; ky++ {
		sb.WriteString("\t")
		for kx := 0; kx < kw; kx++ {
			if kx > 0 {
				sb.WriteString(" ")
			}
			fmt.Fprintf(&sb, "tap(acc, v, ws, %du, %du);", ky, kx)
		}
		sb.WriteString("\n")
	}
	sb.WriteString("}\n")
	return sb.String()
}

// pair packs two 16-bit fields into one pipeline-key constant.
func pair(hi, lo int) uint32 { return uint32(hi)<<16 | uint32(lo) }

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
	f := groupedBlock(g, vec, c)
	blocks := g.N * ((g.OH() + f.br - 1) / f.br) * ((g.OW() + f.bc - 1) / f.bc)
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
	k := func(name string, v int) Const { return Const{name, uint32(v)} }
	consts := append(epilogue(g.Residual, g.ReLU),
		k("TEXW", gpu.TexWidth), k("KH", g.KH), k("KW", g.KW), k("KHW", g.KH*g.KW),
		k("SH", g.SH), k("SW", g.SW), k("DH", g.DH), k("DW", g.DW), k("PT", g.PT), k("PL", g.PL),
		Const{"VEC", vec}, k("BR", f.br), k("BC", f.bc), k("UY", f.uy), k("UX", f.ux),
		k("PH", f.ph), k("PW", f.pw), k("PHW", f.ph*f.pw), k("NQ", f.br*f.bc))
	return packed(g, Launch{
		Key: gpu.Key{Kernel: "conv2d", Variant: "grouped",
			Consts: [8]uint32{b2u(g.Residual), b2u(g.ReLU), pair(g.KH, g.KW), pair(g.SH, g.SW),
				pair(g.DH, g.DW), pair(g.PT, g.PL), b2u(vec), pair(f.br, f.bc)}},
		Source: func() string {
			return Source("conv2d_params.wgsl", consts...) + Source("conv2d_grouped.wgsl") + groupedTaps(g.KH, g.KW) + Source(epilogueFile)
		},
		Params: &p,
		Groups: grid,
		Binds:  convBinds,
	}, cing, c)
}
