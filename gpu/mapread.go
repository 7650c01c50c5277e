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

// mapAsync starts mapping b (mode 1 read, 2 write) and returns a poll
// function that reports (done, status) and a free function for the status
// word.
func mapAsync(b *wgpu.Buffer, mode uint32, size uint64) (poll func() (bool, wgpu.BufferMapAsyncStatus), free func()) {
	st := (*C.uint32_t)(C.malloc(C.size_t(unsafe.Sizeof(C.uint32_t(0)))))
	*st = 0
	C.rg_map(rawBuffer(b), C.uint32_t(mode), C.size_t(size), st)
	poll = func() (bool, wgpu.BufferMapAsyncStatus) {
		v := uint32(*(*uint32)(unsafe.Pointer(st)))
		if v == 0 {
			return false, 0
		}
		return true, wgpu.BufferMapAsyncStatus(v - 1)
	}
	return poll, func() { C.free(unsafe.Pointer(st)) }
}

// mapNow maps b (mode 1 read, 2 write) and polls the device until the
// mapping is done.
func (d *Device) mapNow(b *Buffer, mode uint32) error {
	var status wgpu.BufferMapAsyncStatus
	done := false
	err := d.scoped("gpu: map "+b.Label, func() error {
		poll, free := mapAsync(b.b, mode, b.Size)
		spin(100000, func() bool {
			if done, status = poll(); done {
				free() // else leaked: the callback may still write to it
				return true
			}
			d.dev.Poll(false, nil)
			return false
		})
		return nil
	})
	if err != nil {
		return err
	}
	if !done {
		return fmt.Errorf("gpu: map %s: the mapping never completed", b.Label)
	}
	if status != wgpu.BufferMapAsyncStatus_Success {
		return fmt.Errorf("gpu: map %s: %s", b.Label, status)
	}
	return nil
}
