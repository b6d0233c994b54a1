package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/state"
)

func init() {
	register("stop", command{summary: "stop a run for good: the process executing it ends it, or it is recorded stopped (it cannot be resumed)",
		usage: "stop [--home DIR] RUN_ID", run: runStop})
}

// stopWait bounds how long stop waits for the executing process.
var stopWait = 15 * time.Second

// StopReason is recorded on a run stopped by `stepwise stop` while no process executes it.
const StopReason = "stopped with `stepwise stop`"

func runStop(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("stop", stderr)
	home := fs.String("home", ".stepwise", "local state folder")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "stepwise stop: expected one run id")
		return 2
	}
	runID := pos[0]
	if pid, live := executor.Live(*home, runID); live {
		return stopLive(*home, runID, pid, stdout, stderr)
	}
	l, err := openHome(*home)
	if errors.Is(err, executor.ErrHomeBusy) {
		fmt.Fprintf(stderr, "stepwise stop: another stepwise process holds %s and does not execute run %s: stop it once that process ends (under `stepwise serve`: POST /v1/runs/%s/stop)\n", *home, runID, runID)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "stepwise stop: %v\n", err)
		return 1
	}
	defer l.Close()
	ctx := context.Background()
	run, err := l.State.GetRun(ctx, runID)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise stop: %s\n", runErr(runID, err, *home))
		return 1
	}
	if run.Status.Terminal() {
		fmt.Fprintf(stderr, "stepwise stop: run %s is already %s: there is nothing to stop\n", runID, run.Status)
		return 1
	}
	if _, err := l.State.SetRunStatus(ctx, runID, run.Status, state.RunStopped, StopReason, time.Now()); err != nil {
		fmt.Fprintf(stderr, "stepwise stop: run %s: %v\n", runID, err)
		return 1
	}
	fmt.Fprintf(stdout, "run %s stopped (it was %s); it cannot be resumed.\n", runID, run.Status)
	return 0
}

// stopLive signals the process executing the run and waits for it to end the run.
func stopLive(home, runID string, pid int, stdout, stderr io.Writer) int {
	if err := executor.Send(home, runID, "stop"); err != nil {
		fmt.Fprintf(stderr, "stepwise stop: %v\n", err)
		return 1
	}
	sig := executor.SignalPath(home, runID, "stop")
	deadline := time.Now().Add(stopWait)
	for time.Now().Before(deadline) {
		_, taken := os.Stat(sig)
		if _, live := executor.Live(home, runID); errors.Is(taken, os.ErrNotExist) && !live {
			fmt.Fprintf(stdout, "run %s stopped: process %d ended it; it cannot be resumed.\n", runID, pid)
			return 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat(sig); err == nil {
		os.Remove(sig)
		fmt.Fprintf(stderr, "stepwise stop: process %d executing run %s did not take the stop signal within %s; the signal is withdrawn\n", pid, runID, stopWait)
		return 1
	}
	fmt.Fprintf(stdout, "run %s: process %d took the stop signal and is ending the run.\n", runID, pid)
	return 0
}
