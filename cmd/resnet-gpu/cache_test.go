package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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

// TestInterruptedDownload checks that SIGINT or SIGTERM during a download
// exits as the signal would (130, 143) with one line saying so, and leaves
// no partial file in the cache.
func TestInterruptedDownload(t *testing.T) {
	started := make(chan struct{}, 2)
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "46830571")
		w.Write(make([]byte, 1<<16))
		w.(http.Flusher).Flush()
		started <- struct{}{}
		<-r.Context().Done() // a mirror that stalls until the client goes
	}))
	defer mirror.Close()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cache := t.TempDir()
			cmd := exec.Command(bin, "classify", "--arch", "resnet18", "--device", "cpu", "../../testdata/images/chelsea.png")
			cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache, "RESNET_GPU_WEIGHTS_BASE="+mirror.URL+"/")
			var errb strings.Builder
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-started:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatal("the download did not start")
			}
			cmd.Process.Signal(sig)
			cmd.Wait()
			oneErrorLine(t, errb.String(), cmd.ProcessState.ExitCode(), 128+int(sig), "canceled: "+sig.String()+" signal received")
			partials, _ := filepath.Glob(filepath.Join(cache, "resnet-gpu", "*.partial"))
			if len(partials) > 0 {
				t.Errorf("left %v", partials)
			}
		})
	}
}
