package hub

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/resnet-gpu/resnet-gpu/graph/progress"
)

// ErrHashMismatch is wrapped by the error of a Fetch whose file's SHA-256
// (or MD5, for Weights.HashAlg "md5") does not start with the expected
// prefix.
var ErrHashMismatch = errors.New("sha256 mismatch")

// hashMismatch is ErrHashMismatch for another hash function, by its name.
type hashMismatch string

func (h hashMismatch) Error() string        { return string(h) + " mismatch" }
func (h hashMismatch) Is(target error) bool { return target == ErrHashMismatch }

// Options adjusts Fetch. The zero value is ready to use.
type Options struct {
	// Dir is the cache folder; "" means CacheDir().
	Dir string
	// Base is the download base the file name is appended to: an http(s)
	// URL, a file:// URL or a directory path; "" means BaseURL().
	Base string
	// Progress receives a progress bar (bytes, speed, time left) while a
	// file is downloaded or copied; nil means quiet.
	Progress io.Writer
	// Client sends the download requests; nil means a client that limits
	// the time to connect and to receive headers (the body is bounded by
	// the limits below, whatever the client).
	Client *http.Client
	// Hint ends the errors about an unreachable or unusable source; ""
	// means the torchvision one (--weights FILE.pth, a mirror in
	// RESNET_GPU_WEIGHTS_BASE).
	Hint string
	// Refresh downloads the file even when the cache has it, replacing the
	// cached copy once the new one is verified.
	Refresh bool

	// MaxSize caps the bytes of a file whose size the Weights do not give
	// (FileSizeMB 0, as for Keras' files); 0 means DefaultMaxSize. A file
	// with a FileSizeMB may be at most 1 KiB larger than that. A source
	// that announces more is refused before its body is read, and one that
	// sends more is stopped there.
	MaxSize int64
	// Stall aborts a transfer that receives no bytes for this long; 0
	// means DefaultStall.
	Stall time.Duration
	// MinRate (bytes a second) and Slack bound the time of a whole
	// transfer of n bytes to Slack + n/MinRate, however steadily the bytes
	// come; 0 means DefaultMinRate and DefaultSlack.
	MinRate int64
	Slack   time.Duration
}

// The limits of a transfer that Options' zero values stand for.
const (
	DefaultMaxSize = 2 << 30          // bytes
	DefaultStall   = 60 * time.Second // without a byte
	DefaultMinRate = 32 << 10         // bytes a second, on average
	DefaultSlack   = 5 * time.Minute  // on top of the size over MinRate
)

// limits are the bounds of one transfer.
type limits struct {
	max     int64  // bytes
	why     string // what max is, for messages
	stall   time.Duration
	minRate int64
	slack   time.Duration
}

// limits returns the bounds of a transfer of w's file.
func (o Options) limits(w Weights) limits {
	lim := limits{max: o.MaxSize, why: "the cap on files of unknown size", stall: o.Stall, minRate: o.MinRate, slack: o.Slack}
	if lim.max <= 0 {
		lim.max = DefaultMaxSize
	}
	if w.FileSizeMB > 0 {
		lim.max = int64(math.Round(w.FileSizeMB*(1<<20))) + 1<<10
		lim.why = fmt.Sprintf("%s's size, %.3f MiB, plus 1 KiB", w.File, w.FileSizeMB)
	}
	if lim.stall <= 0 {
		lim.stall = DefaultStall
	}
	if lim.minRate <= 0 {
		lim.minRate = DefaultMinRate
	}
	if lim.slack <= 0 {
		lim.slack = DefaultSlack
	}
	return lim
}

// time is the longest a transfer of n bytes may take (at most 30 years).
func (l limits) time(n int64) time.Duration {
	s := min(float64(n)/float64(l.minRate), 1e9)
	return l.slack + time.Duration(s*float64(time.Second))
}

// Fetch returns the path of w's file in the cache, downloading it first from
// the base when it is not there.
//
// A file already in the cache (non-empty, and of w's FileSizeMB where that
// is known) is returned as it is, without hashing, unless opt.Refresh is
// set; a cached file of the wrong size is an error that says how to fetch
// it again. Otherwise the file is streamed into a fresh temporary file in the
// cache folder while its SHA-256 is computed; its length is checked against
// the Content-Length and its hash against w.Hash, it is synced to disk and
// then renamed into place. On any error, including the cancellation of ctx,
// the temporary file is removed and nothing usable is left in the cache.
// Concurrent Fetches of one file, in one process or several, are safe: each
// writes its own temporary file, and the atomic renames all put identical,
// verified bytes in place.
//
// A transfer is bounded by opt's limits: its size by the file's known size
// (or MaxSize), its time by Stall and by MinRate and Slack. A program that
// wants no temporary file left behind when it is interrupted cancels ctx
// on SIGINT and SIGTERM (signal.NotifyContext); the temporary files that
// killed processes leave are removed by the next Fetch into the same
// folder (see [RemoveStale]).
func Fetch(ctx context.Context, w Weights, opt Options) (path string, err error) {
	if err := checkWeights(w); err != nil {
		return "", err
	}
	dir := opt.Dir
	if dir == "" {
		if dir, err = CacheDir(); err != nil {
			return "", err
		}
	}
	dst := filepath.Join(dir, w.File)
	RemoveStale(dir)
	if !opt.Refresh {
		ok, err := cached(dst, w)
		if err != nil {
			return "", err
		}
		if ok {
			return dst, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("hub: fetch of %s canceled: %w", w.File, context.Cause(ctx))
	}
	base := opt.Base
	if base == "" {
		base = BaseURL()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("hub: cache folder: %w", err)
	}
	h := opt.Hint
	if h == "" {
		h = hint
	}
	src, err := open(ctx, withSlash(base), w.File, opt.Client, h)
	if err != nil {
		return "", err
	}
	defer src.close()
	if err := save(ctx, src, dst, w, opt.limits(w), opt.Progress); err != nil {
		return "", err
	}
	return dst, nil
}

// checkWeights rejects a Weights value that Fetch cannot use safely.
func checkWeights(w Weights) error {
	if w.File == "" || w.File != filepath.Base(w.File) || strings.ContainsAny(w.File, `/\`) ||
		w.File == "." || w.File == ".." {
		return fmt.Errorf("hub: bad weight file name %q", w.File)
	}
	if w.HashAlg != "" && w.HashAlg != "sha256" && w.HashAlg != "md5" {
		return fmt.Errorf("hub: %s: unknown hash %q (want sha256 or md5)", w.File, w.HashAlg)
	}
	if w.Hash == "" || !hashRE.MatchString(w.Hash) {
		return fmt.Errorf("hub: %s: bad %s prefix %q", w.File, w.hashName(), w.Hash)
	}
	return nil
}

// cached reports whether a usable copy of w's file is at path: a non-empty
// regular file, of w's size where that is known.
func cached(path string, w Weights) (bool, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("hub: %w", err)
	case !fi.Mode().IsRegular():
		return false, fmt.Errorf("hub: %s is in the way: not a regular file", path)
	case fi.Size() > 0 && w.FileSizeMB > 0 && !sizeMatches(w, fi.Size()):
		return false, fmt.Errorf("hub: the cached copy %s is damaged: it is %d bytes, not %.3f MiB; %s",
			path, fi.Size(), w.FileSizeMB, refetch)
	}
	return fi.Size() > 0, nil
}

// refetch ends the errors about a damaged cached copy.
const refetch = "delete it, or use --refresh, to download it again"

// save copies src into dst through a verified temporary file.
func save(ctx context.Context, src *source, dst string, w Weights, lim limits, progress io.Writer) (err error) {
	if src.size > lim.max {
		return src.failed(fmt.Errorf("it is %d bytes, more than the %d allowed (%s)", src.size, lim.max, lim.why))
	}
	f, err := os.CreateTemp(filepath.Dir(dst), partialPattern(w.File))
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := newHash(w.HashAlg)
	out := io.MultiWriter(f, h)
	bar := newBar(progress, src.size, w.File)
	if bar != nil {
		out = io.MultiWriter(f, h, barWriter{bar})
		defer func() {
			if err != nil && !bar.IsFinished() {
				bar.Exit()
			}
		}()
	}
	n, err := io.CopyBuffer(out, src.watch(lim), make([]byte, 256<<10))
	if err != nil {
		if isWriteErr(err, f) {
			return fmt.Errorf("hub: writing %s: %w", tmp, err)
		}
		return src.readErr(ctx, err)
	}
	if n > lim.max {
		return src.failed(fmt.Errorf("more than the %d bytes allowed (%s) received", lim.max, lim.why))
	}
	if src.size >= 0 && n != src.size {
		return src.readErr(ctx, fmt.Errorf("got %d bytes, want %d", n, src.size))
	}
	if bar != nil {
		bar.Finish()
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if !strings.HasPrefix(sum, w.Hash) {
		var mismatch error = ErrHashMismatch
		if w.HashAlg == "md5" {
			mismatch = hashMismatch("md5")
		}
		return fmt.Errorf("hub: %s: %w: got %s…, want %s", w.File, mismatch, sum[:min(len(w.Hash), len(sum))], w.Hash)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		// Where rename cannot replace a file (Windows), another writer may
		// have put the same verified bytes in place first.
		if ok, _ := cached(dst, w); ok {
			os.Remove(tmp)
			return nil
		}
		return fmt.Errorf("hub: %w", err)
	}
	syncDir(filepath.Dir(dst))
	return nil
}

// isWriteErr reports whether a copy error came from writing the temporary
// file rather than from reading the source.
func isWriteErr(err error, f *os.File) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && pe.Path == f.Name()
}

// syncDir makes a rename in dir durable where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: some systems cannot sync a folder
		d.Close()
	}
}

// newBar returns a byte-counting progress bar writing to w, or nil when w
// is nil. size -1 gives a spinner.
func newBar(w io.Writer, size int64, file string) *progressbar.ProgressBar {
	if w == nil {
		return nil
	}
	if size <= 0 {
		size = -1
	}
	return progressbar.NewOptions64(size,
		progressbar.OptionSetDescription(file),
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(10),
		progressbar.OptionThrottle(65*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionOnCompletion(func() { fmt.Fprint(w, "\n") }),
		progressbar.OptionSpinnerType(14),
		// No spinner goroutine: the bar writes only from Fetch's goroutine.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// barWriter advances a progress bar by the bytes written to it. A failure
// to draw the bar does not fail the download.
type barWriter struct{ bar *progressbar.ProgressBar }

// Write adds len(p) to the bar.
func (b barWriter) Write(p []byte) (int, error) {
	b.bar.Add(len(p))
	return len(p), nil
}

// IsTerminal reports whether f is a terminal, so that a caller can pass
// os.Stderr as Options.Progress only when someone watches it.
func IsTerminal(f *os.File) bool { return progress.IsTerminal(f) }

// newHash returns the hash named alg: MD5 for "md5", else SHA-256.
func newHash(alg string) hash.Hash {
	if alg == "md5" {
		return md5.New()
	}
	return sha256.New()
}

// hashName names the hash of w.Hash.
func (w Weights) hashName() string {
	if w.HashAlg == "" {
		return "sha256"
	}
	return w.HashAlg
}
