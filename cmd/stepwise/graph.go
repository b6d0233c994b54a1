package main

import (
	"fmt"
	"io"

	"github.com/stepwise-run/stepwise/shared/canvas"
)

func init() {
	register("graph", command{summary: "draw the campaign canvas (Mermaid or DOT), with a run's counts",
		usage: "graph [--catalog FILE] CAMPAIGN [--run RUN_ID] [--format mermaid|dot|svg]", run: runGraph})
}

func runGraph(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("graph", stderr)
	catalog := fs.String("catalog", "", "catalog file (default: catalog.yaml beside the campaign)")
	format := fs.String("format", "mermaid", "mermaid, dot or svg")
	runID := fs.String("run", "", "show the counts of this run on the transitions")
	home := fs.String("home", ".stepwise", "local state folder")
	p, rc := load(fs, args, catalog, stderr)
	if p == nil { // an error, or the usage asked for
		return rc
	}
	var counts canvas.Counts
	var status map[string]string
	if *runID != "" {
		var err error
		counts, status, err = runCounts(*home, *runID)
		if err != nil {
			fmt.Fprintf(stderr, "stepwise graph: %v\n", err)
			return 1
		}
	}
	g := canvas.FromCampaign(p.Campaign, counts, status)
	switch *format {
	case "mermaid":
		fmt.Fprint(stdout, g.Mermaid())
	case "dot":
		fmt.Fprint(stdout, g.DOT())
	case "svg":
		fmt.Fprint(stdout, g.SVG(p.Levels))
	default:
		fmt.Fprintf(stderr, "stepwise graph: unknown format %q; valid: mermaid, dot, svg\n", *format)
		return 2
	}
	return 0
}
