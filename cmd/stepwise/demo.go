package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/stepwise-run/stepwise/shared/sampledata"

	"github.com/stepwise-run/stepwise/examples"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/local/executor"
)

func init() {
	register("demo", command{summary: "generate sample data and run the win-back example end to end",
		usage: "demo [--home DIR] [--dir DIR] [--customers N] [--test]", run: runDemo})
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", stderr)
	home := fs.String("home", ".stepwise", "local state folder")
	customers := fs.Int("customers", 20000, "customers in the generated sample data")
	test := fs.Bool("test", false, "test mode: render and count, send nothing")
	demoDir := fs.String("dir", "", "folder of the examples' copy and sample data (default: stepwise-demo beside the home; campaigns cannot read files inside a home)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return flagExit(err)
	}
	dir := *demoDir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(filepath.Clean(*home)), "stepwise-demo")
	}
	if err := writeExamples(dir); err != nil {
		fmt.Fprintf(stderr, "stepwise demo: %v\n", err)
		return 1
	}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "customers.parquet")); err != nil {
		fmt.Fprintf(stdout, "generating sample data: %d customers → %s\n", *customers, data)
		start := time.Now()
		if err := sampledata.Generate(context.Background(), data, sampledata.Options{Customers: *customers}); err != nil {
			fmt.Fprintf(stderr, "stepwise demo: sample data: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "  done in %s\n", time.Since(start).Round(time.Millisecond))
	}
	campaignFile := filepath.Join(dir, "winback.yaml")
	fmt.Fprintf(stdout, "running %s (compiled to Step Functions ASL, interpreted in-process)\n\n", campaignFile)
	p, diags := builtin.CompileFiles(campaignFile, "")
	printDiags(stderr, diags)
	if diags.HasErrors() {
		return 1
	}
	l, err := openHome(*home)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise demo: %v\n", err)
		return 1
	}
	defer l.Close()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	prog := newProgress(stderr, p, true)
	sum, err := l.Run(ctx, p, executor.Options{Test: *test, Wait: interp.WaitSkip, Progress: prog.update})
	prog.close()
	if sum != nil {
		printSummary(stdout, p, sum, l.Home)
		fmt.Fprintf(stdout, "outbox:  %s\n", filepath.Join(l.Home, "outbox"))
		fmt.Fprintf(stdout, "canvas:  stepwise graph --home %s --run %s --format svg %s > winback.svg\n", *home, sum.RunID, campaignFile)
	}
	if err != nil {
		fmt.Fprintf(stderr, "stepwise demo: %v\n", err)
		return 1
	}
	return 0
}

// writeExamples copies the embedded examples into dir (existing files are kept).
func writeExamples(dir string) error {
	return fs.WalkDir(examples.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, path)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if _, err := os.Stat(dst); err == nil {
			return nil
		}
		data, err := examples.FS.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}
