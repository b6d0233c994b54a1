package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stepwise-run/stepwise/shared/dataset"
)

func init() {
	register("preview", command{summary: "print rows of a transition of a run",
		usage: "preview [--home DIR] RUN_ID ACTIVITY[.PORT] [--limit N]", run: runPreview})
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
	l, err := openHome(*home)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise preview: %v\n", err)
		return 1
	}
	defer l.Close()
	ctx := context.Background()
	task, err := l.State.GetTask(ctx, pos[0], act)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise preview: run %s activity %s: %v\n", pos[0], act, err)
		return 1
	}
	ref, ok := task.Outputs[port]
	if !ok {
		fmt.Fprintf(stderr, "stepwise preview: %s.%s was not activated in run %s (status %s)\n", act, port, pos[0], task.Status)
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
	s := fmt.Sprint(v)
	if len(s) > 40 {
		s = s[:39] + "…"
	}
	return s
}
