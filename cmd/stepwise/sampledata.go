package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/stepwise-run/stepwise/shared/sampledata"

	"github.com/stepwise-run/stepwise/shared/dataset"
)

func init() {
	register("sample-data", command{summary: "generate the demo data set (customers, purchases, stores as Parquet) and its catalog",
		usage: "sample-data --out DIR [--customers N] [--seed S] [--today D]", run: runSampleData})
}

func runSampleData(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sample-data", stderr)
	out := fs.String("out", "", "folder to write (created if needed)")
	customers := fs.Int("customers", 10000, "number of customers (about 4 purchases each; always 50 stores)")
	seed := fs.Uint64("seed", 0, "random seed: the same options give the same files")
	today := fs.String("today", "", "reference date of relative dates (signups, purchases), default today (UTC)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 0 || *out == "" {
		fmt.Fprintln(stderr, "stepwise sample-data: expected --out DIR and no other argument")
		return 2
	}
	if *customers <= 0 {
		fmt.Fprintln(stderr, "stepwise sample-data: --customers must be at least 1")
		return 2
	}
	o := sampledata.Options{Customers: *customers, Seed: *seed}
	if *today != "" {
		if o.Today, err = time.Parse(time.DateOnly, *today); err != nil {
			fmt.Fprintf(stderr, "stepwise sample-data: --today: want YYYY-MM-DD, got %q\n", *today)
			return 2
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	start := time.Now()
	if err := sampledata.Generate(ctx, *out, o); err != nil {
		fmt.Fprintf(stderr, "stepwise sample-data: %v\n", err)
		return 1
	}
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "wrote %s: %d customers, seed %d, in %s\n", *out, *customers, *seed, elapsed.Round(time.Millisecond))
	e, err := dataset.New(dataset.Options{WorkDir: os.TempDir(), Threads: 1})
	if err != nil {
		fmt.Fprintf(stderr, "stepwise sample-data: %v\n", err)
		return 1
	}
	defer e.Close()
	for _, name := range []string{"customers.parquet", "purchases.parquet", "stores.parquet", "catalog.yaml"} {
		p := filepath.Join(*out, name)
		fi, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(stderr, "stepwise sample-data: %v\n", err)
			return 1
		}
		rows := ""
		if filepath.Ext(name) == ".parquet" {
			row, err := e.QueryRow(ctx, "SELECT count(*) FROM read_parquet("+dataset.QuoteLiteral(p)+")")
			if err != nil {
				fmt.Fprintf(stderr, "stepwise sample-data: %s: %v\n", name, err)
				return 1
			}
			rows = fmt.Sprintf("%d rows", row[0])
		}
		fmt.Fprintf(stdout, "  %-18s %12s %10s\n", name, rows, byteSize(fi.Size()))
	}
	fmt.Fprintf(stdout, "catalog: %s\n", filepath.Join(*out, "catalog.yaml"))
	return 0
}

// byteSize formats a file size for people.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
