// Package progress reports a long phase of work on a command's stderr: a
// progress bar (count, rate, time left) when it is a terminal, one status
// line per phase otherwise.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Phase is one phase of work of a known number of steps. Its methods may
// be called on a nil Phase (a quiet one). A Phase is safe for concurrent
// use.
type Phase struct {
	w    io.Writer
	bar  *progressbar.ProgressBar // nil unless w is a terminal
	spin bool                     // a spinner: the length is unknown
	stop chan struct{}
	once sync.Once
	mu   sync.Mutex // orders the bar's drawing with the lines printed above it
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && f != nil && term.IsTerminal(int(f.Fd()))
}

// Start begins a phase of total steps described by what ("tuning 27
// shapes"; total < 1: of unknown length): on a terminal w a bar (a spinner
// for an unknown length) that is redrawn at least twice a second, so the
// elapsed time moves even while a step takes long; elsewhere the single
// line "what…". A nil w gives a nil, quiet Phase.
func Start(w io.Writer, total int, what string) *Phase {
	if w == nil {
		return nil
	}
	p := &Phase{w: w}
	if !IsTerminal(w) {
		fmt.Fprintf(w, "%s…\n", what)
		return p
	}
	p.spin = total < 1
	if p.spin {
		total = -1
	}
	opts := []progressbar.Option{
		progressbar.OptionSetDescription(what),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(20),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionSpinnerType(14),
		// No spinner goroutine of the bar's own: the ticker below draws,
		// under mu.
		progressbar.OptionSetSpinnerChangeInterval(0),
	}
	if !p.spin {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true))
	}
	p.bar = progressbar.NewOptions(total, opts...)
	p.stop = make(chan struct{})
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.bar.RenderBlank()
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// Add advances the phase by n steps.
func (p *Phase) Add(n int) {
	if p != nil && p.bar != nil {
		p.mu.Lock()
		p.bar.Add(n)
		p.mu.Unlock()
	}
}

// Printf prints a line (a newline is added) above the bar, or as it is
// without one.
func (p *Phase) Printf(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// Done ends the phase and erases the bar.
func (p *Phase) Done() {
	if p == nil || p.bar == nil {
		return
	}
	p.once.Do(func() {
		close(p.stop)
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.spin {
			p.bar.Finish()
		}
		p.bar.Clear()
	})
}
