package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// checkOpsLine is a case line of check-ops: name, result and label.
var checkOpsLine = regexp.MustCompile(`^(ok|FAIL)\s+(\S+)\s+(nmse=\S+ max\|Δ\|=\S+)(?: \[([^\]]+)\])?$`)

// checkOpsCases runs check-ops and returns each case's result text
// ("nmse=… max|Δ|=…") and label.
func checkOpsCases(t *testing.T, args ...string) (results, labels map[string]string) {
	t.Helper()
	out, e, c := cli(t, nil, append([]string{"check-ops", "--arch", "resnet18", "--batches", "1"}, args...)...)
	if c != 0 {
		if os.Getenv("CI") == "" && strings.Contains(e, "no WebGPU adapter") {
			t.Skip("no GPU adapter")
		}
		t.Fatalf("%v: exit %d: %s\n%s", args, c, e, out)
	}
	results, labels = map[string]string{}, map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if m := checkOpsLine.FindStringSubmatch(line); m != nil {
			results[m[2]], labels[m[2]] = m[3], m[4]
		}
	}
	return results, labels
}

// The label of a case run with the built-in kernel choice is the kernel
// that ran it: forcing that kernel with --variant gives bit for bit the
// same output, so the same NMSE and max|Δ| (on lavapipe the c=512, h=7
// layers run direct4, and tiled64's NMSE differs).
func TestCheckOpsLabelIsWhatRan(t *testing.T) {
	const filter = "h=7,w=7"
	results, labels := checkOpsCases(t, "--filter", filter)
	byLabel := map[string][]string{}
	for name, l := range labels {
		if strings.HasPrefix(name, "conv2d(") && l != "" {
			byLabel[l] = append(byLabel[l], name)
		}
	}
	if len(byLabel) == 0 {
		t.Fatalf("no labelled convolution case matches %q", filter)
	}
	for label, names := range byLabel {
		forced, _ := checkOpsCases(t, "--filter", filter, "--variant", label)
		for _, name := range names {
			if got, ok := forced[name]; !ok || got != results[name] {
				t.Errorf("%s labelled [%s]: %s, but --variant %s gives %q", name, label, results[name], label, got)
			}
		}
	}
}
