package gpu

import (
	"testing"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Open asks for the adapter's own value of every limit Caps reports, but
// the offset alignment, which stays at WebGPU's default.
func TestPickLimits(t *testing.T) {
	sup := wgpu.Limits{
		MaxComputeWorkgroupsPerDimension:  1001,
		MaxComputeInvocationsPerWorkgroup: 1002,
		MaxComputeWorkgroupSizeX:          1003,
		MaxComputeWorkgroupSizeY:          1004,
		MaxComputeWorkgroupSizeZ:          1005,
		MaxComputeWorkgroupStorageSize:    1006,
		MaxStorageBufferBindingSize:       1007,
		MaxBufferSize:                     1008,
		MaxStorageBuffersPerShaderStage:   1009,
		MaxTextureDimension2D:             1010,
		MinStorageBufferOffsetAlignment:   16,
	}
	got := pickLimits(sup)
	for name, c := range map[string][2]uint64{
		"MaxComputeWorkgroupsPerDimension":  {uint64(got.MaxComputeWorkgroupsPerDimension), 1001},
		"MaxComputeInvocationsPerWorkgroup": {uint64(got.MaxComputeInvocationsPerWorkgroup), 1002},
		"MaxComputeWorkgroupSizeX":          {uint64(got.MaxComputeWorkgroupSizeX), 1003},
		"MaxComputeWorkgroupSizeY":          {uint64(got.MaxComputeWorkgroupSizeY), 1004},
		"MaxComputeWorkgroupSizeZ":          {uint64(got.MaxComputeWorkgroupSizeZ), 1005},
		"MaxComputeWorkgroupStorageSize":    {uint64(got.MaxComputeWorkgroupStorageSize), 1006},
		"MaxStorageBufferBindingSize":       {got.MaxStorageBufferBindingSize, 1007},
		"MaxBufferSize":                     {got.MaxBufferSize, 1008},
		"MaxStorageBuffersPerShaderStage":   {uint64(got.MaxStorageBuffersPerShaderStage), 1009},
		"MaxTextureDimension2D":             {uint64(got.MaxTextureDimension2D), 1010},
		"MinStorageBufferOffsetAlignment":   {uint64(got.MinStorageBufferOffsetAlignment), uint64(wgpu.DefaultLimits().MinStorageBufferOffsetAlignment)},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %d, want %d", name, c[0], c[1])
		}
	}
}
