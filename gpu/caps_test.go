package gpu_test

import (
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
)

// Caps carries the device's limits and says CPU on lavapipe.
func TestCaps(t *testing.T) {
	d := gputest.Device(t)
	c := d.Caps()
	t.Logf("%s: %+v", d.Info, c)
	if strings.Contains(d.Info.Name, "llvmpipe") && !c.CPU {
		t.Errorf("Caps().CPU = false on %s", d.Info.Name)
	}
	if c.CPU != (d.Info.Type == "CPU") {
		t.Errorf("Caps().CPU = %v for an adapter of type %s", c.CPU, d.Info.Type)
	}
	if c.Timestamps != d.HasTimestamps {
		t.Errorf("Caps().Timestamps = %v, HasTimestamps %v", c.Timestamps, d.HasTimestamps)
	}
	want := gpu.Caps{CPU: c.CPU, Timestamps: c.Timestamps, Limits: d.Limits}
	if c != want {
		t.Errorf("Caps() = %+v, want the limits %+v", c, want)
	}
	for name, v := range map[string]uint64{
		"MaxWorkgroupsPerDimension":  uint64(c.MaxWorkgroupsPerDimension),
		"MaxInvocationsPerWorkgroup": uint64(c.MaxInvocationsPerWorkgroup),
		"MaxWorkgroupStorageSize":    uint64(c.MaxWorkgroupStorageSize),
		"MaxStorageBufferBinding":    c.MaxStorageBufferBinding,
		"MaxBufferSize":              c.MaxBufferSize,
		"MaxStorageBuffersPerStage":  uint64(c.MaxStorageBuffersPerStage),
		"MinStorageOffsetAlignment":  uint64(c.MinStorageOffsetAlignment),
		"MaxTextureDimension2D":      uint64(c.MaxTextureDimension2D),
	} {
		if v == 0 {
			t.Errorf("Caps().%s = 0", name)
		}
	}
	// WebGPU's default workgroup memory is 16 KiB; every adapter the
	// kernels target offers at least that, and Open asks for all of it.
	if c.MaxWorkgroupStorageSize < 16384 {
		t.Errorf("MaxWorkgroupStorageSize = %d, less than WebGPU's default", c.MaxWorkgroupStorageSize)
	}
}
