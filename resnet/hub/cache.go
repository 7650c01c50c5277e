package hub

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BaseEnv is the environment variable that overrides the download base.
const BaseEnv = "RESNET_GPU_WEIGHTS_BASE"

// DefaultBase is where torchvision publishes its weight files.
const DefaultBase = "https://download.pytorch.org/models/"

// CacheDir returns the folder that holds downloaded weights:
// $XDG_CACHE_HOME/resnet-gpu when XDG_CACHE_HOME is set to an absolute path,
// else ~/.cache/resnet-gpu. It does not create the folder.
func CacheDir() (string, error) {
	// The XDG base directory spec says a relative path is invalid and is
	// to be ignored.
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "resnet-gpu"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("hub: no cache folder: %w", err)
	}
	if home == "" {
		return "", errors.New("hub: no cache folder: home directory is empty")
	}
	return filepath.Join(home, ".cache", "resnet-gpu"), nil
}

// BaseURL returns the base that weight file names are appended to: the
// value of RESNET_GPU_WEIGHTS_BASE with a trailing slash added if missing,
// or DefaultBase when that is unset. The base may be an http(s) URL, a
// file:// URL or a directory path.
func BaseURL() string {
	b := strings.TrimSpace(os.Getenv(BaseEnv))
	if b == "" {
		return DefaultBase
	}
	return withSlash(b)
}

// withSlash adds a trailing slash to b if it has none.
func withSlash(b string) string {
	if strings.HasSuffix(b, "/") || strings.HasSuffix(b, string(filepath.Separator)) {
		return b
	}
	return b + "/"
}

// StaleAge is the age (since its last write) at which a temporary
// download file is stale whatever its owner.
const StaleAge = 24 * time.Hour

// partialPattern is the os.CreateTemp pattern of a temporary download of
// file: FILE.HOST.PID.RANDOM.partial, naming the machine and the process
// that writes it.
func partialPattern(file string) string {
	return fmt.Sprintf("%s.%s.%d.*.partial", file, hostTag(), os.Getpid())
}

// hostTag is this machine's name as it goes into a temporary file's name:
// its first label, in letters, digits and '-' only.
func hostTag() string {
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(h, ".")
	h = strings.Map(func(r rune) rune {
		if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return -1
	}, h)
	if h == "" {
		return "host"
	}
	return h[:min(len(h), 63)]
}

// RemoveStale deletes the temporary download files in dir that no running
// download owns: those written by a process of this machine that has
// ended, and any not written to for StaleAge. Fetch calls it; a failure to
// remove a file is ignored.
func RemoveStale(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	host := hostTag()
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".partial") {
			continue
		}
		if h, pid, ok := partialOwner(name); ok && h == host && !alive(pid) {
			os.Remove(filepath.Join(dir, name))
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > StaleAge {
			os.Remove(filepath.Join(dir, name))
		}
	}
}

// partialOwner returns the machine and process that a temporary file name
// made from partialPattern names.
func partialOwner(name string) (host string, pid int, ok bool) {
	f := strings.Split(strings.TrimSuffix(name, ".partial"), ".")
	if len(f) < 4 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(f[len(f)-2])
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return f[len(f)-3], pid, true
}

// alive reports whether process pid of this machine is running (or may be:
// where that cannot be told, it counts as running).
func alive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false // Windows: no such process
	}
	defer p.Release()
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// Damaged returns the error for w's cached copy at path, which failed to
// load with err: it names the copy and says how to fetch it again. The file
// is hashed: a copy whose hash is not w's is said to be damaged; one whose
// hash matches, a file that this program cannot read.
func Damaged(w Weights, path string, err error) error {
	sum, herr := fileHash(path, w.HashAlg)
	switch {
	case herr != nil:
		return fmt.Errorf("hub: the cached copy %s does not load (%v) and cannot be hashed (%v); %s", path, err, pathErr(herr), refetch)
	case !strings.HasPrefix(sum, w.Hash):
		// The loader's message may name the path, which ours does first.
		why := strings.Replace(err.Error(), path+": ", "", 1)
		return fmt.Errorf("hub: the cached copy %s is damaged: %s; its %s is %s…, not %s…; %s",
			path, why, w.hashName(), sum[:min(len(w.Hash), len(sum))], w.Hash, refetch)
	}
	return fmt.Errorf("hub: the cached copy %s has the right %s but does not load: %w", path, w.hashName(), err)
}
