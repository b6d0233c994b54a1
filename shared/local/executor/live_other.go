//go:build !unix

package executor

// liveLock is unsupported here: no run is seen as live by another process.
type liveLock struct{}

func holdLive(home, runID string) *liveLock { return nil }

func (l *liveLock) release() {}

// Live reports whether a process executes the run now (never known here).
func Live(home, runID string) (pid int, live bool) { return 0, false }
