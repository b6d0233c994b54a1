package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/catalogguess"
)

func init() {
	register("catalog", command{summary: "write a starting catalog for data files: types, and guessed keys, links and targeting to correct",
		usage: "catalog init FILES... [--out catalog.yaml] [--force] [--sample N]", run: runCatalog})
}

func runCatalog(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		newFlags("catalog", stderr).Usage()
		return 0
	}
	if len(args) == 0 || args[0] != "init" {
		fmt.Fprintln(stderr, "stepwise catalog: expected: catalog init FILES... [--out catalog.yaml] [--force] [--sample N]")
		return 2
	}
	fs := newFlags("catalog init", stderr)
	out := fs.String("out", "catalog.yaml", "catalog file to write; - writes to stdout")
	force := fs.Bool("force", false, "overwrite the catalog file if it exists")
	sample := fs.Int("sample", catalogguess.DefaultSample, "rows read from each file to guess types, keys and link cardinalities")
	files, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return flagExit(err)
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "stepwise catalog init: expected one or more local files (.parquet, .csv, .tsv, .jsonl)")
		return 2
	}
	if *sample < 1 {
		fmt.Fprintln(stderr, "stepwise catalog init: --sample must be at least 1")
		return 2
	}
	target := *out
	if target == "-" {
		target = "catalog.yaml" // sources are written relative to the working folder
	} else if _, err := os.Stat(target); err == nil && !*force {
		fmt.Fprintf(stderr, "stepwise catalog init: %s exists; --force overwrites it, --out names another file\n", target)
		return 1
	} else if err != nil && !errors.Is(err, errNotExist) {
		fmt.Fprintf(stderr, "stepwise catalog init: %v\n", err)
		return 1
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	e, err := dataset.New(dataset.Options{WorkDir: os.TempDir(), Threads: 1})
	if err != nil {
		fmt.Fprintf(stderr, "stepwise catalog init: %v\n", err)
		return 1
	}
	defer e.Close()
	res, err := catalogguess.Guess(ctx, files, catalogguess.Options{Out: target, Sample: *sample, Engine: e})
	if err != nil {
		fmt.Fprintf(stderr, "stepwise catalog init: %v\n", err)
		return 1
	}
	if *out == "-" {
		stdout.Write(res.YAML)
		return 0
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		fmt.Fprintf(stderr, "stepwise catalog init: %v\n", err)
		return 1
	}
	if err := os.WriteFile(target, res.YAML, 0o644); err != nil {
		fmt.Fprintf(stderr, "stepwise catalog init: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s: %d tables\n", target, len(res.Tables))
	for _, t := range res.Tables {
		types := "types read from the file"
		if t.Guessed {
			types = "types guessed"
		}
		fmt.Fprintf(stdout, "  %-20s key %-16s %3d columns, %s\n", t.Name, t.Key, len(t.Columns), types)
	}
	fmt.Fprintln(stdout, "check the lines marked \"guessed\", then: stepwise validate --catalog "+shellWord(target)+" CAMPAIGN")
	return 0
}

var errNotExist = fs.ErrNotExist
