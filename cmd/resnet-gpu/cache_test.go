package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamagedCache checks that a damaged cached download is named, with
// how to fetch it again, and that --refresh downloads it again (here from
// a mirror that is down, so the old copy stays).
func TestDamagedCache(t *testing.T) {
	cache := t.TempDir()
	path := filepath.Join(cache, "resnet-gpu", "resnet18-f37072fd.pth")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("PK\x03\x04 cut short"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"XDG_CACHE_HOME=" + cache, "RESNET_GPU_WEIGHTS_BASE=http://127.0.0.1:1/"}
	args := []string{"classify", "--arch", "resnet18", "--device", "cpu", "../../testdata/images/chelsea.png"}
	_, e, c := cli(t, env, args...)
	oneErrorLine(t, e, c, 1, "the cached copy "+path+" is damaged")
	if !strings.Contains(e, "--refresh") {
		t.Errorf("the error does not say how to fetch the file again: %q", e)
	}
	_, e, c = cli(t, env, append(args, "--refresh")...)
	oneErrorLine(t, e, c, 1, "cannot download http://127.0.0.1:1/resnet18-f37072fd.pth")
	if _, err := os.Stat(path); err != nil {
		t.Errorf("a failed refresh removed the cached copy: %v", err)
	}
}
