// Package procstat measures a child process as a whole: wall time, CPU time
// (user + system) and its own peak resident set.
package procstat

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Usage is what one run of a process cost.
type Usage struct {
	Wall, CPU time.Duration
	RSS       int64 // peak resident set, bytes
}

// Run starts cmd, polls its peak RSS every poll (VmHWM: a waited child's
// rusage may carry another child's maximum) and waits for it.
func Run(cmd *exec.Cmd, poll time.Duration) (Usage, error) {
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Usage{}, err
	}
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			if hwm := PeakRSS(cmd.Process.Pid); hwm > peak.Load() {
				peak.Store(hwm)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	u := Usage{Wall: time.Since(start), RSS: peak.Load()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		if u.RSS == 0 {
			u.RSS = ru.Maxrss * 1024
		}
	}
	return u, err
}

// PeakRSS reads a process's peak resident set from /proc (0 when unknown).
func PeakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
