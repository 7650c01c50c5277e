package hub

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Weights hashed with MD5 (Keras' files) are checked with MD5, their
// mismatch is an ErrHashMismatch naming md5, and Options.Hint ends the
// errors about their source.
func TestFetchMD5(t *testing.T) {
	mirror, cache := t.TempDir(), t.TempDir()
	data := []byte("keras weights")
	if err := os.WriteFile(filepath.Join(mirror, "w.h5"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	w := Weights{File: "w.h5", Hash: hex.EncodeToString(sum[:]), HashAlg: "md5"}
	opt := Options{Dir: cache, Base: mirror, Hint: "(the keras hint)"}
	path, err := Fetch(context.Background(), w, opt)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != string(data) {
		t.Fatalf("cached %q, %v", b, err)
	}
	os.Remove(path)
	w.Hash = "0123abcd"
	_, err = Fetch(context.Background(), w, opt)
	if !errors.Is(err, ErrHashMismatch) || !strings.Contains(err.Error(), "hub: w.h5: md5 mismatch: got ") {
		t.Errorf("mismatch: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "*")); len(left) != 0 {
		t.Errorf("a failed fetch left %v", left)
	}
	w.File = "missing.h5"
	if _, err = Fetch(context.Background(), w, opt); err == nil || !strings.HasSuffix(err.Error(), "(the keras hint)") {
		t.Errorf("missing file: %v", err)
	}
	w.HashAlg = "crc32"
	if _, err = Fetch(context.Background(), w, opt); err == nil || !strings.Contains(err.Error(), `unknown hash "crc32"`) {
		t.Errorf("unknown hash: %v", err)
	}
}
