package shaders

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

// The generated WGSL made visible: a Dump collects the distinct sources
// of launches under readable file names and writes them to a folder. The
// golden tests (testdata/wgsl) and `resnet-gpu kernels --dump-wgsl` both
// go through it.

// DiscreteGPU and CPUAdapter are the two kinds of device that launches are
// built for where there is no device to ask (the golden tests, a dump on a
// machine without an adapter): a discrete GPU with typical limits, and
// Mesa 22.3's lavapipe. The kinds differ in the kernels chosen for them
// (CPU), the limits only in how large a launch may be.
var (
	DiscreteGPU = gpu.Caps{Timestamps: true, Limits: gpu.Limits{
		MaxWorkgroupsPerDimension:  65535,
		MaxInvocationsPerWorkgroup: 1024,
		MaxWorkgroupStorageSize:    32768,
		MaxStorageBufferBinding:    1 << 30,
		MaxBufferSize:              1 << 30,
		MaxStorageBuffersPerStage:  8,
		MinStorageOffsetAlignment:  256,
		MaxTextureDimension2D:      16384,
	}}
	CPUAdapter = gpu.Caps{CPU: true, Timestamps: true, Limits: gpu.Limits{
		MaxWorkgroupsPerDimension:  65535,
		MaxInvocationsPerWorkgroup: 1024,
		MaxWorkgroupStorageSize:    32768,
		MaxStorageBufferBinding:    1 << 27,
		MaxBufferSize:              1<<31 - 1,
		MaxStorageBuffersPerStage:  32,
		MinStorageOffsetAlignment:  256,
		MaxTextureDimension2D:      16384,
	}}
)

// File is one kernel source under the name Dump writes it as.
type File struct {
	Name   string // e.g. "conv2d-wino-n1c64h56w56o64k3x3s1p1-relu.wgsl"
	Source string // the WGSL exactly as the device receives it
}

// Dump is a set of distinct kernel sources, in the order they were first
// added, each named after the first launch that had it (FileName). The zero
// value is empty and ready to use. A Dump is not safe for concurrent use.
type Dump struct {
	Files []File
	names map[string]string // file name → source
	srcs  map[string]bool
}

// Add adds l's source, built for a device whose capabilities say cpu, unless
// an earlier launch had the same source; desc describes what l computes, as
// graph.Name writes it ("conv2d(n=1,c=64,h=56,w=56,o=64,k=3x3,s=1,p=1,relu)").
// Two different sources under one name are an error.
func (d *Dump) Add(desc string, l Launch, cpu bool) error {
	src := l.Source()
	if d.srcs[src] {
		return nil
	}
	name := FileName(desc, l.Key, cpu)
	if _, ok := d.names[name]; ok {
		return fmt.Errorf("shaders: two different kernel sources are both named %s", name)
	}
	if d.names == nil {
		d.names, d.srcs = map[string]string{}, map[string]bool{}
	}
	d.names[name], d.srcs[src] = src, true
	d.Files = append(d.Files, File{Name: name, Source: src})
	return nil
}

// FileName is the name of the file a launch's source is dumped as: the
// kernel and variant of its pipeline key, "cpu" when it is built for a CPU
// adapter, then desc ("kind(key=value,…,flag)") made a file name, its kind
// left out where the key's kernel starts with it:
//
//	conv2d(n=1,c=64,h=56,w=56,o=64,k=3x3,s=1,p=1,relu), conv2d/wino
//	  → conv2d-wino-n1c64h56w56o64k3x3s1p1-relu.wgsl
//	maxpool(n=1,c=64,h=112,w=112,k=3x3,s=2,p=1), pool, on a CPU adapter
//	  → pool-cpu-maxpool-n1c64h112w112k3x3s2p1.wgsl
func FileName(desc string, k gpu.Key, cpu bool) string {
	parts := []string{k.Kernel}
	if k.Variant != "" {
		parts = append(parts, k.Variant)
	}
	if cpu {
		parts = append(parts, "cpu")
	}
	kind, args, _ := strings.Cut(strings.TrimSuffix(desc, ")"), "(")
	if kind != "" && !strings.HasPrefix(k.Kernel, kind) {
		parts = append(parts, kind)
	}
	if a := compactArgs(args); a != "" {
		parts = append(parts, a)
	}
	return safeName(strings.Join(parts, "-")) + ".wgsl"
}

// compactArgs runs "key=value" arguments together and puts each flag
// after a dash: "n=1,c=64,k=3x3,p=0,1,1,0,relu" → "n1c64k3x3p0_1_1_0-relu";
// a shape value "[1 2048]" becomes "1x2048".
func compactArgs(args string) string {
	var vals, flags strings.Builder
	for _, a := range strings.Split(args, ",") {
		key, val, ok := strings.Cut(a, "=")
		switch {
		case ok:
			val = strings.Join(strings.Fields(strings.Trim(val, "[]")), "x")
			vals.WriteString(key + val)
		case a != "" && strings.Trim(a, "0123456789") == "":
			vals.WriteString("_" + a) // the next element of a list value
		case a != "":
			flags.WriteString("-" + a)
		}
	}
	return vals.String() + flags.String()
}

// safeName replaces every character but ASCII letters, digits, '-', '_'
// and '.' with '_'.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// Write writes every file of the dump into dir, which it creates if
// missing; each file is written to a temporary file in dir and renamed
// into place, so that none is ever seen half-written.
func (d *Dump) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range d.Files {
		if err := writeAtomic(filepath.Join(dir, f.Name), []byte(f.Source)); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic writes data to path through a temporary file in the same
// folder renamed over path, so that path holds either its old contents or
// all of data.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("shaders: writing %s: %w", path, err)
	}
	return nil
}
