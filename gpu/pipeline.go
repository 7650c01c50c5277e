package gpu

import (
	"fmt"
	"maps"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Key identifies a compiled kernel: its family, its variant and the
// compile-time constants substituted into its source. Two equal keys must
// denote the same WGSL source.
type Key struct {
	Kernel  string    // kernel family, e.g. "conv2d"
	Variant string    // e.g. "tiled", "gemm1x1"
	Consts  [8]uint32 // compile-time constants (tile sizes, flags)
}

func (k Key) String() string {
	if k.Variant == "" {
		return k.Kernel
	}
	return k.Kernel + "/" + k.Variant
}

// Pipeline is a compiled compute pipeline with its bind group layout and
// the names of its bindings. It does not change once compiled and is safe
// for concurrent use.
type Pipeline struct {
	Key      Key
	p        *wgpu.ComputePipeline
	layout   *wgpu.BindGroupLayout
	bindings map[int]string // group-0 binding index → WGSL name
}

// Bindings returns the names of the pipeline's group-0 bindings as its
// WGSL declares them, by binding index (see BindingNames). The map is the
// caller's to change.
func (p *Pipeline) Bindings() map[int]string { return maps.Clone(p.bindings) }

func (p *Pipeline) release() {
	if p.layout != nil {
		p.layout.Release()
	}
	if p.p != nil {
		p.p.Release()
	}
}

// Pipeline returns the cached pipeline for k, compiling source (WGSL, entry
// point "main") on the first request. Its bind group layout is the
// automatic one, or for kernels that read textures the one declared in the
// source (see explicitLayout). Compilation and validation errors name the
// kernel, and so do malformed binding declarations (see BindingNames).
// Concurrent first requests for one key compile it once; source is called
// with the device lock held and must not use the device.
func (d *Device) Pipeline(k Key, source func() string) (*Pipeline, error) {
	if err := d.lock(); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	if p, ok := d.pipelines[k]; ok {
		return p, nil
	}
	what := fmt.Sprintf("gpu: kernel %s", k)
	src := source()
	decls, err := parseDecls(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	entries, err := explicitLayout(src, decls)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	var mod *wgpu.ShaderModule
	err = d.scoped(what+": shader", func() (err error) {
		mod, err = d.dev.CreateShaderModule(&wgpu.ShaderModuleDescriptor{
			Label:          k.String(),
			WGSLDescriptor: &wgpu.ShaderModuleWGSLDescriptor{Code: src},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	defer mod.Release()
	var layout *wgpu.BindGroupLayout
	var pl *wgpu.PipelineLayout
	if entries != nil {
		err = d.scoped(what+": layout", func() (err error) {
			if layout, err = d.dev.CreateBindGroupLayout(&wgpu.BindGroupLayoutDescriptor{Label: k.String(), Entries: entries}); err != nil {
				return err
			}
			pl, err = d.dev.CreatePipelineLayout(&wgpu.PipelineLayoutDescriptor{Label: k.String(), BindGroupLayouts: []*wgpu.BindGroupLayout{layout}})
			return err
		})
		if err != nil {
			if layout != nil {
				layout.Release()
			}
			return nil, err
		}
		defer pl.Release()
	}
	var cp *wgpu.ComputePipeline
	err = d.scoped(what+": pipeline", func() (err error) {
		cp, err = d.dev.CreateComputePipeline(&wgpu.ComputePipelineDescriptor{
			Label:   k.String(),
			Layout:  pl,
			Compute: wgpu.ProgrammableStageDescriptor{Module: mod, EntryPoint: "main"},
		})
		return err
	})
	if err != nil {
		if layout != nil {
			layout.Release()
		}
		return nil, err
	}
	if layout == nil {
		if layout, err = bindGroupLayout(cp); err != nil {
			cp.Release()
			return nil, fmt.Errorf("%s: %v", what, err)
		}
	}
	p := &Pipeline{Key: k, p: cp, layout: layout, bindings: names(decls)}
	d.pipelines[k] = p
	return p, nil
}

// bindGroupLayout returns the pipeline's group 0 layout; the binding panics
// when the pipeline is invalid.
func bindGroupLayout(cp *wgpu.ComputePipeline) (l *wgpu.BindGroupLayout, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("no bind group layout: %v", r)
		}
	}()
	return cp.GetBindGroupLayout(0), nil
}
