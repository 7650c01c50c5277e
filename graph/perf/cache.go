package perf

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/shaders"
)

// ceilingsVersion changes when the meaning of cached ceilings does.
const ceilingsVersion = "1"

// cachedCeilings is a ceilings cache file.
type cachedCeilings struct {
	Ceilings
	Measured time.Time `json:"measured"`
}

// CeilingsPath returns the file in dir (normally $XDG_CACHE_HOME/resnet-gpu)
// that caches dev's ceilings at size: one per adapter, driver and size,
// and per registry of kernels, so that adding a kernel measures again.
func CeilingsPath(dev *gpu.Device, size CeilingSize, dir string) string {
	h := sha256.Sum256([]byte(dev.Info.Name + "\x00" + dev.Info.Backend + "\x00" + dev.Info.Driver + "\x00" +
		fmt.Sprint(shaders.KernelNames()) + "\x00" + size.String() + "\x00" + ceilingsVersion))
	return filepath.Join(dir, fmt.Sprintf("ceilings-%x.json", h[:8]))
}

// Cached returns dev's ceilings at size from the cache file in dir
// (CeilingsPath) or, when there is none, it cannot be read, refresh is
// set or dir is "", measures them (MeasureCeilings, reporting to w) and
// writes the file. It says when the ceilings it returns were measured.
// Measuring takes tens of seconds on a CPU adapter; a cache that cannot
// be written is no error.
func Cached(dev *gpu.Device, size CeilingSize, dir string, refresh bool, w io.Writer) (Ceilings, time.Time, error) {
	path := ""
	if dir != "" {
		path = CeilingsPath(dev, size, dir)
	}
	if path != "" && !refresh {
		if c, ok := readCeilings(path); ok {
			return c.Ceilings, c.Measured, nil
		}
	}
	c, err := MeasureCeilings(dev, size, w)
	if err != nil {
		return Ceilings{}, time.Time{}, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	if path != "" {
		gpuexec.WriteCache(path, cachedCeilings{c, now})
	}
	return c, now, nil
}

// readCeilings reads a cache file; one that does not hold positive
// ceilings counts as none.
func readCeilings(path string) (cachedCeilings, bool) {
	var c cachedCeilings
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &c) != nil || !(c.GFLOPS > 0) || !(c.GBps > 0) || c.GFLOPS > 1e9 || c.GBps > 1e9 {
		return cachedCeilings{}, false
	}
	return c, true
}
