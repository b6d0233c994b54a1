package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

func init() {
	register("preview", command{summary: "print rows of a transition of a run",
		usage: "preview [--home DIR] RUN_ID ACTIVITY[.PORT|.proofs] [--limit N]", run: runPreview})
}

func runPreview(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("preview", stderr)
	home := fs.String("home", ".stepwise", "local state folder")
	limit := fs.Int("limit", 20, "rows to print")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "stepwise preview: expected RUN_ID ACTIVITY[.PORT]")
		return 2
	}
	act, port, _ := strings.Cut(pos[1], ".")
	if port == "" {
		port = "out"
	}
	l, err := openHomeRead(*home)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise preview: %v\n", err)
		return 1
	}
	defer l.Close()
	ctx := context.Background()
	if port == "proofs" { // a test run's rendered messages (proof.go)
		return previewProofs(ctx, l, pos[0], act, stdout, stderr)
	}
	runID := pos[0]
	run, err := l.State.GetRun(ctx, runID)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise preview: %s\n", runErr(runID, err, *home))
		return 1
	}
	// The campaign's activities and ports, when the run's program is recorded.
	var order []string
	var declared []string
	if p, err := l.Program(ctx, run); err == nil {
		order, declared = p.Order, p.Ports[act]
	}
	task, err := l.State.GetTask(ctx, runID, act)
	if errors.Is(err, state.ErrNotFound) {
		ran := ranActivities(ctx, l.State, runID)
		if !slices.Contains(order, act) && order != nil || order == nil && !slices.Contains(ran, act) {
			fmt.Fprintf(stderr, "stepwise preview: run %s has no activity %q; its activities: %s\n", runID, escape(act), strings.Join(orOf(order, ran), ", "))
		} else {
			fmt.Fprintf(stderr, "stepwise preview: activity %s has not run in run %s (%s); those that ran: %s\n", act, runID, run.Status, strings.Join(ran, ", "))
		}
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "stepwise preview: run %s activity %s: %v\n", runID, act, err)
		return 1
	}
	var activated []string
	for p := range task.Ports {
		activated = append(activated, p)
	}
	sort.Strings(activated)
	ref, ok := task.Outputs[port]
	if !ok {
		if n, event := task.Ports[port]; event {
			fmt.Fprintf(stdout, "%s.%s carries an event without rows (count %d)\n", act, port, n)
			return 0
		}
		if declared != nil && !slices.Contains(declared, port) {
			fmt.Fprintf(stderr, "stepwise preview: activity %s has no port %q; its ports: %s (activated in run %s: %s)\n", act, escape(port), strings.Join(declared, ", "), runID, noneIfEmpty(activated))
			return 1
		}
		fmt.Fprintf(stderr, "stepwise preview: %s.%s was not activated in run %s (%s is %s); activated: %s\n", act, escape(port), runID, act, task.Status, noneIfEmpty(activated))
		return 1
	}
	eng, err := l.Engine()
	if err != nil {
		fmt.Fprintf(stderr, "stepwise preview: %v\n", err)
		return 1
	}
	page, err := eng.Preview(ctx, dataset.Ref(ref), *limit)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise preview: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	var head []string
	for _, c := range page.Columns {
		head = append(head, c.Name)
	}
	for i := range head {
		head[i] = escape(head[i])
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, row := range page.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cell(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "(%d of %d rows)\n", len(page.Rows), page.Total)
	return 0
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "∅"
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format("2006-01-02")
		}
		return x.Format(time.RFC3339)
	}
	s := escape(fmt.Sprint(v))
	if r := []rune(s); len(r) > 40 {
		s = string(r[:39]) + "…"
	}
	return s
}

// escape shows control characters (and invalid UTF-8) of data as Go escapes,
// so that a value cannot move the cursor, clear the screen or break the table.
func escape(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) < 0 {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, n := utf8.DecodeRuneInString(s[i:])
		w = n
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ranActivities lists the activities a run has tasks for, sorted.
func ranActivities(ctx context.Context, st state.Store, runID string) []string {
	tasks, _ := st.ListTasks(ctx, runID)
	var ids []string
	for _, t := range tasks {
		ids = append(ids, t.Activity)
	}
	sort.Strings(ids)
	return ids
}

func orOf(a, b []string) []string {
	if a != nil {
		return a
	}
	return b
}

func noneIfEmpty(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
