package main

import (
	"context"
	"fmt"
	"io"
	"strings"

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
