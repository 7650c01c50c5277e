package gpu

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// decl is one resource declaration of WGSL source:
// `@group(group) @binding(binding) var<space> name: typ;`.
type decl struct {
	group, binding int
	space          string // "<uniform>", "<storage,read>", … without spaces; "" for textures
	name           string
	typ            string // without spaces, e.g. "texture_2d<f32>"
	text           string // the declaration as written
}

// declRE matches a variable declaration with attributes; attrRE picks the
// group and binding out of its attributes.
var (
	declRE = regexp.MustCompile(`((?:@\s*\w+\s*\([^)]*\)\s*)+)var\s*(<[^>]*>)?\s*(\w+)\s*:\s*([^;]+);`)
	attrRE = regexp.MustCompile(`@\s*(group|binding)\s*\(\s*(\d+)\s*\)`)
)

// parseDecls returns the resource declarations of src, in source order,
// ignoring comments. Declarations outside group 0, a binding index or a
// name declared twice, and a group without a binding or the reverse, are
// errors.
func parseDecls(src string) ([]decl, error) {
	var ds []decl
	byIndex, byName := map[int]string{}, map[string]int{}
	for _, m := range declRE.FindAllStringSubmatch(stripComments(src), -1) {
		d := decl{group: -1, binding: -1, name: m[3], text: strings.Join(strings.Fields(m[0]), " ")}
		for _, a := range attrRE.FindAllStringSubmatch(m[1], -1) {
			v, err := strconv.Atoi(a[2])
			if err != nil {
				return nil, fmt.Errorf("%q: bad %s index", d.text, a[1])
			}
			if a[1] == "group" {
				d.group = v
			} else {
				d.binding = v
			}
		}
		switch {
		case d.group < 0 && d.binding < 0:
			continue // some other attribute
		case d.group < 0 || d.binding < 0:
			return nil, fmt.Errorf("%q: a resource needs both @group and @binding", d.text)
		case d.group != 0:
			return nil, fmt.Errorf("%q: only group 0 is supported", d.text)
		}
		if other, ok := byIndex[d.binding]; ok {
			return nil, fmt.Errorf("binding %d declared twice (%s and %s)", d.binding, other, d.name)
		}
		if other, ok := byName[d.name]; ok {
			return nil, fmt.Errorf("%s declared twice (bindings %d and %d)", d.name, other, d.binding)
		}
		byIndex[d.binding], byName[d.name] = d.name, d.binding
		d.space = strings.Join(strings.Fields(m[2]), "")
		d.typ = strings.Join(strings.Fields(m[4]), "")
		ds = append(ds, d)
	}
	return ds, nil
}

// stripComments replaces the line and (nested) block comments of WGSL
// source with spaces, keeping newlines.
func stripComments(src string) string {
	var b strings.Builder
	b.Grow(len(src))
	depth := 0
	for i := 0; i < len(src); i++ {
		switch {
		case depth == 0 && strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
			if i < len(src) {
				b.WriteByte('\n')
			}
		case strings.HasPrefix(src[i:], "/*"):
			depth++
			i++
			b.WriteString("  ")
		case depth > 0 && strings.HasPrefix(src[i:], "*/"):
			depth--
			i++
			b.WriteString("  ")
		case depth > 0 && src[i] != '\n':
			b.WriteByte(' ')
		default:
			b.WriteByte(src[i])
		}
	}
	return b.String()
}

// BindingNames returns the names of the group-0 bindings that WGSL source
// declares (`@group(0) @binding(N) var<…> NAME: …;`, textures included), by
// binding index. It ignores comments, and reports an error for a binding
// index or a name declared twice and for a group other than 0.
func BindingNames(src string) (map[int]string, error) {
	ds, err := parseDecls(src)
	if err != nil {
		return nil, err
	}
	return names(ds), nil
}

// names maps the declarations' binding indices to their names.
func names(ds []decl) map[int]string {
	m := make(map[int]string, len(ds))
	for _, d := range ds {
		m[d.binding] = d.name
	}
	return m
}

// explicitLayout returns the group-0 layout entries of ds, declared in src,
// when src reads a texture_2d<f32>, whose automatic layout would demand a
// filterable format (rgba32float is not); nil otherwise.
func explicitLayout(src string, ds []decl) ([]wgpu.BindGroupLayoutEntry, error) {
	if !strings.Contains(src, "texture_2d<f32>") {
		return nil, nil
	}
	var es []wgpu.BindGroupLayoutEntry
	for _, d := range ds {
		e := wgpu.BindGroupLayoutEntry{Binding: uint32(d.binding), Visibility: wgpu.ShaderStage_Compute}
		switch {
		case d.space == "<uniform>":
			e.Buffer.Type = wgpu.BufferBindingType_Uniform
		case d.space == "<storage,read>":
			e.Buffer.Type = wgpu.BufferBindingType_ReadOnlyStorage
		case d.space == "<storage,read_write>":
			e.Buffer.Type = wgpu.BufferBindingType_Storage
		case d.typ == "texture_2d<f32>":
			e.Texture = wgpu.TextureBindingLayout{SampleType: wgpu.TextureSampleType_UnfilterableFloat, ViewDimension: wgpu.TextureViewDimension_2D}
		case d.typ == "texture_storage_2d<rgba32float,write>":
			e.StorageTexture = wgpu.StorageTextureBindingLayout{Access: wgpu.StorageTextureAccess_WriteOnly, Format: wgpu.TextureFormat_RGBA32Float, ViewDimension: wgpu.TextureViewDimension_2D}
		default:
			return nil, fmt.Errorf("binding %d: unsupported declaration %q", d.binding, d.text)
		}
		es = append(es, e)
	}
	return es, nil
}

// Binds names what a dispatch binds: each WGSL binding's name (see
// BindingNames) and the buffer or texture bound to it.
type Binds map[string]Binding

// Bind records a launch of p over groups with params bound as a uniform
// buffer at binding 0, whatever the WGSL calls it, and every other binding
// p's WGSL declares bound to binds[name]. A declared binding missing from
// binds, a name in binds that the WGSL does not declare (or that names the
// parameters) and a nil value are errors naming the kernel and the
// binding.
func (d *Device) Bind(label string, p *Pipeline, params any, groups Groups, binds Binds) (*Dispatch, error) {
	bs, err := p.resolve(binds)
	if err != nil {
		return nil, fmt.Errorf("gpu: %s (kernel %s): %v", label, p.Key, err)
	}
	if err := d.lock(); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return d.newDispatch(label, p, params, groups, bs)
}

// resolve matches binds to p's declared bindings, in binding order.
func (p *Pipeline) resolve(binds Binds) ([]bound, error) {
	if _, ok := p.bindings[0]; !ok {
		return nil, fmt.Errorf("the WGSL declares no binding 0 for the parameters")
	}
	var bs []bound
	var problems []string
	for _, i := range slices.Sorted(maps.Keys(p.bindings)) {
		name := p.bindings[i]
		b, ok := binds[name]
		switch {
		case i == 0 && ok:
			problems = append(problems, fmt.Sprintf("binding 0 %q holds the parameters, not a value from binds", name))
		case i == 0:
		case !ok:
			problems = append(problems, fmt.Sprintf("binding %d %q is not in binds", i, name))
		case isNil(b):
			problems = append(problems, fmt.Sprintf("binding %d %q is nil", i, name))
		default:
			bs = append(bs, bound{index: uint32(i), name: name, b: b})
		}
	}
	declared := map[string]bool{}
	for _, n := range p.bindings {
		declared[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(binds)) {
		if !declared[n] {
			problems = append(problems, fmt.Sprintf("binds %q, which the WGSL does not declare", n))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return bs, nil
}

// isNil reports whether b is nil, a nil *Buffer or *Texture or a Region
// of none.
func isNil(b Binding) bool {
	switch b := b.(type) {
	case nil:
		return true
	case *Buffer:
		return b == nil
	case *Texture:
		return b == nil
	case Region:
		return b.Buf == nil
	}
	return false
}
