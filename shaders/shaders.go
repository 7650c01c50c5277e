package shaders

import (
	"embed"
	"fmt"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

//go:embed *.wgsl
var files embed.FS

// Launch is one kernel launch: which pipeline, its parameters (bound as
// the uniform at binding 0) and its workgroup counts, and the names of
// the other bindings its WGSL declares, which the executor binds by name.
type Launch struct {
	Key    gpu.Key
	Source func() string
	Params any
	Groups gpu.Groups
	Binds  []string
}

// Const is a compile-time constant prepended to a kernel's source.
type Const struct {
	Name  string
	Value any // bool or uint32
}

// Source returns the WGSL of file with consts declared in front.
func Source(file string, consts ...Const) string {
	body, err := files.ReadFile(file)
	if err != nil {
		panic(fmt.Sprintf("shaders: %s is not embedded", file)) // a programming error
	}
	var sb strings.Builder
	for _, c := range consts {
		switch v := c.Value.(type) {
		case bool:
			fmt.Fprintf(&sb, "const %s: bool = %t;\n", c.Name, v)
		case uint32:
			fmt.Fprintf(&sb, "const %s: u32 = %du;\n", c.Name, v)
		default:
			panic(fmt.Sprintf("shaders: constant %s has type %T", c.Name, v))
		}
	}
	sb.Write(body)
	return sb.String()
}

// Files lists the embedded kernel files.
func Files() []string {
	ents, _ := files.ReadDir(".")
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// u32 converts a non-negative int for a parameter struct.
func u32(v int) uint32 { return uint32(v) }

// fold1D is the workgroup count for n invocations in groups of wg, folded
// past the adapter's per-dimension limit.
func fold1D(n, wg int, max uint32) (gpu.Groups, error) {
	if n < 0 || n > 1<<31 {
		return gpu.Groups{}, fmt.Errorf("shaders: %d invocations out of range", n)
	}
	return gpu.Split1D(uint32(n), uint32(wg), max)
}
