package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/stepwise-run/stepwise/shared/state"
)

func init() {
	register("logs", command{summary: "print the log lines of a run's activities (alerts' titles and messages, plans, sends)",
		usage: "logs [--home DIR] [--json] RUN_ID [ACTIVITY]", run: runLogs})
}

// activityLog is the log of one activity (the API's shape).
type activityLog struct {
	Activity string   `json:"activity"`
	Type     string   `json:"type,omitempty"`
	Status   string   `json:"status"`
	Error    string   `json:"error,omitempty"`
	Lines    []string `json:"lines"`
	Dropped  int64    `json:"dropped,omitempty"`
}

func runLogs(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("logs", stderr)
	home := fs.String("home", ".stepwise", "local state folder")
	asJSON := fs.Bool("json", false, "print {runId, activities: [{activity, type, status, error, lines, dropped}]}")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprintln(stderr, "stepwise logs: expected RUN_ID [ACTIVITY]")
		return 2
	}
	runID, only := pos[0], ""
	if len(pos) == 2 {
		only = pos[1]
	}
	l, err := openHomeRead(*home)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise logs: %v\n", err)
		return 1
	}
	defer l.Close()
	ctx := context.Background()
	run, err := l.State.GetRun(ctx, runID)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise logs: %s\n", runErr(runID, err, *home))
		return 1
	}
	tasks, err := l.State.ListTasks(ctx, runID)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise logs: %v\n", err)
		return 1
	}
	byID := map[string]state.Task{}
	for _, t := range tasks {
		byID[t.Activity] = t
	}
	// The campaign's order and types when its program is recorded; else the tasks' start order.
	var order []string
	types := map[string]string{}
	if p, err := l.Program(ctx, run); err == nil {
		order = p.Order
		for id, s := range p.Specs {
			types[id] = s.Type
		}
	} else {
		sort.SliceStable(tasks, func(i, j int) bool { return tasks[i].StartedAt.Before(tasks[j].StartedAt) })
		for _, t := range tasks {
			order = append(order, t.Activity)
		}
	}
	if only != "" {
		known := false
		for _, id := range order {
			known = known || id == only
		}
		if !known {
			fmt.Fprintf(stderr, "stepwise logs: run %s has no activity %q; its activities: %s\n", runID, escape(only), strings.Join(order, ", "))
			return 1
		}
		order = []string{only}
	}
	var out []activityLog
	for _, id := range order {
		t, ok := byID[id]
		if !ok {
			if only == "" {
				continue
			}
			t = state.Task{Activity: id, Status: "not started"}
		}
		lines := t.Log
		if lines == nil {
			lines = []string{}
		}
		out = append(out, activityLog{Activity: id, Type: types[id], Status: string(t.Status), Error: t.Error, Lines: lines, Dropped: t.LogDropped})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"runId": runID, "status": run.Status, "activities": out})
		return 0
	}
	fmt.Fprintf(stdout, "run %s  campaign %s  %s\n", runID, run.CampaignID, strings.ToUpper(string(run.Status)))
	for _, a := range out {
		typ := ""
		if a.Type != "" {
			typ = a.Type + ", "
		}
		fmt.Fprintf(stdout, "\n== %s (%s%s)\n", a.Activity, typ, a.Status)
		if a.Dropped > 0 {
			fmt.Fprintf(stdout, "  (%d older lines dropped)\n", a.Dropped)
		}
		for _, line := range a.Lines {
			fmt.Fprintf(stdout, "  %s\n", escape(line))
		}
		if len(a.Lines) == 0 {
			fmt.Fprintln(stdout, "  (no log lines)")
		}
		if a.Error != "" {
			fmt.Fprintf(stdout, "  error: %s\n", escape(a.Error))
		}
	}
	return 0
}

// runErr says that a run cannot be read, and where the runs are listed.
func runErr(runID string, err error, home string) string {
	if errors.Is(err, state.ErrNotFound) {
		return fmt.Sprintf("run %q not found (`stepwise runs%s` lists the runs)", escape(runID), homeFlag(home))
	}
	return fmt.Sprintf("run %s: %v", escape(runID), err)
}
