// Command fused measures "fused local chains", an idea of docs/benchmarks.md:
// when one process runs a chain of targeting steps, keep each step's output as a
// DuckDB table for the next step (its Parquet record copied from the table)
// instead of reading back the files just written. It runs the reference
// campaign's targeting chain (build, enrichment, dedup, a split segment, and a
// channel plan's read of it) in one DuckDB, written narrow as Stepwise writes it
// (the key and the added columns; the customers joined back by key), three ways:
//
//   - files: every step reads the previous step's Parquet file (Stepwise today);
//   - memo-narrow: every step's narrow rows kept as a table, read from it;
//   - memo-wide: every step's full rows kept as a table (no join back), its
//     narrow columns copied to Parquet from it.
//
// Then the channel plan of the split segment (one wave, none skipped), two
// ways: a window numbering the joined rows in key order (before 2026-12-07),
// and the segment's own keys numbered, the joined rows sorted by their numbers
// (what the plan does now).
//
// Each variant's CPU time (the process's, DuckDB's threads included: a shared
// machine's load moves it far less than wall time) and wall time are printed,
// best of --repeat runs taken in turn, and the Parquet files of every variant
// are compared byte for byte with the first variant's.
//
//	go run ./bench/fused bench/out/size-1000000    # after bench/reference generated it
package main

import (
	"bytes"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	repeat := flag.Int("repeat", 3, "runs of each variant (taken in turn); the fastest counts")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: fused [--repeat N] SIZE-FOLDER (bench/out/size-N of bench/reference)")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *repeat); err != nil {
		fmt.Fprintln(os.Stderr, "fused:", err)
		os.Exit(1)
	}
}

// step is one transition: its name, the query of its full rows over {in} (the
// previous step's full rows), and the columns its narrow dataset keeps.
type step struct {
	name, query, keep string
}

func run(dir string, repeat int) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tmp, err := os.MkdirTemp("", "fused")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	exec := func(q string) error {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%.120s: %w", q, err)
		}
		return nil
	}
	for _, t := range []string{"customers", "purchases", "stores"} {
		if err := exec(fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM read_parquet('%s')", t, filepath.Join(dir, "data", t+".parquet"))); err != nil {
			return err
		}
	}
	now := time.Now().UTC()
	lapsed, year := now.AddDate(0, 0, -30).Format(time.RFC3339), now.AddDate(-1, 0, 0).Format(time.RFC3339)
	added := `"customerId", city, orders365, spend365`
	order := ` ORDER BY t."customerId" NULLS LAST, hash(t."customerId")`
	steps := []step{
		{"build", `SELECT t.* FROM customers t WHERE t.lastPurchaseAt < TIMESTAMPTZ '` + lapsed + `' AND t.customerId IN (SELECT customerId FROM purchases WHERE customerId IS NOT NULL GROUP BY customerId HAVING sum(amount) >= 50)` + order, `"customerId"`},
		{"enrich", `SELECT t.*, (SELECT max(s.city) FROM stores s WHERE s.storeId = t.storeId) AS city, CAST(coalesce(g.a0, 0) AS BIGINT) AS orders365, CAST(g.a1 AS DECIMAL(18,2)) AS spend365 FROM {in} t LEFT JOIN (SELECT customerId AS k0, count(*) FILTER (WHERE purchasedAt > TIMESTAMPTZ '` + year + `') AS a0, sum(amount) FILTER (WHERE purchasedAt > TIMESTAMPTZ '` + year + `') AS a1 FROM purchases l WHERE EXISTS (SELECT 1 FROM {keys} k WHERE k.customerId = l.customerId) GROUP BY customerId) g ON g.k0 = t.customerId` + order, added},
		{"dedup", `SELECT * FROM (SELECT t.* FROM {in} t QUALIFY row_number() OVER (PARTITION BY t.email ORDER BY t.spend365 DESC NULLS LAST, t."customerId" NULLS LAST, hash(t."customerId", t.city, t.orders365, t.spend365)) <= 1) t` + order, added},
		{"split", `SELECT t.* FROM {in} t WHERE coalesce(t.orders365 >= 2, false)` + order, added},
	}
	// The channel plan reads the segment: the template's columns in send order.
	plan := `SELECT count(*), sum(hash("customerId", firstName, email, signupAt, city, orders365, spend365, n)) FROM (SELECT t.*, row_number() OVER (ORDER BY t."customerId") AS n FROM {in} t)`
	z := " (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"
	// join reads a narrow relation joined to the customers, as a narrow dataset's view does.
	join := func(rel, keep string) string {
		var cols []string
		for _, c := range strings.Split(keep, ", ") {
			if c != `"customerId"` {
				cols = append(cols, "n."+c)
			}
		}
		sel := "b.*"
		if len(cols) > 0 {
			sel += ", " + strings.Join(cols, ", ")
		}
		return "(SELECT " + sel + " FROM " + rel + " AS n JOIN customers AS b ON n.\"customerId\" = b.\"customerId\")"
	}
	variants := []variant{
		{"files", func(out string) error {
			in := ""
			for i, s := range steps {
				q := strings.ReplaceAll(strings.ReplaceAll(s.query, "{keys}", "read_parquet('"+filepath.Join(out, steps[i-min(i, 1)].name+".parquet")+"')"), "{in}", in)
				f := filepath.Join(out, s.name+".parquet")
				if err := exec("COPY (SELECT " + s.keep + " FROM (" + q + ") q) TO '" + f + "'" + z); err != nil {
					return err
				}
				in = join("read_parquet('"+f+"')", s.keep)
			}
			return exec(strings.ReplaceAll(plan, "{in}", in))
		}},
		{"memo-narrow", func(out string) error {
			in := ""
			for i, s := range steps {
				q := strings.ReplaceAll(strings.ReplaceAll(s.query, "{keys}", "m_"+steps[i-min(i, 1)].name), "{in}", in)
				if err := exec("CREATE OR REPLACE TABLE m_" + s.name + " AS SELECT " + s.keep + " FROM (" + q + ") q"); err != nil {
					return err
				}
				if err := exec("COPY m_" + s.name + " TO '" + filepath.Join(out, s.name+".parquet") + "'" + z); err != nil {
					return err
				}
				in = join("m_"+s.name, s.keep)
			}
			return exec(strings.ReplaceAll(plan, "{in}", in))
		}},
		{"memo-wide", func(out string) error {
			in := ""
			for i, s := range steps {
				q := strings.ReplaceAll(strings.ReplaceAll(s.query, "{keys}", "w_"+steps[i-min(i, 1)].name), "{in}", in)
				if err := exec("CREATE OR REPLACE TABLE w_" + s.name + " AS " + q); err != nil {
					return err
				}
				if err := exec("COPY (SELECT " + s.keep + " FROM w_" + s.name + ") TO '" + filepath.Join(out, s.name+".parquet") + "'" + z); err != nil {
					return err
				}
				in = "w_" + s.name
			}
			return exec(strings.ReplaceAll(plan, "{in}", in))
		}},
	}
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.name
	}
	fmt.Println("the chain:")
	if err := measure(tmp, repeat, variants, names); err != nil {
		return err
	}

	// The channel plan of the segment (no quiet hours: one wave, none skipped):
	// the window over the joined rows, or the segment's own keys numbered.
	seg := filepath.Join(tmp, "files", "split.parquet")
	with := `WITH src AS (SELECT i.*, CAST(i.email AS VARCHAR) AS _sw_address, coalesce(TRY_CAST(i.emailOptIn AS BOOLEAN), false) AS _sw_consent, ` +
		`CAST(i.timezone AS VARCHAR) AS _sw_tz FROM ` + join("read_parquet('"+seg+"')", added) + ` AS i), ` +
		`ranked AS (SELECT src.*, TIMESTAMPTZ '` + now.Format(time.RFC3339) + `' AS _sw_wave, CAST(NULL AS VARCHAR) AS _sw_skip FROM src) `
	kept := `"customerId", firstName, email, signupAt, city, orders365, spend365, _sw_address, _sw_consent, _sw_tz, _sw_wave, _sw_skip, _sw_row`
	planOut := func(query string) func(string) error {
		return func(out string) error {
			return exec("COPY (SELECT " + kept + " FROM (" + query + ") q) TO '" + filepath.Join(out, "plan.parquet") + "'" +
				" (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE 16384)")
		}
	}
	plans := []variant{
		{"window", planOut(with + `SELECT *, row_number() OVER (ORDER BY _sw_skip IS NOT NULL, _sw_wave, "customerId", _sw_skip) - 1 AS _sw_row FROM ranked ORDER BY _sw_row`)},
		{"own-keys", planOut(with + `, o AS (SELECT "customerId", row_number() OVER (ORDER BY "customerId") - 1 AS _sw_row FROM read_parquet('` + seg + `')) ` +
			`SELECT ranked.*, o._sw_row FROM ranked JOIN o ON ranked."customerId" = o."customerId" ORDER BY o._sw_row`)},
	}
	fmt.Println("the plan of the segment:")
	return measure(tmp, repeat, plans, []string{"plan"})
}

// variant is one way of doing the work, writing its Parquet files in out.
type variant struct {
	name string
	run  func(out string) error
}

// measure runs the variants in turn, repeat times, prints each run's and the
// best CPU and wall time, and compares the files named (name.parquet) with
// the first variant's.
func measure(tmp string, repeat int, variants []variant, files []string) error {
	type best struct{ cpu, wall time.Duration }
	bests := make([]best, len(variants))
	for r := 0; r < repeat; r++ {
		for i, v := range variants {
			out := filepath.Join(tmp, v.name)
			os.RemoveAll(out)
			if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			c, w := cpuTime(), time.Now()
			if err := v.run(out); err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			dc, dw := cpuTime()-c, time.Since(w)
			fmt.Printf("  %-12s cpu %6.2fs  wall %6.2fs\n", v.name, dc.Seconds(), dw.Seconds())
			if bests[i].cpu == 0 || dc < bests[i].cpu {
				bests[i].cpu = dc
			}
			if bests[i].wall == 0 || dw < bests[i].wall {
				bests[i].wall = dw
			}
		}
	}
	for i, v := range variants {
		same := "same bytes as " + variants[0].name
		for _, f := range files {
			a, err1 := os.ReadFile(filepath.Join(tmp, variants[0].name, f+".parquet"))
			b, err2 := os.ReadFile(filepath.Join(tmp, v.name, f+".parquet"))
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				same = "DIFFERENT bytes at " + f
				break
			}
		}
		fmt.Printf("%-12s best cpu %6.2fs (×%.2f)  wall %6.2fs (×%.2f)  %s\n", v.name, bests[i].cpu.Seconds(), bests[i].cpu.Seconds()/bests[0].cpu.Seconds(),
			bests[i].wall.Seconds(), bests[i].wall.Seconds()/bests[0].wall.Seconds(), same)
	}
	return nil
}
