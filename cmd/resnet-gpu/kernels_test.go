package main

import (
	"path/filepath"
	"testing"
)

// A --plot that cannot be written fails at once, before the minutes of
// measuring, in one line.
func TestKernelsPlotPathFirst(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "missing", "roof.png")
	_, e, c := cli(t, nil, "kernels", "--arch", "resnet18", "--plot", bad)
	oneErrorLine(t, e, c, 1, "--plot "+bad+": open "+filepath.Dir(bad))
}
