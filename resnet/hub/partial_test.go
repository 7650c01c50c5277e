package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv tells the test binary, run again by TestFetchSignals, to be the
// downloading child: its value is "BASE CACHE".
const childEnv = "HUB_TEST_FETCH_CHILD"

// TestFetchChild is the child of TestFetchSignals: it fetches a file as the
// command does, with a context that SIGINT and SIGTERM cancel.
func TestFetchChild(t *testing.T) {
	base, dir, ok := strings.Cut(os.Getenv(childEnv), " ")
	if !ok {
		t.Skip("run by TestFetchSignals")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	w, _ := testFile(t, 1<<20, 30)
	_, err := Fetch(ctx, w, Options{Dir: dir, Base: base})
	fmt.Fprintln(os.Stderr, "child:", err)
	os.Exit(3)
}

// TestFetchSignals checks that a download stopped by SIGTERM or SIGINT
// removes its temporary file, and that the one a SIGKILLed download leaves
// is removed by the next Fetch.
func TestFetchSignals(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("in the child")
	}
	_, data := testFile(t, 1<<20, 30)
	srv := serveFunc(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Length", strconv.Itoa(len(data)))
		rw.Write(data[:len(data)/2])
		rw.(http.Flusher).Flush()
		select { // hold the rest back until the client goes away
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	})
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt, os.Kill} {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestFetchChild$")
		cmd.Env = append(os.Environ(), childEnv+"="+srv.URL+" "+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		partial := waitPartial(t, dir)
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%v: child: %v", sig, err)
		}
		if sig == os.Kill {
			// Nothing could run: the partial file is left, and the next
			// Fetch into the folder removes it since its process is gone.
			if _, err := os.Stat(partial); err != nil {
				t.Fatalf("after SIGKILL: %v", err)
			}
			RemoveStale(dir)
			checkClean(t, dir)
			continue
		}
		if ee.ExitCode() != 3 || !strings.Contains(stderr.String(), "canceled") {
			t.Errorf("%v: child exit %d, stderr %q; want 3 and a cancellation", sig, ee.ExitCode(), stderr.String())
		}
		t.Logf("%v: %s", sig, strings.TrimSpace(stderr.String()))
		checkClean(t, dir)
	}
}

// waitPartial returns the path of the partial download that appears in dir.
func waitPartial(t *testing.T, dir string) string {
	t.Helper()
	for range 500 {
		if m, _ := filepath.Glob(filepath.Join(dir, "*.partial")); len(m) == 1 {
			if fi, err := os.Stat(m[0]); err == nil && fi.Size() > 0 {
				return m[0]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no partial download appeared in %s", dir)
	return ""
}

// TestRemoveStale checks which temporary files RemoveStale deletes: those
// of ended processes of this machine and old ones, not those of running
// processes, of other machines, or other files.
func TestRemoveStale(t *testing.T) {
	dead := exec.Command(os.Args[0], "-test.run=^$")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	host := hostTag()
	names := map[string]bool{ // name → removed
		fmt.Sprintf("a-1234.pth.%s.%d.1.partial", host, dead.Process.Pid):      true,
		fmt.Sprintf("a-1234.pth.%s.%d.2.partial", host, os.Getpid()):           false,
		fmt.Sprintf("a-1234.pth.%s.%d.3.partial", host, os.Getppid()):          false,
		fmt.Sprintf("a-1234.pth.other%s.%d.4.partial", host, dead.Process.Pid): false,
		"a-1234.pth.5.partial": false, // an older name, fresh
		"a-1234.pth.6.partial": true,  // an older name, old
		fmt.Sprintf("b-1234.pth.%s.%d.7.partial", host, os.Getpid()): true, // old, however alive
		"a-1234.pth": false,
		"notes.txt":  false,
	}
	old := time.Now().Add(-StaleAge - time.Hour)
	for name := range names {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".6.partial") || strings.HasSuffix(name, ".7.partial") || name == "notes.txt" {
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	RemoveStale(dir)
	for name, removed := range names {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone := errors.Is(err, os.ErrNotExist); gone != removed {
			t.Errorf("%s: removed %v, want %v", name, gone, removed)
		}
	}
	// A missing folder is no error.
	RemoveStale(filepath.Join(dir, "missing"))
}

func TestPartialOwner(t *testing.T) {
	name := strings.Replace(partialPattern("resnet18-f37072fd.pth"), "*", "123456", 1)
	host, pid, ok := partialOwner(name)
	if !ok || host != hostTag() || pid != os.Getpid() {
		t.Errorf("partialOwner(%q) = %q, %d, %v", name, host, pid, ok)
	}
	for _, bad := range []string{"x.pth.12.partial", "x.pth.h.-1.2.partial", "x.pth.h.p.2.partial", ".partial"} {
		if _, _, ok := partialOwner(bad); ok {
			t.Errorf("partialOwner(%q) found an owner", bad)
		}
	}
}
