//go:build unix

package executor

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// liveLock marks a run as executing in this process: an exclusive lock on
// home/signals/<run>.live, which holds the process id. Other processes ask
// Live before they resume or stop a run themselves.
type liveLock struct {
	f    *os.File
	path string
}

func livePath(home, runID string) string { return SignalPath(home, runID, "live") }

// holdLive takes the run's live lock (nil when it cannot: the run is then
// just not seen as live).
func holdLive(home, runID string) *liveLock {
	p := livePath(home, runID)
	if os.MkdirAll(filepath.Dir(p), 0o700) != nil {
		return nil
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		f.Close()
		return nil
	}
	f.Truncate(0)
	f.WriteString(strconv.Itoa(os.Getpid()))
	return &liveLock{f: f, path: p}
}

func (l *liveLock) release() {
	if l == nil {
		return
	}
	os.Remove(l.path)
	l.f.Close()
}

// Live reports whether a process executes the run now, and its process id.
func Live(home, runID string) (pid int, live bool) {
	abs, err := filepath.Abs(home)
	if err != nil {
		return 0, false
	}
	f, err := os.Open(livePath(abs, runID))
	if errors.Is(err, os.ErrNotExist) || err != nil {
		return 0, false
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, false
	}
	b := make([]byte, 32)
	n, _ := f.Read(b)
	pid, _ = strconv.Atoi(strings.TrimSpace(string(b[:n])))
	return pid, true
}
