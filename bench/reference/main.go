// Command reference benchmarks Stepwise on the reference campaign against the
// "limit": the same data work as one hand-written DuckDB SQL script plus a
// plain Go loop rendering the same template. Both run as child processes so
// that wall time, CPU time and peak RSS are measured the same way.
//
//	go run ./bench/reference --sizes 100000,1000000 [--modes test,live] [--out bench/out]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stepwise-run/stepwise/shared/sampledata"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/template"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "limit" {
		if err := limit(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "limit:", err)
			os.Exit(1)
		}
		return
	}
	sizes := flag.String("sizes", "100000,1000000", "customer counts, comma-separated")
	modes := flag.String("modes", "test,live", "run modes: test renders and counts; live also writes the outbox")
	out := flag.String("out", "bench/out", "work folder (data is generated once per size and reused)")
	flag.IntVar(&repeat, "repeat", 1, "measure each side this many times and keep the fastest (shared machines are noisy)")
	flag.Parse()
	if err := run(*sizes, *modes, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// repeat is how many times each side is measured; the fastest run counts.
var repeat = 1

// measured is one child process run.
type measured struct {
	Wall, CPU time.Duration
	RSS       int64 // peak resident set, bytes
	Messages  int64
}

func run(sizes, modes, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bin := filepath.Join(out, "stepwise")
	fmt.Fprintln(os.Stderr, "building stepwise …")
	if b, err := exec.Command("go", "build", "-o", bin, "./cmd/stepwise").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, b)
	}
	fmt.Printf("%-9s %-5s | %9s %9s %8s | %9s %9s %8s | %6s %6s | %9s %s\n",
		"customers", "mode", "sw wall", "sw cpu", "sw rss", "lim wall", "lim cpu", "lim rss", "wall×", "cpu×", "msgs/s", "messages")
	// growth keeps each mode's figures by size, for the time ratio between sizes.
	type point struct {
		n    int
		wall time.Duration
		msgs int64
	}
	growth := map[string][]point{}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("size %q: %v", s, err)
		}
		dir, err := prepare(out, n)
		if err != nil {
			return err
		}
		for _, mode := range strings.Split(modes, ",") {
			home := filepath.Join(dir, "home-"+mode)
			os.RemoveAll(home)
			args := []string{"run", filepath.Join(dir, "reference.yaml"), "--json", "--wait", "skip", "--home", home}
			if mode == "test" {
				args = append(args, "--test")
			}
			// The two sides alternate (Stepwise, limit, Stepwise, …) so that both
			// see the same moments of a shared machine; the fastest of each counts,
			// and each pair's ratio is printed too.
			var sw, lim measured
			note := ""
			var pairs []string
			for i := 0; i < max(repeat, 1); i++ {
				os.RemoveAll(home) // each run starts from an empty home
				m, out, err := measure(bin, args...)
				if err != nil {
					return fmt.Errorf("stepwise %s at %d: %v\n%s", mode, n, err, out)
				}
				var runID string
				if m.Messages, runID, err = sentBySummary(out); err != nil {
					return err
				}
				// The limit uses the run's reference instant, so that
				// relative dates (30 days ago) cut at the same point.
				at, err := runStart(home, runID)
				if err != nil {
					return err
				}
				l, lo, err := measure(self, "limit", "--dir", dir, "--mode", mode, "--now", at.Format(time.RFC3339Nano))
				if err != nil {
					return fmt.Errorf("limit %s at %d: %v\n%s", mode, n, err, lo)
				}
				if i == 0 || m.Wall < sw.Wall {
					sw = m
				}
				// Each pair runs at one reference instant: the counts must agree.
				l.Messages, _ = strconv.ParseInt(strings.TrimSpace(lo), 10, 64)
				if l.Messages != m.Messages {
					note = fmt.Sprintf("  MISMATCH: run %d, limit sent %d, Stepwise %d", i+1, l.Messages, m.Messages)
				}
				if i == 0 || l.Wall < lim.Wall {
					lim = l
				}
				pairs = append(pairs, fmt.Sprintf("%.2f", m.Wall.Seconds()/l.Wall.Seconds()))
			}
			if len(pairs) > 1 {
				fmt.Printf("  pairs (Stepwise / limit, run by run): %s\n", strings.Join(pairs, " "))
			}
			fmt.Printf("%-9d %-5s | %9s %9s %8s | %9s %9s %8s | %6.2f %6.2f | %9.0f %d%s\n", n, mode,
				round(sw.Wall), round(sw.CPU), mb(sw.RSS), round(lim.Wall), round(lim.CPU), mb(lim.RSS),
				sw.Wall.Seconds()/lim.Wall.Seconds(), sw.CPU.Seconds()/lim.CPU.Seconds(),
				float64(sw.Messages)/sw.Wall.Seconds(), sw.Messages, note)
			growth[mode] = append(growth[mode], point{n, sw.Wall, sw.Messages})
		}
	}
	// The growth between consecutive sizes, measured in this same invocation.
	for _, mode := range strings.Split(modes, ",") {
		ps := growth[mode]
		for i := 1; i < len(ps); i++ {
			a, b := ps[i-1], ps[i]
			fmt.Printf("growth %s %d → %d: time ×%.1f for customers ×%.0f (messages ×%.1f)\n", mode, a.n, b.n,
				b.wall.Seconds()/a.wall.Seconds(), float64(b.n)/float64(a.n), float64(b.msgs)/float64(max(a.msgs, 1)))
		}
	}
	return nil
}

// prepare generates the sample data of a size once and lays out the campaign.
func prepare(out string, n int) (string, error) {
	dir, err := filepath.Abs(filepath.Join(out, fmt.Sprintf("size-%d", n)))
	if err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "purchases.parquet")); err != nil {
		fmt.Fprintf(os.Stderr, "generating %d customers …\n", n)
		start := time.Now()
		if err := sampledata.Generate(context.Background(), data, sampledata.Options{Customers: n}); err != nil {
			return "", err
		}
		fmt.Fprintf(os.Stderr, "  %s\n", round(time.Since(start)))
	}
	// The campaign, its template and the catalog come from examples/.
	for _, f := range []string{"reference.yaml", "catalog.yaml", "templates/reference.html"} {
		b, err := os.ReadFile(filepath.Join("examples", f))
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// measure runs a child process and reads its resource usage. Peak RSS is the
// child's own high-water mark (VmHWM), polled while it runs: the rusage of a
// waited child can carry its parent's children's maximum on Linux.
func measure(bin string, args ...string) (measured, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	var stdout strings.Builder
	cmd.Stdout = &stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return measured{}, "", err
	}
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if hwm := vmHWM(cmd.Process.Pid); hwm > peak.Load() {
				peak.Store(hwm)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	m := measured{Wall: time.Since(start), RSS: peak.Load()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		if m.RSS == 0 {
			m.RSS = ru.Maxrss * 1024
		}
	}
	return m, stdout.String(), err
}

// vmHWM reads a process's peak resident set from /proc (0 when unknown).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// sentBySummary adds the `out` counts of the email activities.
func sentBySummary(stdout string) (int64, string, error) {
	var s struct {
		RunID      string
		Status     string
		Activities map[string]struct{ Ports map[string]int64 }
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		return 0, "", fmt.Errorf("summary: %v: %s", err, stdout)
	}
	if s.Status != "succeeded" {
		return 0, "", fmt.Errorf("run %s", s.Status)
	}
	var n int64
	for _, id := range []string{"mailVip", "mailActive", "mailRest"} {
		n += s.Activities[id].Ports["out"]
	}
	return n, s.RunID, nil
}

// runStart reads the run's start, its reference instant, from the home's store.
func runStart(home, runID string) (time.Time, error) {
	st, err := boltstate.Open(filepath.Join(home, "state.db"))
	if err != nil {
		return time.Time{}, err
	}
	defer st.Close()
	r, err := st.GetRun(context.Background(), runID)
	if err != nil {
		return time.Time{}, err
	}
	return r.StartedAt.UTC(), nil
}

func round(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
func mb(b int64) string            { return fmt.Sprintf("%dMB", b>>20) }

// limitSQL is the reference campaign's data work written by hand: one script.
// $1 is now-30d, $2 now-365d; the %s are the parquet files.
const limitSQL = `
CREATE TABLE sel AS
WITH spend AS (
  SELECT customerId,
         sum(amount) AS total,
         count(*) FILTER (WHERE purchasedAt > $2) AS orders365,
         sum(amount) FILTER (WHERE purchasedAt > $2) AS spend365
  FROM read_parquet(%s) GROUP BY customerId),
lapsed AS (
  SELECT c.*, s.city, coalesce(p.orders365, 0) AS orders365, p.spend365
  FROM read_parquet(%s) c
  JOIN spend p ON p.customerId = c.customerId
  LEFT JOIN read_parquet(%s) s ON s.storeId = c.storeId
  WHERE c.lastPurchaseAt < $1 AND p.total >= 50),
dedup AS (
  SELECT * FROM lapsed
  QUALIFY row_number() OVER (PARTITION BY email ORDER BY spend365 DESC NULLS LAST, customerId) = 1),
vip AS (
  SELECT customerId FROM dedup WHERE spend365 >= 1000
  ORDER BY spend365 DESC NULLS LAST, customerId LIMIT 50000),
active AS (
  SELECT customerId FROM dedup WHERE orders365 >= 2 AND customerId NOT IN (SELECT customerId FROM vip)),
remaining AS (
  SELECT customerId FROM dedup WHERE customerId NOT IN (SELECT customerId FROM vip) AND customerId NOT IN (SELECT customerId FROM active)),
rest AS (
  SELECT customerId FROM remaining ORDER BY customerId LIMIT (SELECT floor(count(*) * 0.5) FROM remaining))
SELECT d.* FROM dedup d WHERE d.customerId IN (SELECT customerId FROM vip UNION ALL SELECT customerId FROM active UNION ALL SELECT customerId FROM rest)
  AND trim(coalesce(d.email, '')) <> '' AND d.emailOptIn`

// limit runs the hand-written script and renders every message in a plain loop.
func limit(args []string) error {
	fs := flag.NewFlagSet("limit", flag.ExitOnError)
	dir := fs.String("dir", "", "prepared size folder")
	mode := fs.String("mode", "test", "test or live")
	nowFlag := fs.String("now", "", "reference instant, RFC 3339 (default: now)")
	fs.Parse(args)
	ctx := context.Background()
	work, err := os.MkdirTemp("", "limit")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	eng, err := dataset.New(dataset.Options{WorkDir: work})
	if err != nil {
		return err
	}
	defer eng.Close()
	now := time.Now().UTC()
	if *nowFlag != "" {
		if now, err = time.Parse(time.RFC3339Nano, *nowFlag); err != nil {
			return err
		}
	}
	data := filepath.Join(*dir, "data")
	q := fmt.Sprintf(limitSQL, dataset.QuoteLiteral(filepath.Join(data, "purchases.parquet")),
		dataset.QuoteLiteral(filepath.Join(data, "customers.parquet")), dataset.QuoteLiteral(filepath.Join(data, "stores.parquet")))
	start := time.Now()
	if err := eng.Exec(ctx, q, now.AddDate(0, 0, -30), now.AddDate(0, 0, -365)); err != nil {
		return err
	}
	sqlTime := time.Since(start)
	src, err := os.ReadFile(filepath.Join(*dir, "templates", "reference.html"))
	if err != nil {
		return err
	}
	html, err := template.Parse(string(src), template.Options{HTML: true})
	if err != nil {
		return err
	}
	subject := template.MustParse("{{ recipient.firstName | default: 'Hello' }}, {{ params.discount }}% off", template.Options{})
	var w *bufio.Writer
	if *mode == "live" {
		f, err := os.Create(filepath.Join(work, "outbox.jsonl"))
		if err != nil {
			return err
		}
		defer f.Close()
		w = bufio.NewWriterSize(f, 1<<20)
		defer w.Flush()
	}
	params := map[string]any{"discount": int64(15)}
	var n int64
	err = eng.Query(ctx, 10000, func(b *dataset.Batch) error {
		for _, row := range b.Rows {
			rec := make(map[string]any, len(row))
			for i, c := range b.Columns {
				rec[c.Name] = row[i]
			}
			bind := template.Bindings{Recipient: rec, Params: params}
			bind.Message.UnsubscribeURL = "https://shop.example/u/" + rec["customerId"].(string)
			s, err := subject.Render(bind)
			if err != nil {
				return err
			}
			h, err := html.Render(bind)
			if err != nil {
				return err
			}
			if w != nil {
				line, _ := json.Marshal(map[string]string{"to": rec["email"].(string), "subject": s, "html": h})
				w.Write(line)
				w.WriteByte('\n')
			}
			n++
		}
		return nil
	}, "SELECT * FROM sel ORDER BY customerId")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "  limit: sql %s, render %s\n", round(sqlTime), round(time.Since(start)-sqlTime))
	fmt.Println(n)
	return nil
}
