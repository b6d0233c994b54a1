package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/stepwise-run/stepwise/shared/feedback"
)

func init() {
	register("feedback", command{summary: "import delivery events (SES, End User Messaging SMS) into message_feedback and the suppression list",
		usage: "feedback import [--home DIR] [--no-table] FILE", run: runFeedback})
}

func runFeedback(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "import" {
		if len(args) > 0 && isHelp(args[0]) {
			fmt.Fprintln(stdout, "usage: stepwise feedback import [--home DIR] [--no-table] FILE")
			return 0
		}
		fmt.Fprintln(stderr, "usage: stepwise feedback import [--home DIR] [--no-table] FILE")
		return 2
	}
	fs := newFlags("feedback import", stderr)
	home := fs.String("home", ".stepwise", "local state folder")
	noTable := fs.Bool("no-table", false, "update the suppression list only")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "stepwise feedback import: expected one file (JSON, JSON array or JSON lines of SES/SNS/EventBridge events)")
		return 2
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "stepwise feedback import: %v\n", err)
		return 1
	}
	recs, err := feedback.Parse(data)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise feedback import: %s: %v\n", pos[0], err)
		return 1
	}
	l, err := openHome(*home)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise feedback import: %v\n", err)
		return 1
	}
	defer l.Close()
	ctx := context.Background()
	suppressed, err := feedback.Apply(ctx, l.State, recs)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise feedback import: %v\n", err)
		return 1
	}
	var added int64
	if !*noTable {
		if added, err = l.AppendFeedback(ctx, recs); err != nil {
			fmt.Fprintf(stderr, "stepwise feedback import: %s: %v\n", feedback.Table, err)
			return 1
		}
	}
	byEvent := map[string]int{}
	for _, r := range recs {
		byEvent[string(r.Event)]++
	}
	names := make([]string, 0, len(byEvent))
	for k := range byEvent {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(stdout, "%d events:", len(recs))
	for _, n := range names {
		fmt.Fprintf(stdout, " %s %d", n, byEvent[n])
	}
	fmt.Fprintf(stdout, "\n%d addresses newly suppressed; %d new rows in %s\n", suppressed, added, feedback.Table)
	return 0
}
