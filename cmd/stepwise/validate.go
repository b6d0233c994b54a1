package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
)

func init() {
	register("validate", command{summary: "check a campaign; exit 1 with every diagnostic if invalid",
		usage: "validate [--catalog FILE] CAMPAIGN", run: runValidate})
	register("compile", command{summary: "compile a campaign to Step Functions ASL",
		usage: "compile [--catalog FILE] CAMPAIGN [-o OUT.asl.json]", run: runCompile})
}

// newFlags returns a flag set that reports errors to stderr without exiting.
// Its usage (-h, --help) is the command's line of `stepwise help`, then its
// flags.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		if c, ok := commands[strings.Fields(name)[0]]; ok {
			fmt.Fprintf(w, "Usage: stepwise %s\n\n%s\n", c.usage, c.summary)
		}
		fmt.Fprintln(w, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// flagExit is the exit code of a failed parse: 0 when help was asked for
// (the usage is printed), 2 for a usage error.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// parseInterspersed parses flags that may follow positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// load compiles CAMPAIGN with its catalog and prints diagnostics.
func load(fs *flag.FlagSet, args []string, catalog *string, stderr io.Writer) (*compile.Program, int) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, flagExit(err)
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "stepwise %s: expected one campaign file\n", fs.Name())
		return nil, 2
	}
	if err := checkCatalogExists(pos[0], *catalog); err != nil {
		fmt.Fprintf(stderr, "stepwise %s: %v\n", fs.Name(), err)
		return nil, 1
	}
	engine := ""
	if f := fs.Lookup("engine"); f != nil { // run's per-run override
		engine = f.Value.String()
	}
	p, diags := builtin.CompileFilesEngine(pos[0], *catalog, engine)
	printDiags(stderr, diags)
	if diags.HasErrors() {
		return nil, 1
	}
	return p, 0
}

func printDiags(w io.Writer, diags campaign.Diagnostics) {
	for _, d := range diags {
		fmt.Fprintln(w, d.String())
	}
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", stderr)
	catalog := fs.String("catalog", "", "catalog file (default: catalog.yaml beside the campaign)")
	p, rc := load(fs, args, catalog, stderr)
	if p == nil { // an error, or the usage asked for
		return rc
	}
	fmt.Fprintln(stdout, api.ValidSummary(p.Campaign.File, len(p.Campaign.Activities)))
	printExampleDataHint(stderr, "validate", p) // valid all the same: a note
	return 0
}

func runCompile(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("compile", stderr)
	catalog := fs.String("catalog", "", "catalog file (default: catalog.yaml beside the campaign)")
	out := fs.String("o", "", "write the ASL to this file instead of stdout")
	p, rc := load(fs, args, catalog, stderr)
	if p == nil { // an error, or the usage asked for
		return rc
	}
	if *out == "" {
		stdout.Write(p.JSON)
		return 0
	}
	if err := os.WriteFile(*out, p.JSON, 0o644); err != nil {
		fmt.Fprintf(stderr, "stepwise compile: %v\n", err)
		return 1
	}
	return 0
}
