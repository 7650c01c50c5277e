package h5

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadH5 reads whatever the fuzzer makes of the test files: any error
// is fine, a panic or an error of more than one line is not.
func FuzzLoadH5(f *testing.F) {
	names, err := filepath.Glob(testdata + "*.h5")
	if err != nil || len(names) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := readAll(data); err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error of several lines: %q", err)
		}
	})
}
