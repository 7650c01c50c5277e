package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
	"github.com/schollz/progressbar/v3"
)

// console is classify's terminal: error lines and, when stderr is a
// terminal and there is more than one input, a progress bar on stderr
// (count, images/s, time left) that is cleared before any line is written
// where it is drawn. It is not safe for concurrent use: one goroutine
// prints the results.
type console struct {
	stderr   io.Writer
	bar      *progressbar.ProgressBar // nil: no bar
	outOnBar bool                     // stdout writes where the bar is drawn
}

// newConsole returns the console for n inputs.
func newConsole(n int) *console {
	c := &console{stderr: os.Stderr}
	if n > 1 && hub.IsTerminal(os.Stderr) {
		c.bar = progressbar.NewOptions(n,
			progressbar.OptionSetDescription("classifying"),
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("img"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetRenderBlankState(true),
		)
		c.outOnBar = hub.IsTerminal(os.Stdout)
	}
	return c
}

// beforeOutput clears the bar if the results are about to be written over
// it.
func (c *console) beforeOutput() {
	if c.bar != nil && c.outOnBar {
		c.bar.Clear()
	}
}

// errorf writes one error line on stderr.
func (c *console) errorf(format string, args ...any) {
	if c.bar != nil {
		c.bar.Clear()
	}
	fmt.Fprintf(c.stderr, "resnet-gpu classify: "+format+"\n", args...)
}

// step advances the bar by one input.
func (c *console) step() {
	if c.bar != nil {
		c.bar.Add(1)
	}
}

// finish removes the bar.
func (c *console) finish() {
	if c.bar != nil {
		c.bar.Finish()
	}
}
