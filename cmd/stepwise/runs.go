package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/canvas"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/state"
)

func init() {
	register("runs", command{summary: "list the runs of a campaign (or all campaigns)",
		usage: "runs [--home DIR] [CAMPAIGN_ID]", run: runRuns})
	register("resume", command{summary: "resume a run: suspended, left running by a killed process, or failed transiently (nobody is sent twice)",
		usage: "resume [--home DIR] [--wait real|skip|scale=N] [--json] RUN_ID", run: runResume})
}

// runCounts reads the counts and statuses of a recorded run.
func runCounts(home, runID string) (canvas.Counts, map[string]string, error) {
	l, err := openHome(home)
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	ctx := context.Background()
	if _, err := l.State.GetRun(ctx, runID); err != nil {
		return nil, nil, fmt.Errorf("run %s: %w", runID, err)
	}
	tasks, err := l.State.ListTasks(ctx, runID)
	if err != nil {
		return nil, nil, err
	}
	counts, status := canvas.Counts{}, map[string]string{}
	for _, t := range tasks {
		counts[t.Activity] = t.Ports
		status[t.Activity] = string(t.Status)
	}
	return counts, status, nil
}

func runRuns(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("runs", stderr)
	home := fs.String("home", ".stepwise", "local state folder")
	limit := fs.Int("limit", 20, "runs per campaign")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	l, err := openHome(*home)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise runs: %v\n", err)
		return 1
	}
	defer l.Close()
	ctx := context.Background()
	ids := pos
	if len(ids) == 0 {
		ids, err = campaignsWithRuns(ctx, l.State)
		if err != nil {
			fmt.Fprintf(stderr, "stepwise runs: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "%-38s %-20s %-10s %-5s %-20s %s\n", "RUN", "CAMPAIGN", "STATUS", "TEST", "STARTED", "REASON")
	for _, id := range ids {
		runs, _, err := l.State.ListRuns(ctx, id, state.Page{Limit: *limit})
		if err != nil {
			fmt.Fprintf(stderr, "stepwise runs: %v\n", err)
			return 1
		}
		for _, r := range runs {
			fmt.Fprintf(stdout, "%-38s %-20s %-10s %-5v %-20s %s\n", r.ID, r.CampaignID, r.Status, r.Test, r.StartedAt.Format("2006-01-02 15:04:05"), oneLine(r.Reason))
		}
	}
	return 0
}

// campaignsWithRuns lists the campaigns that have local runs: the bundles in the blob store.
func campaignsWithRuns(ctx context.Context, st state.Store) ([]string, error) {
	cs, err := st.ListCampaigns(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 80 {
		return s[:79] + "…"
	}
	return s
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
	l, err := openHome(*home)
	if errors.Is(err, executor.ErrHomeBusy) {
		// The process running the run holds the store: signal it.
		if err := executor.Send(*home, pos[0], "resume"); err != nil {
			fmt.Fprintf(stderr, "stepwise resume: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "another stepwise process holds %s: resume signal left for run %s; if that process runs it suspended, it retries the failed activity.\n", *home, pos[0])
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "stepwise resume: %v\n", err)
		return 1
	}
	defer l.Close()
	// No other process holds the home: the run continues here.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	run, p, err := l.Resumable(ctx, pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "stepwise resume: %v\n", err)
		return 1
	}
	prog := newProgress(stderr, p, !*asJSON)
	sum, err := l.Resume(ctx, run, p, executor.Options{Wait: wm, Progress: prog.update})
	prog.close()
	return report("resume", stdout, stderr, p, sum, err, *asJSON, l.Home)
}
