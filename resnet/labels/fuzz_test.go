package labels

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse as text and as JSON, seeded with
// the repository's ImageNet names and small files of every format. Parse
// must return an error or a Set of exactly the class count it was given,
// with no empty and (for names without wnids) no repeated names, and never
// panic.
func FuzzParse(f *testing.F) {
	cats, err := os.ReadFile("../../testdata/imagenet/categories.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cats, uint16(1000), false)
	for _, s := range []string{
		"cat\ndog\n", "cat\r\ndog", "\ufeffcat\n", `["cat", "dog"]`, `[["n1", "cat"], ["n2", "dog"]]`,
		`{"0": ["n01440764", "tench"], "1": ["n01443537", "goldfish"]}`, `{"1": "dog", "0": "cat"}`,
	} {
		f.Add([]byte(s), uint16(2), bytes.ContainsAny([]byte(s), "[{"))
	}
	f.Fuzz(func(t *testing.T, data []byte, classes uint16, asJSON bool) {
		name := "fuzz.txt"
		if asJSON {
			name = "fuzz.json"
		}
		s, err := Parse(name, bytes.NewReader(data), int(classes))
		if err != nil {
			return
		}
		if len(s.Names) != int(classes) || s.WNIDs != nil && len(s.WNIDs) != len(s.Names) {
			t.Fatalf("%d classes: %d names, %d wnids", classes, len(s.Names), len(s.WNIDs))
		}
		seen := map[string]bool{}
		for i, n := range s.Names {
			if n == "" {
				t.Fatalf("name %d is empty", i)
			}
			if s.WNIDs == nil || s.WNIDs[i] == "" {
				if seen[n] {
					t.Fatalf("name %d, %q, repeats", i, n)
				}
			}
			seen[n] = true
		}
	})
}
