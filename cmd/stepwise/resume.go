package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/local/executor"
)

func init() {
	register("resume", command{summary: "resume a run: interrupted, suspended, left running by a killed process, or failed transiently (nobody is sent twice)",
		usage: "resume [--home DIR] [--wait real|skip|scale=N] [--json] RUN_ID", run: runResume})
}

func runResume(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("resume", stderr)
	home := fs.String("home", ".stepwise", "local state folder")
	wait := fs.String("wait", "real", "wait states: real, skip, or scale=N")
	asJSON := fs.Bool("json", false, "print one JSON summary when the run ends")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "stepwise resume: expected one run id")
		return 2
	}
	wm, err := interp.ParseWaitMode(*wait)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise resume: --wait: %v\n", err)
		return 2
	}
	runID := pos[0]
	if pid, live := executor.Live(*home, runID); live {
		// The process executing the run takes the signal in its poll loop.
		if err := executor.Send(*home, runID, "resume"); err != nil {
			fmt.Fprintf(stderr, "stepwise resume: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "run %s is executing in process %d: resume signal left; if it is suspended there, it retries the failed activity at its next check.\n", runID, pid)
		return 0
	}
	l, err := openHome(*home)
	if errors.Is(err, executor.ErrHomeBusy) {
		fmt.Fprintf(stderr, "stepwise resume: another stepwise process holds %s and does not execute run %s: resume it once that process ends (under `stepwise serve`: POST /v1/runs/%s/resume)\n", *home, runID, runID)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "stepwise resume: %v\n", err)
		return 1
	}
	defer l.Close()
	// No other process executes the run: it continues here.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	run, p, err := l.Resumable(ctx, runID)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise resume: %v\n", err)
		return 1
	}
	prog := newProgress(stderr, p, !*asJSON)
	prog.home = homeFlag(*home)
	sum, err := l.Resume(ctx, run, p, executor.Options{Wait: wm, Progress: prog.update})
	prog.close()
	return report("resume", stdout, stderr, p, sum, err, *asJSON, l.Home)
}
