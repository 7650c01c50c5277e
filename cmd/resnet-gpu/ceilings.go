package main

import (
	"fmt"
	"os"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph/perf"
	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
)

// remeasureUsage is the help of bench's and kernels' --remeasure.
const remeasureUsage = "measure the device's ceilings again instead of reading them from the user cache"

// ceilings returns dev's ceilings, cached per adapter in the user cache
// (perf.Cached), measured again with remeasure; stderr says which.
func ceilings(dev *gpu.Device, remeasure bool) (perf.Ceilings, error) {
	dir, err := hub.CacheDir()
	if err != nil {
		dir = "" // measure, and keep nothing
	}
	size := perf.SizeFor(dev)
	c, when, err := perf.Cached(dev, size, dir, remeasure, os.Stderr)
	if err != nil {
		return perf.Ceilings{}, err
	}
	if dir != "" {
		fmt.Fprintf(os.Stderr, "ceilings of %s measured %s, cached in %s (--remeasure measures again)\n",
			dev.Info.Name, when.Format("2006-01-02 15:04 UTC"), perf.CeilingsPath(dev, size, dir))
	}
	return c, nil
}
