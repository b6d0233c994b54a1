package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stepwise-run/stepwise/shared/canvas"
	"github.com/stepwise-run/stepwise/shared/state"
)

func init() {
	register("runs", command{summary: "list the runs of a campaign (or all campaigns)",
		usage: "runs [--home DIR] [CAMPAIGN_ID]", run: runRuns})
}

// runCounts reads the counts and statuses of a recorded run.
func runCounts(home, runID string) (canvas.Counts, map[string]string, error) {
	l, err := openHomeRead(home)
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
	l, err := openHomeRead(*home)
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
			status, reason := whyRun(ctx, l.State, r, homeFlag(*home), time.Now())
			fmt.Fprintf(stdout, "%-38s %-20s %-10s %-5v %-20s %s\n", r.ID, r.CampaignID, status, r.Test, r.StartedAt.Format("2006-01-02 15:04:05"), oneLine(reason))
		}
	}
	return 0
}

// whyRun is the status to show for a run and why: a running run that waits
// (held for confirmation, quiet hours, a wait activity) says so and what to
// do, a suspended one how to go on.
func whyRun(ctx context.Context, tasks interface {
	ListTasks(ctx context.Context, runID string) ([]state.Task, error)
}, r state.Run, home string, now time.Time) (string, string) {
	switch r.Status {
	case state.RunSuspended:
		return string(r.Status), fmt.Sprintf("go on with `stepwise resume%s %s` (%s)", home, r.ID, r.Reason)
	case state.RunRunning:
	default:
		return string(r.Status), r.Reason
	}
	ts, err := tasks.ListTasks(ctx, r.ID)
	if err != nil {
		return string(r.Status), r.Reason
	}
	var held, waits []string
	for _, t := range ts {
		w := t.Waiting
		switch {
		case t.Status != state.TaskRunning || w == nil:
		case w.Reason == state.WaitHeld:
			held = append(held, fmt.Sprintf("%s: confirm with `stepwise confirm%s %s %s`", t.Activity, home, r.ID, t.Activity))
		case w.Until.After(now):
			waits = append(waits, fmt.Sprintf("%s: until %s (%s)", t.Activity, untilText(w.Until, now, w.Zone), w.Reason))
		}
	}
	switch {
	case len(held) > 0:
		return "held", strings.Join(append(held, waits...), "; ")
	case len(waits) > 0:
		return "waiting", strings.Join(waits, "; ")
	}
	return string(r.Status), r.Reason
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

// oneLine keeps a reason on one line of at most 240 bytes (cut at a rune),
// control characters from the data escaped.
func oneLine(s string) string {
	s = escape(strings.ReplaceAll(s, "\n", " "))
	if len(s) <= 240 {
		return s
	}
	cut := 239
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
