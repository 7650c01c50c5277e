package gpu

/*
#include <stdint.h>
typedef void (*rg_error_cb)(uint32_t type, char const *message, void *userdata);
// Declared here, defined in wgpu-native, which the binding links statically.
void wgpuDeviceSetUncapturedErrorCallback(void *device, rg_error_cb callback, void *userdata);
void wgpuDevicePushErrorScope(void *device, uint32_t filter);
void wgpuDevicePopErrorScope(void *device, rg_error_cb callback, void *userdata);

extern void rgUncapturedError(uint32_t type, char *message, void *userdata);
extern void rgScopeError(uint32_t type, char *message, void *userdata);

static inline void rg_set_uncaptured(void *device) {
	wgpuDeviceSetUncapturedErrorCallback(device, (rg_error_cb)rgUncapturedError, device);
}
static inline void rg_push_scopes(void *device) {
	wgpuDevicePushErrorScope(device, 1); // WGPUErrorFilter_OutOfMemory
	wgpuDevicePushErrorScope(device, 0); // WGPUErrorFilter_Validation
}
static inline void rg_pop_scopes(void *device) {
	wgpuDevicePopErrorScope(device, (rg_error_cb)rgScopeError, device);
	wgpuDevicePopErrorScope(device, (rg_error_cb)rgScopeError, device);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// ErrNoAdapter reports that no WebGPU adapter (no Vulkan, Metal or D3D12
// driver) could be found.
var ErrNoAdapter = errors.New("gpu: no WebGPU adapter found")

// ErrDeviceLost reports that the device was lost (driver reset, removal or
// an earlier fatal error); the Device cannot be used any more.
var ErrDeviceLost = errors.New("gpu: device lost")

// errorKinds names WGPUErrorType values.
var errorKinds = map[uint32]string{1: "validation error", 2: "out of memory", 3: "internal error", 4: "unknown error", 5: "device lost"}

// sink collects the asynchronous errors of one device.
type sink struct {
	mu   sync.Mutex
	msgs []string
	lost bool
}

var (
	sinksMu sync.Mutex
	sinks   = map[uintptr]*sink{}
)

func sinkFor(ud unsafe.Pointer) *sink {
	sinksMu.Lock()
	defer sinksMu.Unlock()
	return sinks[uintptr(ud)]
}

func (s *sink) add(kind uint32, msg string) {
	if kind == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind == 5 {
		s.lost = true
	}
	name := errorKinds[kind]
	if name == "" {
		name = fmt.Sprintf("error %d", kind)
	}
	s.msgs = append(s.msgs, name+": "+oneLine(msg))
}

// take returns and clears the collected errors as one error, or nil.
func (s *sink) take() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) == 0 {
		if s.lost {
			return ErrDeviceLost
		}
		return nil
	}
	err := errors.New(strings.Join(s.msgs, "; "))
	if s.lost {
		err = fmt.Errorf("%w: %v", ErrDeviceLost, err)
	}
	s.msgs = nil
	return err
}

//export rgUncapturedError
func rgUncapturedError(kind C.uint32_t, message *C.char, ud unsafe.Pointer) {
	if s := sinkFor(ud); s != nil {
		s.add(uint32(kind), C.GoString(message))
	}
}

//export rgScopeError
func rgScopeError(kind C.uint32_t, message *C.char, ud unsafe.Pointer) {
	if s := sinkFor(ud); s != nil {
		s.add(uint32(kind), C.GoString(message))
	}
}

// rawDevice returns the WGPUDevice handle inside the binding's Device, whose
// only field it is.
func rawDevice(d *wgpu.Device) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(d))
}

// installSink routes the device's uncaptured errors into a sink instead of
// wgpu-native's default handler, which aborts the process.
func installSink(d *wgpu.Device, s *sink) *sink {
	raw := rawDevice(d)
	sinksMu.Lock()
	sinks[uintptr(raw)] = s
	sinksMu.Unlock()
	C.rg_set_uncaptured(raw)
	return s
}

func removeSink(d *wgpu.Device) {
	sinksMu.Lock()
	delete(sinks, uintptr(rawDevice(d)))
	sinksMu.Unlock()
}

// scoped runs f inside validation and out-of-memory error scopes and returns
// f's error or the first error the scopes caught, prefixed with what.
func (d *Device) scoped(what string, f func() error) error {
	raw := rawDevice(d.dev)
	C.rg_push_scopes(raw)
	ferr := f()
	C.rg_pop_scopes(raw)
	serr := d.errs.take()
	switch {
	case ferr != nil && serr != nil:
		return fmt.Errorf("%s: %v; %v", what, oneLine(ferr.Error()), serr)
	case ferr != nil:
		return fmt.Errorf("%s: %v", what, oneLine(ferr.Error()))
	case serr != nil:
		return fmt.Errorf("%s: %w", what, serr)
	}
	return nil
}

// oneLine folds a multi-line driver or naga message into one line.
func oneLine(s string) string {
	f := strings.Fields(s)
	return strings.Join(f, " ")
}
