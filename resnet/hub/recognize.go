package hub

import (
	"encoding/hex"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Recognize tells whether the file at path is one of the registry's
// torchvision weight files, and which: by its name when that is
// torchvision's own (resnet50-0676ba61.pth, as torch.hub and Fetch save
// it), in which case the file is not read; otherwise, when its size is that
// of a registry file, by its SHA-256, which must begin with that file's
// Hash. Files of no registry file's size are not read at all, and the others
// are streamed through the hash, never held in memory. A file that cannot be
// read is not recognised.
func Recognize(path string) (Weights, bool) { return recognize(path, registry) }

// recognize is Recognize over the registry reg.
func recognize(path string, reg []Weights) (Weights, bool) {
	name := filepath.Base(path)
	for _, w := range reg {
		if w.File == name {
			return w, true
		}
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return Weights{}, false
	}
	var sized []Weights
	for _, w := range reg {
		if sizeMatches(w, fi.Size()) {
			sized = append(sized, w)
		}
	}
	if len(sized) == 0 {
		return Weights{}, false
	}
	sum, err := fileHash(path, "sha256")
	if err != nil {
		return Weights{}, false
	}
	for _, w := range sized {
		if w.Hash != "" && strings.HasPrefix(sum, w.Hash) {
			return w, true
		}
	}
	return Weights{}, false
}

// sizeMatches reports whether a file of size bytes has w's FileSizeMB,
// which torchvision rounds to three decimals of a MiB: it is within 1 KiB.
func sizeMatches(w Weights, size int64) bool {
	return w.FileSizeMB > 0 && math.Abs(float64(size)/(1<<20)-w.FileSizeMB) <= 1.0/1024
}

// fileHash returns the lowercase hex SHA-256 (or MD5, for alg "md5") of
// the file at path.
func fileHash(path, alg string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := newHash(alg)
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
