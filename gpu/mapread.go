package gpu

/*
#include <stdint.h>
#include <stdlib.h>
#include <stddef.h>
typedef void (*rg_map_cb_t)(uint32_t status, void *userdata);
// Defined in wgpu-native, which the binding links statically.
void wgpuBufferMapAsync(void *buffer, uint32_t mode, size_t offset, size_t size, rg_map_cb_t callback, void *userdata);

// The status lands in C memory: the binding's MapAsync hands C a pointer to
// a Go variable that the collector may free before the callback runs.
static void rg_map_cb(uint32_t status, void *userdata) { *(volatile uint32_t *)userdata = status + 1; }
static inline void rg_map(void *buffer, uint32_t mode, size_t size, uint32_t *status) {
	wgpuBufferMapAsync(buffer, mode, 0, size, rg_map_cb, status); // mode: 1 read, 2 write
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// rawBuffer returns the WGPUBuffer handle inside the binding's Buffer, its
// second field after the device handle.
func rawBuffer(b *wgpu.Buffer) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(b), unsafe.Sizeof(uintptr(0))))
}

// pendingMap is a mapping of a buffer that was asked for and may not be
// done yet. Its status word lives in C memory: the binding's MapAsync hands
// C a pointer to a Go variable that the collector may free before the
// callback runs.
type pendingMap struct {
	b  *Buffer
	st *C.uint32_t // 0 while pending, then the callback's status + 1; nil once wait has freed it (under the device lock)
}

// startMap asks wgpu to map b (mode 1 read, 2 write); the mapping completes
// once the GPU is done with b and the device is polled.
func startMap(b *Buffer, mode uint32) *pendingMap {
	st := (*C.uint32_t)(C.malloc(C.size_t(unsafe.Sizeof(C.uint32_t(0)))))
	*st = 0
	C.rg_map(rawBuffer(b.b), C.uint32_t(mode), C.size_t(b.Size), st)
	return &pendingMap{b: b, st: st}
}

// wait polls the device until the mapping is done and reports its outcome;
// the device lock is held, and wait is called once per mapping. A mapping
// that never completes leaves its status word allocated: the callback may
// still write to it.
func (m *pendingMap) wait(d *Device) error {
	var status wgpu.BufferMapAsyncStatus
	done := false
	err := d.scoped("gpu: map "+m.b.Label, func() error {
		done = spin(100000, func() bool {
			if v := uint32(*(*uint32)(unsafe.Pointer(m.st))); v != 0 {
				status = wgpu.BufferMapAsyncStatus(v - 1)
				return true
			}
			d.dev.Poll(false, nil)
			return false
		})
		return nil
	})
	if done {
		C.free(unsafe.Pointer(m.st))
		m.st = nil
	}
	if err != nil {
		return err
	}
	if !done {
		return fmt.Errorf("gpu: map %s: the mapping never completed", m.b.Label)
	}
	if status != wgpu.BufferMapAsyncStatus_Success {
		return fmt.Errorf("gpu: map %s: %s", m.b.Label, status)
	}
	return nil
}

// mapNow maps b (mode 1 read, 2 write) and polls the device until the
// mapping is done.
func (d *Device) mapNow(b *Buffer, mode uint32) error { return startMap(b, mode).wait(d) }

// settle polls the device, holding its lock for each poll only, until m's
// mapping is done, already consumed by wait, or the queue is empty; the
// caller does not hold the lock. It returns an error only for a closed
// device.
func (d *Device) settle(m *pendingMap) error {
	var err error
	spin(0, func() bool {
		if err = d.lock(); err != nil {
			return true
		}
		defer d.mu.Unlock()
		return m.st == nil || *(*uint32)(unsafe.Pointer(m.st)) != 0 || d.dev.Poll(false, nil)
	})
	return err
}

// await is wait for a caller that does not hold the device lock: the
// lock is held for each poll only, so that other work on the device
// proceeds meanwhile.
func (d *Device) await(m *pendingMap) error {
	if err := d.settle(m); err != nil {
		return err
	}
	if err := d.lock(); err != nil {
		return err
	}
	defer d.mu.Unlock()
	return m.wait(d)
}

// drain polls the device until its queue is empty, holding the device lock
// only for each poll; the caller does not hold it.
func (d *Device) drain() error {
	var err error
	spin(0, func() bool {
		if err = d.lock(); err != nil {
			return true
		}
		defer d.mu.Unlock()
		return d.dev.Poll(false, nil)
	})
	return err
}
