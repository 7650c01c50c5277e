package gpu

// Caps are the device facts that kernels and passes may depend on: what
// kind of implementation runs them, whether it records timestamps, and the
// limits the device was opened with (the adapter's own, see Open). A Caps
// is a plain value: code that chooses kernels or rewrites a graph for a
// device should take one rather than a *Device, so that tests and pure code
// can describe a device as a literal, for example Mesa 22.3's lavapipe:
//
//	caps := gpu.Caps{CPU: true, Timestamps: true, Limits: gpu.Limits{
//		MaxWorkgroupsPerDimension:  65535,
//		MaxInvocationsPerWorkgroup: 1024,
//		MaxWorkgroupStorageSize:    32768,
//		MaxStorageBufferBinding:    1 << 27,
//		MaxBufferSize:              1<<31 - 1,
//		MaxStorageBuffersPerStage:  32,
//		MinStorageOffsetAlignment:  256,
//		MaxTextureDimension2D:      16384,
//	}}
//
// A zero limit in such a literal means nothing is allowed; fill in every
// limit the code under test reads.
type Caps struct {
	// CPU reports that the adapter is a CPU implementation such as Mesa's
	// lavapipe: texture loads beat storage-buffer loads (llvmpipe gathers
	// texels for 8 lanes at once, where a storage-buffer load is a loop
	// over the lanes), and workgroup barriers are expensive.
	CPU bool
	// Timestamps reports that the device records GPU timestamps.
	Timestamps bool

	// Limits are the limits the device was opened with.
	Limits
}

// Caps returns the device's capabilities. It is safe for concurrent use.
func (d *Device) Caps() Caps {
	return Caps{CPU: d.cpu, Timestamps: d.HasTimestamps, Limits: d.Limits}
}
