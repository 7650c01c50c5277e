package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// hint ends every error about an unreachable or unusable torchvision
// source (Options.Hint replaces it for other files).
const hint = "(use --weights FILE.pth, or --weights synthetic:0, or set " + BaseEnv + " to a mirror)"

// headerTimeout bounds the wait for the response headers once the request
// is sent; connecting has the default transport's 30 s.
const headerTimeout = 60 * time.Second

// defaultClient is the client used when Options.Client is nil.
var defaultClient = newClient()

// newClient returns an HTTP client with connection and header timeouts; the
// body is bounded by the limits that source.watch applies.
func newClient() *http.Client {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return &http.Client{}
	}
	t = t.Clone()
	t.ResponseHeaderTimeout = headerTimeout
	return &http.Client{Transport: t}
}

// source is an open weight file at the download base.
type source struct {
	body  io.ReadCloser
	size  int64  // bytes expected, or -1 when unknown
	where string // URL or path, for messages
	local bool   // copied from disk rather than downloaded
	hint  string // ends the errors about it
	// ctx is the context reads run under; watch's timers cancel it with a
	// cause when a transfer stalls or takes too long.
	ctx    context.Context
	cancel context.CancelCauseFunc
	timers []*time.Timer
}

// verb names what is done to the source, for messages.
func (s *source) verb() string {
	if s.local {
		return "copy"
	}
	return "download"
}

// failed returns the one-line error for a source that cannot be read.
func (s *source) failed(err error) error {
	return fmt.Errorf("hub: cannot %s %s: %w %s", s.verb(), s.where, err, s.hint)
}

// readErr returns the error for a failed or short read of the body.
func (s *source) readErr(parent context.Context, err error) error {
	if parent.Err() != nil {
		return s.canceled(parent)
	}
	if cause := context.Cause(s.ctx); cause != nil {
		err = cause
	}
	return s.failed(err)
}

// open opens file at base, which is an http(s) URL, a file:// URL or a
// directory path ending in a slash; hint ends the errors about it.
func open(ctx context.Context, base, file string, client *http.Client, hint string) (*source, error) {
	lower := strings.ToLower(base)
	switch {
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		return openHTTP(ctx, base+file, client, hint)
	case strings.HasPrefix(lower, "file://"):
		u, err := url.Parse(base)
		if err != nil {
			return nil, fmt.Errorf("hub: bad weights base %q: %w", base, err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("hub: bad weights base %q: file URL names host %q", base, u.Host)
		}
		return openLocal(ctx, filepath.Join(filepath.FromSlash(u.Path), file), hint)
	case strings.Contains(base, "://"):
		return nil, fmt.Errorf("hub: bad weights base %q: want an http(s) or file URL, or a directory", base)
	}
	return openLocal(ctx, filepath.Join(base, file), hint)
}

// openLocal opens a file on disk.
func openLocal(parent context.Context, path, hint string) (*source, error) {
	ctx, cancel := context.WithCancelCause(parent)
	s := &source{where: path, local: true, size: -1, ctx: ctx, cancel: cancel, hint: hint}
	f, err := os.Open(path)
	if err != nil {
		cancel(nil)
		return nil, s.failed(pathErr(err))
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		f.Close()
		cancel(nil)
		return nil, s.failed(pathErr(err))
	}
	s.size = fi.Size()
	s.body = struct {
		io.Reader
		io.Closer
	}{ctxReader{ctx, f}, f}
	return s, nil
}

// openHTTP sends a GET request for u and checks the response status.
func openHTTP(parent context.Context, u string, client *http.Client, hint string) (*source, error) {
	if client == nil {
		client = defaultClient
	}
	ctx, cancel := context.WithCancelCause(parent)
	s := &source{where: u, size: -1, ctx: ctx, cancel: cancel, hint: hint}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("hub: bad weights URL %q: %w", u, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel(nil)
		if parent.Err() != nil {
			return nil, s.canceled(parent)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, s.failed(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel(nil)
		return nil, s.failed(errors.New(resp.Status))
	}
	s.size = resp.ContentLength
	s.body = resp.Body
	return s, nil
}

// watch returns the body as a reader bounded by lim: it fails once more
// than lim.max bytes have come, once no byte has come for lim.stall, and
// once the whole transfer has taken longer than lim.time allows for the
// expected size (the Content-Length, else lim.max).
func (s *source) watch(lim limits) io.Reader {
	expect := s.size
	if expect < 0 {
		expect = lim.max
	}
	total := lim.time(expect)
	errSlow := fmt.Errorf("not complete after %v, the time allowed for %d bytes (%v plus 1 s for each %d bytes)",
		total, expect, lim.slack, lim.minRate)
	errStalled := fmt.Errorf("no data received for %v", lim.stall)
	stall := time.AfterFunc(lim.stall, func() { s.cancel(errStalled) })
	s.timers = append(s.timers, stall, time.AfterFunc(total, func() { s.cancel(errSlow) }))
	return &stallReader{r: io.LimitReader(s.body, lim.max+1), timer: stall, stall: lim.stall}
}

// close stops the watch's timers, closes the body and releases the context.
func (s *source) close() {
	for _, t := range s.timers {
		t.Stop()
	}
	s.body.Close()
	s.cancel(nil)
}

// canceled returns the error for a download stopped by its context.
func (s *source) canceled(ctx context.Context) error {
	return fmt.Errorf("hub: %s of %s canceled: %w", s.verb(), s.where, context.Cause(ctx))
}

// pathErr drops the path from err, which the message names already.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ctxReader fails reads once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read reads from the underlying reader unless the context is done.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// stallReader pushes back a watchdog timer each time bytes arrive.
type stallReader struct {
	r     io.Reader
	timer *time.Timer
	stall time.Duration
}

// Read reads from the body and resets the stall timer.
func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.stall)
	}
	return n, err
}
