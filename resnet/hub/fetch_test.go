package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testFile returns size seeded random bytes and Weights for them whose file
// name carries the real SHA-256 prefix, as torchvision's names do.
func testFile(t *testing.T, size int, seed uint64) (Weights, []byte) {
	t.Helper()
	var key [32]byte
	key[0] = byte(seed)
	data := make([]byte, size)
	rand.NewChaCha8(key).Read(data)
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])[:8]
	file := "resnet18-" + hash + ".pth"
	return Weights{
		Name:    "ResNet18_Weights.TEST",
		Arch:    "resnet18",
		Version: "v1",
		URL:     DefaultBase + file,
		File:    file,
		Hash:    hash,
	}, data
}

// server is a loopback HTTP server that counts its requests.
type server struct {
	*httptest.Server
	hits atomic.Int32
}

// serveFunc starts a server whose handler is h, closed at the end of the test.
func serveFunc(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve starts a server that has data at /name and nothing else.
func serve(t *testing.T, name string, data []byte) *server {
	return serveFunc(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+name {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	})
}

// checkFile fails unless path holds exactly data.
func checkFile(t *testing.T, path string, data []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("%s: %d bytes differ from the %d served", path, len(got), len(data))
	}
}

// checkClean fails unless dir holds exactly the named files: no partial
// downloads, no leftovers.
func checkClean(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

// wantErr fails unless err is a one-line error containing every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines: %q", msg)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q lacks %q", msg, p)
		}
	}
}

func TestFetch(t *testing.T) {
	w, data := testFile(t, 3<<20+17, 1)
	srv := serve(t, w.File, data)
	dir := filepath.Join(t.TempDir(), "new", "cache")
	var progress bytes.Buffer
	path, err := Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL + "/", Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, w.File) {
		t.Errorf("path %s, want %s", path, filepath.Join(dir, w.File))
	}
	checkFile(t, path, data)
	checkClean(t, dir, w.File)
	if out := progress.String(); !strings.Contains(out, w.File) || !strings.Contains(out, "100%") ||
		!strings.HasSuffix(out, "\n") {
		t.Errorf("progress output %q lacks the file name, 100%% or the final newline", out)
	}

	// The second fetch finds the file and leaves the server alone.
	path2, err := Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL})
	if err != nil || path2 != path {
		t.Errorf("second Fetch = %q, %v", path2, err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("server hit %d times, want 1", n)
	}
}

// TestFetchEmptyCached checks that an empty file in the cache, which no
// complete download leaves, is replaced.
func TestFetchEmptyCached(t *testing.T) {
	w, data := testFile(t, 1000, 2)
	srv := serve(t, w.File, data)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, w.File), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path, err := Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, data)
}

func TestFetchUnknownLength(t *testing.T) {
	w, data := testFile(t, 1<<18, 3)
	srv := serveFunc(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.(http.Flusher).Flush() // chunked: no Content-Length
		rw.Write(data)
	})
	dir := t.TempDir()
	var progress bytes.Buffer
	path, err := Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, data)
	if !strings.Contains(progress.String(), w.File) {
		t.Errorf("progress output %q lacks the file name", progress.String())
	}
}

// TestFetchBrokenProgress checks that a progress writer that fails does not
// fail the download.
func TestFetchBrokenProgress(t *testing.T) {
	w, data := testFile(t, 1<<18, 17)
	srv := serve(t, w.File, data)
	dir := t.TempDir()
	path, err := Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL, Progress: brokenWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, data)
}

// brokenWriter fails every write.
type brokenWriter struct{}

// Write returns an error.
func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestFetchHashMismatch(t *testing.T) {
	w, data := testFile(t, 1<<16, 4)
	srv := serve(t, w.File, data)
	got := w.Hash
	w.Hash = "0123abcd"
	if got == w.Hash {
		t.Skip("random data hit the wrong hash")
	}
	mirror := t.TempDir()
	if err := os.WriteFile(filepath.Join(mirror, w.File), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{srv.URL, mirror} {
		dir := t.TempDir()
		_, err := Fetch(context.Background(), w, Options{Dir: dir, Base: base, Progress: &bytes.Buffer{}})
		if !errors.Is(err, ErrHashMismatch) {
			t.Errorf("error %v is not ErrHashMismatch", err)
		}
		want := fmt.Sprintf("hub: %s: sha256 mismatch: got %s…, want 0123abcd", w.File, got)
		if err == nil || err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		checkClean(t, dir)
	}
}

// TestFetchDropped checks a server that sends half of the promised bytes
// and then closes the connection.
func TestFetchDropped(t *testing.T) {
	w, data := testFile(t, 1<<20, 10)
	srv := serveFunc(t, func(rw http.ResponseWriter, r *http.Request) {
		conn, buf, err := rw.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(data))
		buf.Write(data[:len(data)/2])
		buf.Flush()
	})
	dir := t.TempDir()
	_, err := Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL, Progress: &bytes.Buffer{}})
	wantErr(t, err, "cannot download "+srv.URL+"/"+w.File, "unexpected EOF", hint)
	checkClean(t, dir)
}

func TestFetch404(t *testing.T) {
	w, _ := testFile(t, 100, 11)
	srv := serve(t, "other.pth", nil)
	dir := t.TempDir()
	_, err := Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL})
	wantErr(t, err, "hub: cannot download "+srv.URL+"/"+w.File+": 404 Not Found", hint)
	checkClean(t, dir)
}

// TestFetchRefused checks the offline case: nothing listens at the base.
func TestFetchRefused(t *testing.T) {
	w, _ := testFile(t, 100, 12)
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	dir := t.TempDir()
	_, err := Fetch(context.Background(), w, Options{Dir: dir, Base: base})
	wantErr(t, err, "hub: cannot download "+base+"/"+w.File+": ", "refused",
		"(use --weights FILE.pth, or --weights synthetic:0, or set RESNET_GPU_WEIGHTS_BASE to a mirror)")
	if strings.Contains(err.Error(), "Get ") {
		t.Errorf("error %q repeats the URL", err)
	}
	checkClean(t, dir)
}

// TestFetchConcurrent has eight goroutines download one file at once; the
// server holds every response until all eight requests have arrived.
func TestFetchConcurrent(t *testing.T) {
	const n = 8
	w, data := testFile(t, 2<<20, 13)
	var arrived atomic.Int32
	all := make(chan struct{})
	srv := serveFunc(t, func(rw http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
		case <-time.After(10 * time.Second):
		}
		rw.Header().Set("Content-Length", strconv.Itoa(len(data)))
		rw.Write(data)
	})
	dir := t.TempDir()
	start := make(chan struct{})
	var wg sync.WaitGroup
	paths := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			paths[i], errs[i] = Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL})
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || paths[i] != filepath.Join(dir, w.File) {
			t.Errorf("fetch %d: %q, %v", i, paths[i], errs[i])
		}
	}
	if got := srv.hits.Load(); got != n {
		t.Errorf("server saw %d requests, want %d concurrent ones", got, n)
	}
	checkFile(t, filepath.Join(dir, w.File), data)
	checkClean(t, dir, w.File)
}

// TestFetchCancel cancels the context halfway through the body.
func TestFetchCancel(t *testing.T) {
	w, data := testFile(t, 1<<20, 14)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := serveFunc(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Length", strconv.Itoa(len(data)))
		rw.Write(data[:len(data)/2])
		rw.(http.Flusher).Flush()
		cancel()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	dir := t.TempDir()
	_, err := Fetch(ctx, w, Options{Dir: dir, Base: srv.URL, Progress: &bytes.Buffer{}})
	wantErr(t, err, "canceled", srv.URL+"/"+w.File)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v is not context.Canceled", err)
	}
	checkClean(t, dir)

	// A context canceled before the call sends no request.
	hits := srv.hits.Load()
	_, err = Fetch(ctx, w, Options{Dir: dir, Base: srv.URL})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v is not context.Canceled", err)
	}
	if srv.hits.Load() != hits {
		t.Error("a canceled Fetch sent a request")
	}
	checkClean(t, dir)
}

// TestFetchStall checks that a server that stops sending is given up on.
func TestFetchStall(t *testing.T) {
	w, data := testFile(t, 1<<16, 15)
	srv := serveFunc(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Length", strconv.Itoa(len(data)))
		rw.Write(data[:len(data)/2])
		rw.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	dir := t.TempDir()
	begin := time.Now()
	_, err := Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL, Stall: 200 * time.Millisecond})
	wantErr(t, err, "cannot download", "no data received for 200ms", hint)
	if d := time.Since(begin); d > 4*time.Second {
		t.Errorf("stalled download took %v to fail", d)
	}
	checkClean(t, dir)
}

func TestFetchBadWeights(t *testing.T) {
	good, _ := testFile(t, 100, 16)
	for _, w := range []Weights{
		{File: "", Hash: "abcd"},
		{File: "../evil-abcd.pth", Hash: "abcd"},
		{File: "sub/x-abcd.pth", Hash: "abcd"},
		{File: "..", Hash: "abcd"},
		{File: good.File, Hash: ""},
		{File: good.File, Hash: "ABCD"},
	} {
		dir := t.TempDir()
		_, err := Fetch(context.Background(), w, Options{Dir: dir, Base: dir})
		wantErr(t, err, "hub: ", "bad ")
		checkClean(t, dir)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "x"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) || IsTerminal(nil) {
		t.Error("a plain file or nil counts as a terminal")
	}
}
