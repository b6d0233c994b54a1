package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// signalDir delivers signals as files: home/signals/<run>.<name>.
type signalDir string

// SignalPath is the file that sends a signal to a run.
func SignalPath(home, runID, name string) string {
	return filepath.Join(home, "signals", runID+"."+name)
}

// Send leaves a signal for a run (used by `stepwise resume`).
func Send(home, runID, name string) error {
	p := SignalPath(home, runID, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return os.WriteFile(p, nil, 0o600)
}

// Take waits up to pollWait for the signal and consumes it.
func (d signalDir) Take(ctx context.Context, runID, name string) bool {
	p := SignalPath(string(d), runID, name)
	deadline := time.Now().Add(pollWait)
	for {
		err := os.Remove(p)
		if err == nil {
			return true
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pollWait bounds one local poll so a suspended run does not spin even when
// Wait states are skipped.
var pollWait = 2 * time.Second
