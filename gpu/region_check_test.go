package gpu

import (
	"strings"
	"testing"
)

// A region must be aligned, a positive multiple of 4 bytes, within the
// binding limit and inside its buffer.
func TestRegionCheck(t *testing.T) {
	l := Limits{MinStorageOffsetAlignment: 256, MaxStorageBufferBinding: 1024}
	b := &Buffer{Label: "arena", Size: 2048}
	for _, c := range []struct {
		off, size uint64
		err       string // a substring of the error; "" for none
	}{
		{0, 2048 - 1024, ""},
		{256, 1024, ""},
		{1024, 1024, ""},
		{1792, 256, ""},
		{128, 64, "not a multiple of the device's 256-byte alignment"},
		{4, 64, "alignment"},
		{256, 0, "not a positive multiple of 4"},
		{256, 6, "not a positive multiple of 4"},
		{0, 1028, "storage binding limit of 1024"},
		{1792, 512, "overrun its 2048 bytes"},
		{2048, 4, "overrun"},
		{1 << 62, 4, "overrun"},
	} {
		err := Region{Buf: b, Offset: c.off, Size: c.size}.check(l)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%d bytes at %d: %v", c.size, c.off, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "arena")):
			t.Errorf("%d bytes at %d: error %v, want one naming the buffer and saying %q", c.size, c.off, err, c.err)
		}
	}
	if err := (Region{Buf: b, Size: 4}).check(Limits{MaxStorageBufferBinding: 1024}); err == nil {
		t.Error("a zero alignment limit allowed a region")
	}
}
