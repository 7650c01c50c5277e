//go:build race

package gpu_test

// raceEnabled reports whether the race detector is on (it makes GPU tests
// many times slower, so they run fewer iterations).
const raceEnabled = true
