package hub

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestFetchTooLarge checks that a source announcing more bytes than the
// file can have is refused before its body is read: by the registry's size
// of the file, else by Options.MaxSize.
func TestFetchTooLarge(t *testing.T) {
	w, data := testFile(t, 1<<20, 20)
	var sent atomic.Int64
	srv := serveFunc(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Length", strconv.FormatInt(10<<30, 10))
		rw.WriteHeader(http.StatusOK)
		for i := 0; i < 1<<14 && r.Context().Err() == nil; i++ {
			n, err := rw.Write(data[:64<<10])
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	sized := w
	sized.FileSizeMB = 1
	for _, c := range []struct {
		w    Weights
		opt  Options
		want string
	}{
		{sized, Options{}, fmt.Sprintf("it is 10737418240 bytes, more than the %d allowed (%s's size, 1.000 MiB, plus 1 KiB)", 1<<20+1<<10, w.File)},
		{w, Options{MaxSize: 2 << 20}, "it is 10737418240 bytes, more than the 2097152 allowed (the cap on files of unknown size)"},
	} {
		dir := t.TempDir()
		c.opt.Dir, c.opt.Base = dir, srv.URL
		begin := time.Now()
		_, err := Fetch(context.Background(), c.w, c.opt)
		wantErr(t, err, "hub: cannot download "+srv.URL+"/"+w.File+": "+c.want, hint)
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("refusal took %v", d)
		}
		checkClean(t, dir)
	}
	// The local copy of a file too large for its name is refused alike.
	mirror, dir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(mirror, w.File), append(data, make([]byte, 4<<10)...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Fetch(context.Background(), sized, Options{Dir: dir, Base: mirror})
	wantErr(t, err, "hub: cannot copy", fmt.Sprintf("it is %d bytes, more than the %d allowed", 1<<20+4<<10, 1<<20+1<<10))
	checkClean(t, dir)
}

// TestFetchEndless checks that a body without a Content-Length that never
// ends is stopped at the size cap, with nothing left in the cache.
func TestFetchEndless(t *testing.T) {
	w, _ := testFile(t, 100, 21)
	chunk := bytes.Repeat([]byte{'x'}, 32<<10)
	var sent atomic.Int64
	srv := serveFunc(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.(http.Flusher).Flush() // chunked
		for r.Context().Err() == nil {
			n, err := rw.Write(chunk)
			sent.Add(int64(n))
			if err != nil || sent.Load() > 1<<30 {
				return
			}
		}
	})
	sized := w
	sized.FileSizeMB = 0.5
	for _, c := range []struct {
		w    Weights
		opt  Options
		max  int64
		want string
	}{
		{sized, Options{}, 1<<19 + 1<<10, "more than the 525312 bytes allowed (" + w.File + "'s size, 0.500 MiB, plus 1 KiB) received"},
		{w, Options{MaxSize: 1 << 20}, 1 << 20, "more than the 1048576 bytes allowed (the cap on files of unknown size) received"},
	} {
		dir := t.TempDir()
		c.opt.Dir, c.opt.Base = dir, srv.URL
		sent.Store(0)
		_, err := Fetch(context.Background(), c.w, c.opt)
		wantErr(t, err, "hub: cannot download", c.want, hint)
		checkClean(t, dir)
		// The client stops reading at the cap; the server may have put a
		// few socket buffers more on the wire.
		if n := sent.Load(); n > c.max+16<<20 {
			t.Errorf("server sent %d bytes before the client stopped, cap %d", n, c.max)
		}
	}
}

// TestFetchDripFeed checks that a server sending a byte now and then, never
// stalling long enough for Stall, is given up on once the transfer takes
// longer than its size allows at MinRate plus Slack.
func TestFetchDripFeed(t *testing.T) {
	w, data := testFile(t, 50, 22)
	srv := serveFunc(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Length", strconv.Itoa(len(data)))
		for i := range data {
			if _, err := rw.Write(data[i : i+1]); err != nil {
				return
			}
			rw.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	dir := t.TempDir()
	begin := time.Now()
	_, err := Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL, Stall: 2 * time.Second, MinRate: 1000, Slack: 300 * time.Millisecond})
	d := time.Since(begin)
	wantErr(t, err, "hub: cannot download", "not complete after 350ms, the time allowed for 50 bytes (300ms plus 1 s for each 1000 bytes)", hint)
	// The whole body takes 1 s; the limit is 0.35 s.
	if d < 350*time.Millisecond || d > 900*time.Millisecond {
		t.Errorf("the drip-fed download failed after %v, want about 0.35 s", d)
	}
	checkClean(t, dir)

	// The same server within the limits is fine.
	path, err := Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL, Stall: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, data)
}

func TestLimitsDefaults(t *testing.T) {
	lim := Options{}.limits(Weights{File: "x.h5"})
	if lim.max != DefaultMaxSize || lim.stall != DefaultStall || lim.minRate != DefaultMinRate || lim.slack != DefaultSlack {
		t.Errorf("zero Options give %+v", lim)
	}
	w, err := Lookup("resnet50", "v1")
	if err != nil {
		t.Fatal(err)
	}
	lim = Options{MaxSize: 1}.limits(w)
	// torchvision's resnet50-0676ba61.pth is 102530333 bytes (97.781 MiB).
	if lim.max < 102530333 || lim.max > 102530333+2<<10 {
		t.Errorf("resnet50's cap is %d bytes", lim.max)
	}
	if d := lim.time(102530333); d < DefaultSlack+50*time.Minute || d > DefaultSlack+53*time.Minute {
		t.Errorf("resnet50 may take %v", d)
	}
	// A huge size at a tiny rate does not overflow into a negative time.
	if d := (Options{MinRate: 1}).limits(w).time(1 << 62); d < 1e9*time.Second {
		t.Errorf("1<<62 bytes at 1 byte a second may take %v", d)
	}
}

// TestFetchCachedDamaged checks that a cached copy of the wrong size is
// an error naming it and saying how to fetch it again, and that Refresh
// does so.
func TestFetchCachedDamaged(t *testing.T) {
	w, data := testFile(t, 1<<20, 23)
	w.FileSizeMB = 1
	srv := serve(t, w.File, data)
	dir := t.TempDir()
	dst := filepath.Join(dir, w.File)
	if err := os.WriteFile(dst, data[:1000], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL})
	wantErr(t, err, "hub: the cached copy "+dst+" is damaged: it is 1000 bytes, not 1.000 MiB; delete it, or use --refresh, to download it again")
	if srv.hits.Load() != 0 {
		t.Error("the damaged copy was downloaded again without Refresh")
	}
	path, err := Fetch(context.Background(), w, Options{Dir: dir, Base: srv.URL, Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, data)
	checkClean(t, dir, w.File)
}

// TestDamaged checks the error for a cached copy that does not load.
func TestDamaged(t *testing.T) {
	w, data := testFile(t, 1000, 24)
	path := filepath.Join(t.TempDir(), w.File)
	if err := os.WriteFile(path, data[:999], 0o644); err != nil {
		t.Fatal(err)
	}
	loadErr := fmt.Errorf("weights: %s: zip: not a valid zip file", path)
	wantErr(t, Damaged(w, path, loadErr), "hub: the cached copy "+path+" is damaged: weights: zip: not a valid zip file; its sha256 is ",
		", not "+w.Hash+"…; delete it, or use --refresh, to download it again")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	err := Damaged(w, path, loadErr)
	wantErr(t, err, "hub: the cached copy "+path+" has the right sha256 but does not load: weights: "+path+": zip: not a valid zip file")
	if strings.Contains(err.Error(), "--refresh") {
		t.Errorf("a copy with the right hash is said to need fetching again: %v", err)
	}
	wantErr(t, Damaged(w, path+".missing", loadErr), "cannot be hashed", "no such file")
}
