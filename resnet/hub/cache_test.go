package hub

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestCacheDir(t *testing.T) {
	home := t.TempDir()
	xdg := t.TempDir()
	t.Setenv("HOME", home)

	t.Setenv("XDG_CACHE_HOME", xdg)
	if got, err := CacheDir(); err != nil || got != filepath.Join(xdg, "resnet-gpu") {
		t.Errorf("with XDG_CACHE_HOME: CacheDir() = %q, %v", got, err)
	}
	want := filepath.Join(home, ".cache", "resnet-gpu")
	t.Setenv("XDG_CACHE_HOME", "")
	if got, err := CacheDir(); err != nil || got != want {
		t.Errorf("without XDG_CACHE_HOME: CacheDir() = %q, %v; want %q", got, err, want)
	}
	t.Setenv("XDG_CACHE_HOME", "relative/cache")
	if got, err := CacheDir(); err != nil || got != want {
		t.Errorf("with a relative XDG_CACHE_HOME: CacheDir() = %q, %v; want %q", got, err, want)
	}
	t.Setenv("HOME", "")
	if got, err := CacheDir(); err == nil {
		t.Errorf("with no HOME: CacheDir() = %q, want an error", got)
	}
}

func TestBaseURL(t *testing.T) {
	for env, want := range map[string]string{
		"":                          DefaultBase,
		"http://mirror:8080/models": "http://mirror:8080/models/",
		"http://mirror/models/":     "http://mirror/models/",
		"/srv/weights":              "/srv/weights/",
		"file:///srv/weights":       "file:///srv/weights/",
	} {
		t.Setenv(BaseEnv, env)
		if got := BaseURL(); got != want {
			t.Errorf("%s=%q: BaseURL() = %q, want %q", BaseEnv, env, got, want)
		}
	}
}

// TestFetchDefaultDir checks that Fetch without Options.Dir fills
// $XDG_CACHE_HOME/resnet-gpu, creating it.
func TestFetchDefaultDir(t *testing.T) {
	w, data := testFile(t, 1<<16, 5)
	srv := serve(t, w.File, data)
	xdg := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)
	path, err := Fetch(context.Background(), w, Options{Base: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(xdg, "resnet-gpu", w.File); path != want {
		t.Errorf("Fetch put the file at %s, want %s", path, want)
	}
	checkFile(t, path, data)
}

// TestFetchEnvBase checks that RESNET_GPU_WEIGHTS_BASE, without a trailing
// slash, redirects downloads to a mirror folder.
func TestFetchEnvBase(t *testing.T) {
	w, data := testFile(t, 1<<16, 6)
	srv := serve(t, "mirror/"+w.File, data)
	t.Setenv(BaseEnv, srv.URL+"/mirror")
	dir := t.TempDir()
	path, err := Fetch(context.Background(), w, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, data)
	if srv.hits.Load() != 1 {
		t.Errorf("mirror served %d requests, want 1", srv.hits.Load())
	}
}

// TestFetchLocalBase checks copying from a directory path and from a
// file:// URL, with the same verification as a download.
func TestFetchLocalBase(t *testing.T) {
	w, data := testFile(t, 1<<17, 7)
	mirror := t.TempDir()
	if err := os.WriteFile(filepath.Join(mirror, w.File), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{mirror, mirror + "/", "file://" + filepath.ToSlash(mirror)} {
		dir := t.TempDir()
		path, err := Fetch(context.Background(), w, Options{Dir: dir, Base: base})
		if err != nil {
			t.Errorf("base %q: %v", base, err)
			continue
		}
		checkFile(t, path, data)
		checkClean(t, dir, w.File)
	}

	t.Setenv(BaseEnv, mirror)
	dir := t.TempDir()
	if path, err := Fetch(context.Background(), w, Options{Dir: dir}); err != nil {
		t.Errorf("%s=%s: %v", BaseEnv, mirror, err)
	} else {
		checkFile(t, path, data)
	}

	// A wrong file under the right name fails the hash check.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, w.File), data[1:], 0o644); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if _, err := Fetch(context.Background(), w, Options{Dir: dir, Base: bad}); err == nil {
		t.Error("corrupt local file accepted")
	}
	checkClean(t, dir)

	// A missing file is named in the error.
	other, _ := testFile(t, 100, 8)
	_, err := Fetch(context.Background(), other, Options{Dir: dir, Base: mirror})
	wantErr(t, err, "cannot copy", filepath.Join(mirror, other.File), "no such file", hint)
	checkClean(t, dir)

	// A context canceled before the call, or during the copy (here by the
	// progress bar's first write), stops a copy.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Fetch(ctx, w, Options{Dir: dir, Base: mirror})
	wantErr(t, err, "canceled")
	checkClean(t, dir)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	_, err = Fetch(ctx, w, Options{Dir: dir, Base: mirror, Progress: cancelWriter(cancel)})
	wantErr(t, err, "canceled", filepath.Join(mirror, w.File))
	checkClean(t, dir)
}

// cancelWriter calls itself on each write.
type cancelWriter func()

// Write calls c and discards p.
func (c cancelWriter) Write(p []byte) (int, error) {
	c()
	return len(p), nil
}

func TestFetchBadBase(t *testing.T) {
	w, _ := testFile(t, 100, 9)
	for _, base := range []string{"ftp://mirror/models/", "file://otherhost/models/"} {
		dir := t.TempDir()
		_, err := Fetch(context.Background(), w, Options{Dir: dir, Base: base})
		wantErr(t, err, "bad weights base")
		checkClean(t, dir)
	}
}
