package imagenet

import (
	"strings"
	"testing"
)

func TestLabels(t *testing.T) {
	if len(labels) != NumClasses || len(wnids) != NumClasses {
		t.Fatalf("got %d labels and %d wnids, want %d each", len(labels), len(wnids), NumClasses)
	}
	for _, c := range []struct {
		i         int
		label, id string
	}{
		{0, "tench", "n01440764"},
		{817, "sports car", "n04285008"},
		{999, "toilet tissue", "n15075141"},
		{-1, "", ""},
		{NumClasses, "", ""},
	} {
		if got := Label(c.i); got != c.label {
			t.Errorf("Label(%d) = %q, want %q", c.i, got, c.label)
		}
		if got := WNID(c.i); got != c.id {
			t.Errorf("WNID(%d) = %q, want %q", c.i, got, c.id)
		}
	}
	seen := map[string]bool{}
	for i := range NumClasses {
		l, w := Label(i), WNID(i)
		if l == "" || strings.TrimSpace(l) != l || strings.ContainsRune(l, '\r') {
			t.Errorf("Label(%d) = %q: empty or untrimmed", i, l)
		}
		if len(w) != 9 || w[0] != 'n' {
			t.Errorf("WNID(%d) = %q: not an nXXXXXXXX id", i, w)
		}
		if seen[w] {
			t.Errorf("WNID(%d) = %q: duplicate", i, w)
		}
		seen[w] = true
	}
}
