package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Bad flags are usage errors (exit 2) found before any loading: each of
// these would otherwise load or download weights first, or be ignored.
func TestFlagsCheckedFirst(t *testing.T) {
	img := "../../testdata/images/chelsea.png"
	// A mirror that cannot answer: any attempt to fetch weights would fail
	// with a download error instead of the usage error.
	env := []string{"RESNET_GPU_WEIGHTS_BASE=http://127.0.0.1:1/"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"classify", "--tune", "nonsense", img}, `--tune "nonsense"`},
		{[]string{"classify", "--device", "tpu", img}, `--device "tpu"`},
		{[]string{"classify", "--logits", img}, "--logits needs --json"},
		{[]string{"bench", "extra"}, `unexpected argument "extra"`},
		{[]string{"bench", "--warmup", "-1"}, "--warmup -1"},
		{[]string{"check", "--tol", "-1"}, "--tol -1"},
		{[]string{"check", "--tol", "NaN"}, "--tol NaN"},
		{[]string{"kernels", "--plot", "x.jpg"}, "--plot x.jpg"},
		{[]string{"classify", "--crop", "-1", img}, "--crop -1"},
	} {
		_, e, code := cli(t, env, c.args...)
		oneErrorLine(t, e, code, 2, c.want)
	}
}

// Flags may follow the positional arguments; "--" ends the flags.
func TestFlagsAfterArguments(t *testing.T) {
	out, e, code := cli(t, nil, "classify", "--device", "cpu", "--weights", tinyPth, "../../testdata/images/chelsea.png", "--top", "1", "--labels", tinyLabels)
	if code != 0 || strings.Count(out, "  1  ") != 1 || strings.Contains(out, "  2  ") {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant one class", code, e, out)
	}
	_, e, code = cli(t, nil, "classify", "--device", "cpu", "--weights", tinyPth, "--", "--top")
	oneErrorLine(t, e, code, 1, "--top") // "--top" is an input file after "--"
}

// A full disk loses no results silently: the write error is the exit
// status.
func TestWriteErrors(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full")
	}
	defer full.Close()
	for _, format := range [][]string{nil, {"--json"}} {
		args := append([]string{"classify", "--device", "cpu", "--weights", tinyPth}, format...)
		cmd := exec.Command(bin, append(args, "../../testdata/images/chelsea.png")...)
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
		cmd.Stdout = full
		var errb strings.Builder
		cmd.Stderr = &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(errb.String(), "writing the results") {
			t.Errorf("%v > /dev/full: %v, stderr %q; want exit 1 and a write error", format, err, errb.String())
		}
	}
}

// "help COMMAND" and "COMMAND -h" print that command's usage, once.
func TestHelpCommand(t *testing.T) {
	for _, args := range [][]string{{"help", "classify"}, {"classify", "-h"}} {
		out, e, code := cli(t, nil, args...)
		if code != 0 || strings.Count(out, "usage: resnet-gpu classify") != 1 || !strings.Contains(out, "-labels") || e != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout:\n%s", args, code, e, out)
		}
	}
}

// check-ops labels each case with the kernel that ran it: with --variant,
// that kernel on every convolution case.
func TestCheckOpsLabels(t *testing.T) {
	for _, v := range []string{"general", "direct"} {
		out, e, c := cli(t, nil, "check-ops", "--arch", "resnet18", "--batches", "1", "--filter", "h=7,w=7,o=512,k=3x3", "--variant", v)
		if c != 0 {
			t.Fatalf("--variant %s: exit %d: %s\n%s", v, c, e, out)
		}
		cases := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "ok ") || strings.HasPrefix(line, "FAIL") {
				cases++
				if !strings.HasSuffix(line, "["+v+"]") {
					t.Errorf("--variant %s: %q", v, line)
				}
			}
		}
		if cases == 0 {
			t.Errorf("--variant %s: no case ran:\n%s", v, out)
		}
	}
	_, e, c := cli(t, nil, "check-ops", "--filter", "nomatch")
	oneErrorLine(t, e, c, 2, `--filter "nomatch": no case matches`)
}
