package hub

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
