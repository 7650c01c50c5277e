package gpu

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// AdapterEnv is the environment variable that chooses an adapter when no
// explicit choice is given: an index from Adapters or a name substring.
const AdapterEnv = "RESNET_GPU_ADAPTER"

// AdapterInfo describes one adapter as the driver reports it.
type AdapterInfo struct {
	Index   int    // position in Adapters' list
	Name    string // e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe (LLVM 15.0.6, 256 bits)"
	Vendor  string
	Backend string // "Vulkan", "Metal", …
	Type    string // "DiscreteGPU", "CPU", …
	Driver  string
}

func (a AdapterInfo) String() string {
	s := fmt.Sprintf("#%d %s (%s, %s", a.Index, a.Name, a.Backend, a.Type)
	if a.Driver != "" {
		s += ", driver " + a.Driver
	}
	return s + ")"
}

// Limits are the adapter limits that the kernels rely on. Caps carries
// them too, with the other device facts.
type Limits struct {
	MaxWorkgroupsPerDimension  uint32 // maxComputeWorkgroupsPerDimension
	MaxInvocationsPerWorkgroup uint32 // maxComputeInvocationsPerWorkgroup
	MaxWorkgroupStorageSize    uint32 // maxComputeWorkgroupStorageSize, bytes
	MaxStorageBufferBinding    uint64 // maxStorageBufferBindingSize, bytes
	MaxBufferSize              uint64 // maxBufferSize, bytes
	MaxStorageBuffersPerStage  uint32 // maxStorageBuffersPerShaderStage
	MinStorageOffsetAlignment  uint32 // minStorageBufferOffsetAlignment, bytes
	MaxTextureDimension2D      uint32 // maxTextureDimension2D, texels
}

// Device is an open WebGPU device with its queue and pipeline cache.
//
// A Device is safe for concurrent use by multiple goroutines, and so are the
// methods of the buffers, textures, dispatches and replays made from it:
// every call that touches the queue, the shared upload and read-back
// buffers, the error scopes or the pipeline cache holds one device-wide
// lock, so the queue has one owner at a time and concurrent callers wait
// their turn (their GPU work is serialised, never interleaved). Info,
// Limits and HasTimestamps are set by Open and read-only afterwards.
type Device struct {
	Info          AdapterInfo
	Limits        Limits
	HasTimestamps bool // the device records GPU timestamps (TimestampQuery)

	cpu bool // the adapter is a CPU implementation (see Caps)

	// mu serialises all work on the device (see the type's doc); it guards
	// every field below. A Replay's lock, when both are held, is taken
	// first.
	mu        sync.Mutex
	inst      *wgpu.Instance
	adapter   *wgpu.Adapter
	dev       *wgpu.Device
	queue     *wgpu.Queue
	errs      *sink
	pipelines map[Key]*Pipeline
	up, down  *Buffer // reused upload and read-back buffers
	stamps    *stampSet
}

// LogEnv is the environment variable that turns on wgpu-native's own log
// (error, warn, info, debug, trace); it is off by default.
const LogEnv = "RESNET_GPU_WGPU_LOG"

var logLevels = map[string]wgpu.LogLevel{"error": wgpu.LogLevel_Error, "warn": wgpu.LogLevel_Warn, "info": wgpu.LogLevel_Info, "debug": wgpu.LogLevel_Debug, "trace": wgpu.LogLevel_Trace}

var runtimeDirOnce sync.Once

func newInstance() (inst *wgpu.Instance, err error) {
	wgpu.SetLogLevel(logLevels[strings.ToLower(os.Getenv(LogEnv))]) // unknown → Off
	runtimeDirOnce.Do(func() {
		if os.Getenv("XDG_RUNTIME_DIR") == "" {
			// Mesa's window-system probing prints an error per adapter without
			// it; compute needs no window system, so an empty private
			// directory will do.
			if dir, err := os.MkdirTemp("", "resnet-gpu-runtime-"); err == nil {
				os.Setenv("XDG_RUNTIME_DIR", dir)
			}
		}
	})
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gpu: cannot create a WebGPU instance: %v", r)
		}
	}()
	// Vulkan, Metal and D3D12 only: the OpenGL backend would load a second
	// Mesa driver (and a second LLVM) into the process beside lavapipe, which
	// crashes it under load.
	return wgpu.CreateInstance(&wgpu.InstanceDescriptor{Backends: wgpu.InstanceBackend_Primary}), nil
}

func describe(i int, a *wgpu.Adapter) AdapterInfo {
	p := a.GetProperties()
	return AdapterInfo{
		Index:   i,
		Name:    p.Name,
		Vendor:  strings.TrimSpace(fmt.Sprintf("%s 0x%04x", p.VendorName, p.VendorId)),
		Backend: p.BackendType.String(),
		Type:    p.AdapterType.String(),
		Driver:  p.DriverDescription,
	}
}

// Adapters lists every adapter the WebGPU implementation can see.
func Adapters() ([]AdapterInfo, error) {
	inst, err := newInstance()
	if err != nil {
		return nil, err
	}
	defer inst.Release()
	var out []AdapterInfo
	for i, a := range inst.EnumerateAdapters(nil) {
		out = append(out, describe(i, a))
		a.Release()
	}
	return out, nil
}

// Options choose and configure the device Open returns.
type Options struct {
	// Adapter is an index into Adapters' list or a case-insensitive name
	// substring; empty means $RESNET_GPU_ADAPTER, then the high-performance
	// adapter.
	Adapter string
}

// Open opens the chosen adapter's device, requiring the adapter's own limits
// rather than WebGPU's small defaults. It returns an error wrapping
// ErrNoAdapter when there is none.
func Open(opt Options) (*Device, error) {
	if !littleEndian {
		return nil, fmt.Errorf("gpu: big-endian hosts are not supported")
	}
	inst, err := newInstance()
	if err != nil {
		return nil, err
	}
	adapter, err := chooseAdapter(inst, opt)
	if err != nil {
		inst.Release()
		return nil, err
	}
	d := &Device{inst: inst, adapter: adapter, pipelines: map[Key]*Pipeline{}}
	d.Info = describe(d.adapterIndex(), adapter)
	d.cpu = adapter.GetProperties().AdapterType == wgpu.AdapterType_CPU
	sup := adapter.GetLimits().Limits
	var feats []wgpu.FeatureName
	if adapter.HasFeature(wgpu.FeatureName_TimestampQuery) {
		feats = append(feats, wgpu.FeatureName_TimestampQuery)
	}
	errs := &sink{}
	dev, err := adapter.RequestDevice(&wgpu.DeviceDescriptor{
		Label:            "resnet-gpu",
		RequiredFeatures: feats,
		RequiredLimits:   &wgpu.RequiredLimits{Limits: pickLimits(sup)},
		// No DeviceLostCallback: the binding passes it to C in a way cgo's
		// pointer checks reject; device loss reaches the uncaptured-error sink.
	})
	if err != nil {
		adapter.Release()
		inst.Release()
		return nil, fmt.Errorf("gpu: %s: cannot open device: %v", d.Info.Name, err)
	}
	d.dev = dev
	d.errs = installSink(dev, errs)
	d.queue = dev.GetQueue()
	d.HasTimestamps = len(feats) > 0
	got := dev.GetLimits().Limits
	d.Limits = Limits{
		MaxWorkgroupsPerDimension:  got.MaxComputeWorkgroupsPerDimension,
		MaxInvocationsPerWorkgroup: got.MaxComputeInvocationsPerWorkgroup,
		MaxWorkgroupStorageSize:    got.MaxComputeWorkgroupStorageSize,
		MaxStorageBufferBinding:    got.MaxStorageBufferBindingSize,
		MaxBufferSize:              got.MaxBufferSize,
		MaxStorageBuffersPerStage:  got.MaxStorageBuffersPerShaderStage,
		MinStorageOffsetAlignment:  got.MinStorageBufferOffsetAlignment,
		MaxTextureDimension2D:      got.MaxTextureDimension2D,
	}
	return d, nil
}

func (d *Device) adapterIndex() int {
	name := d.adapter.GetProperties().Name
	for i, a := range d.inst.EnumerateAdapters(nil) {
		n := a.GetProperties().Name
		a.Release()
		if n == name {
			return i
		}
	}
	return -1
}

func chooseAdapter(inst *wgpu.Instance, opt Options) (*wgpu.Adapter, error) {
	want := strings.TrimSpace(opt.Adapter)
	if want == "" {
		want = strings.TrimSpace(os.Getenv(AdapterEnv))
	}
	all := inst.EnumerateAdapters(nil)
	if len(all) == 0 {
		return nil, fmt.Errorf("%w (install a Vulkan driver; on Debian/Ubuntu without a GPU: apt-get install -y mesa-vulkan-drivers libvulkan1)", ErrNoAdapter)
	}
	release := func(keep *wgpu.Adapter) {
		for _, a := range all {
			if a != keep {
				a.Release()
			}
		}
	}
	if want == "" {
		for _, a := range all {
			a.Release()
		}
		a, err := inst.RequestAdapter(&wgpu.RequestAdapterOptions{PowerPreference: wgpu.PowerPreference_HighPerformance})
		if err != nil || a == nil {
			return nil, fmt.Errorf("%w: %v", ErrNoAdapter, err)
		}
		return a, nil
	}
	if i, err := strconv.Atoi(want); err == nil {
		if i < 0 || i >= len(all) {
			release(nil)
			return nil, fmt.Errorf("gpu: adapter index %d out of range: %d adapters (see `resnet-gpu devices`)", i, len(all))
		}
		release(all[i])
		return all[i], nil
	}
	var names []string
	for _, a := range all {
		name := a.GetProperties().Name
		if strings.Contains(strings.ToLower(name), strings.ToLower(want)) {
			release(a)
			return a, nil
		}
		names = append(names, name)
	}
	release(nil)
	return nil, fmt.Errorf("gpu: no adapter matches %q (have: %s)", want, strings.Join(names, "; "))
}

// errClosed is what calls on a closed Device return.
var errClosed = errors.New("gpu: device closed")

// lock takes the device lock, or reports errClosed (without the lock) when
// the device has been closed.
func (d *Device) lock() error {
	d.mu.Lock()
	if d.dev == nil {
		d.mu.Unlock()
		return errClosed
	}
	return nil
}

// Close releases the device and everything cached on it. Buffers,
// textures, dispatches and replays made from it should be released first;
// calls on the device afterwards return an error.
func (d *Device) Close() {
	if d == nil {
		return
	}
	if d.lock() != nil {
		return
	}
	defer d.mu.Unlock()
	for _, p := range d.pipelines {
		p.release()
	}
	d.pipelines = nil
	d.up.release()
	d.down.release()
	d.stamps.release()
	d.queue.Release()
	removeSink(d.dev)
	d.dev.Release()
	d.adapter.Release()
	d.inst.Release()
	d.dev = nil
}

// Err returns and clears any error the device reported asynchronously
// (uncaptured validation errors, out-of-memory, device loss). Errors that
// arise during a call are that call's; Err reports the rest.
func (d *Device) Err() error { return d.errs.take() }

// pickLimits asks for the adapter's own limits where the kernels need more
// than WebGPU's defaults (buffer sizes, workgroup counts and sizes,
// workgroup memory, storage bindings, texture size) and the defaults
// elsewhere (the storage offset alignment among them: 256 bytes, which
// every adapter supports).
func pickLimits(sup wgpu.Limits) wgpu.Limits {
	l := wgpu.DefaultLimits()
	l.MaxStorageBufferBindingSize = sup.MaxStorageBufferBindingSize
	l.MaxBufferSize = sup.MaxBufferSize
	l.MaxComputeWorkgroupsPerDimension = sup.MaxComputeWorkgroupsPerDimension
	l.MaxComputeInvocationsPerWorkgroup = sup.MaxComputeInvocationsPerWorkgroup
	l.MaxComputeWorkgroupSizeX = sup.MaxComputeWorkgroupSizeX
	l.MaxComputeWorkgroupSizeY = sup.MaxComputeWorkgroupSizeY
	l.MaxComputeWorkgroupSizeZ = sup.MaxComputeWorkgroupSizeZ
	l.MaxComputeWorkgroupStorageSize = sup.MaxComputeWorkgroupStorageSize
	l.MaxStorageBuffersPerShaderStage = sup.MaxStorageBuffersPerShaderStage
	l.MaxTextureDimension2D = sup.MaxTextureDimension2D
	return l
}
