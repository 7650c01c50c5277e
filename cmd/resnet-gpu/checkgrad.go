package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph/gpugrad"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
)

// checkGrad runs the gradient checks (check-ops --grad) on dev: every
// gradient case's backward pass against central finite differences on
// the CPU, and the GPU backward pass against the CPU reference.
func checkGrad(dev *gpu.Device, filter string, seed uint64) error {
	ex := gpugrad.New(dev)
	var pass, fail int
	start := time.Now()
	for _, c := range opcheck.GradCases() {
		if filter != "" && !strings.Contains(c.String(), filter) {
			continue
		}
		fd, fdErr := opcheck.CheckFD(c, seed)
		ok := fdErr == nil && fd <= opcheck.GradFDThreshold
		line := fmt.Sprintf("%-60s vs finite differences %.2e", c, fd)
		g, gErr := opcheck.CheckGPU(c, ex, seed)
		switch {
		case errors.Is(gErr, opcheck.ErrNoGPUGrad):
			line += "   gpu: no backward kernels"
		case gErr != nil || !(g <= opcheck.GradGPUThreshold):
			ok = false
			line += fmt.Sprintf("   gpu vs cpu %.2e", g)
		default:
			line += fmt.Sprintf("   gpu vs cpu %.2e", g)
		}
		for _, err := range []error{fdErr, gErr} {
			if err != nil && !errors.Is(err, opcheck.ErrNoGPUGrad) {
				line += "  " + err.Error()
			}
		}
		status := "ok  "
		if !ok {
			status = "FAIL"
			fail++
		} else {
			pass++
		}
		fmt.Printf("%s %s\n", status, line)
	}
	fmt.Printf("\n%d passed, %d failed in %.1f s (thresholds: finite differences %.0e, gpu %.0e)\n",
		pass, fail, time.Since(start).Seconds(), opcheck.GradFDThreshold, opcheck.GradGPUThreshold)
	if fail > 0 {
		return errFailed
	}
	if pass == 0 {
		return fmt.Errorf("no gradient case matches --filter %q: %w", filter, errUsage)
	}
	return nil
}
