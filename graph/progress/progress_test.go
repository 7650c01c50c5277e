package progress

import (
	"bytes"
	"testing"
)

// Off a terminal a phase is one status line, whatever its steps; lines
// printed during it follow; a nil writer is quiet.
func TestPhaseOffTerminal(t *testing.T) {
	var b bytes.Buffer
	p := Start(&b, 3, "tuning 3 shapes")
	p.Add(1)
	p.Printf("tuned %s", "x")
	p.Add(2)
	p.Done()
	if got, want := b.String(), "tuning 3 shapes…\ntuned x\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	if IsTerminal(&b) {
		t.Error("a buffer is a terminal")
	}
	q := Start(nil, 3, "quiet")
	q.Add(1)
	q.Printf("nothing")
	q.Done()
	if q != nil {
		t.Errorf("Start(nil) = %v, want a nil phase", q)
	}
}
