// Package gputest opens the test device: tests skip with a clear message
// when no adapter exists on a developer machine, and fail when the CI
// environment variable is set, since CI always has Mesa's lavapipe.
package gputest

import (
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

var (
	once sync.Once
	dev  *gpu.Device
	err  error
)

// Device returns the process-wide test device, opened on first use. It is
// safe for concurrent use, and so is the device.
func Device(t testing.TB) *gpu.Device {
	t.Helper()
	once.Do(func() { dev, err = gpu.Open(gpu.Options{}) })
	if err != nil {
		if errors.Is(err, gpu.ErrNoAdapter) && os.Getenv("CI") == "" {
			t.Skipf("no GPU adapter (%v); set CI=1 to make this a failure", err)
		}
		t.Fatalf("opening the GPU device: %v", err)
	}
	return dev
}
