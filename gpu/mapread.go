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
static inline void rg_map_read(void *buffer, size_t size, uint32_t *status) {
	wgpuBufferMapAsync(buffer, 1 , 0, size, rg_map_cb, status); // 1 = WGPUMapMode_Read
}
*/
import "C"

import (
	"unsafe"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// rawBuffer returns the WGPUBuffer handle inside the binding's Buffer, its
// second field after the device handle.
func rawBuffer(b *wgpu.Buffer) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(b), unsafe.Sizeof(uintptr(0))))
}

// mapRead starts mapping b for reading and returns a poll function that
// reports (done, status) and a free function for the status word.
func mapRead(b *wgpu.Buffer, size uint64) (poll func() (bool, wgpu.BufferMapAsyncStatus), free func()) {
	st := (*C.uint32_t)(C.malloc(C.size_t(unsafe.Sizeof(C.uint32_t(0)))))
	*st = 0
	C.rg_map_read(rawBuffer(b), C.size_t(size), st)
	poll = func() (bool, wgpu.BufferMapAsyncStatus) {
		v := uint32(*(*uint32)(unsafe.Pointer(st)))
		if v == 0 {
			return false, 0
		}
		return true, wgpu.BufferMapAsyncStatus(v - 1)
	}
	return poll, func() { C.free(unsafe.Pointer(st)) }
}
