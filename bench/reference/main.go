// Command reference benchmarks Stepwise against the "limit" on the bench
// campaigns: the reference campaign (examples/reference.yaml) and those of
// bench/campaigns. The limit is each campaign's data work as one
// hand-written DuckDB statement streamed into a plain Go loop that renders
// the same templates and unsubscribe links (limit.go). Every side runs as a
// child process so that wall time, CPU time and peak RSS are measured the
// same way.
//
//	go run ./bench/reference --sizes 100000,1000000 [--modes test,live] [--campaigns reference,segments,leads] [--repeat 2]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/bench/procstat"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/sampledata"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "limit" {
		if err := limit(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "limit:", err)
			os.Exit(1)
		}
		return
	}
	var names []string
	for _, c := range campaigns {
		names = append(names, c.Name)
	}
	sizes := flag.String("sizes", "100000,1000000", "customer counts, comma-separated")
	modes := flag.String("modes", "test", "run modes: test renders and counts; live also writes the outbox")
	which := flag.String("campaigns", strings.Join(names, ","), "bench campaigns, comma-separated")
	out := flag.String("out", "bench/out", "work folder (data is generated once per size and reused)")
	flag.IntVar(&repeat, "repeat", 1, "measure each side this many times and keep the fastest (shared machines are noisy)")
	flag.Parse()
	if err := run(*sizes, *modes, *which, *out); err != nil {
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
	Note      string           // the limit's account of where its time went
	Counts    map[string]int64 // the transitions side's, by port
}

// row is one campaign, size and mode, measured.
type row struct {
	campaign, mode string
	n              int
	sw, lim, floor measured
	trans          measured // every transition computed and counted, then rendered
	sqlOnly        measured
	pairs          []string
	note           string
}

func run(sizes, modes, which, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var bcs []*benchCampaign
	for _, name := range strings.Split(which, ",") {
		bc, ok := campaignNamed(strings.TrimSpace(name))
		if !ok {
			return fmt.Errorf("--campaigns: unknown campaign %q", name)
		}
		bcs = append(bcs, bc)
	}
	bin := filepath.Join(out, "stepwise")
	fmt.Fprintln(os.Stderr, "building stepwise …")
	if b, err := exec.Command("go", "build", "-o", bin, "./cmd/stepwise").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, b)
	}
	fmt.Printf("load average at start: %s\n", loadAvg())
	var rows []row
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("size %q: %v", s, err)
		}
		dir, err := prepare(out, n, bcs)
		if err != nil {
			return err
		}
		for _, bc := range bcs {
			for _, mode := range strings.Split(modes, ",") {
				r, err := measureCampaign(bin, self, dir, bc, mode, n)
				if err != nil {
					return err
				}
				rows = append(rows, r)
				printRow(r)
			}
		}
	}
	printSummary(rows)
	fmt.Printf("load average at end: %s (on %d cores)\n", loadAvg(), runtime.NumCPU())
	return nil
}

// loadAvg is /proc/loadavg's 1, 5 and 15 minute figures: a busy machine
// stretches wall times (compare the CPU columns and the ratios then).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// measureCampaign measures one campaign at one size and mode. The sides
// alternate (Stepwise, limit, floor, Stepwise, …) so that they see the same
// moments of a shared machine; the fastest of each counts, and each pair's
// ratio is kept too.
func measureCampaign(bin, self, dir string, bc *benchCampaign, mode string, n int) (row, error) {
	r := row{campaign: bc.Name, mode: mode, n: n}
	home := filepath.Join(dir, "home-"+bc.Name+"-"+mode)
	args := []string{"run", filepath.Join(dir, bc.File), "--json", "--wait", "skip", "--home", home}
	if mode == "test" {
		args = append(args, "--test")
	}
	for i := 0; i < max(repeat, 1); i++ {
		os.RemoveAll(home) // each run starts from an empty home
		m, stdout, stderr, err := measure(bin, args...)
		if err != nil {
			return r, fmt.Errorf("stepwise %s %s at %d: %v\n%s%s", bc.Name, mode, n, err, stdout, stderr)
		}
		var runID string
		if m.Messages, runID, err = sentBySummary(stdout, bc.Emails); err != nil {
			return r, fmt.Errorf("stepwise %s %s at %d: %v\n%s", bc.Name, mode, n, err, stderr)
		}
		ports, err := portCounts(stdout)
		if err != nil {
			return r, err
		}
		// The limit uses the run's reference instant, so that relative
		// dates (30 days ago) cut at the same point.
		at, err := runStart(home, runID)
		if err != nil {
			return r, err
		}
		limitArgs := []string{"limit", "--dir", dir, "--campaign", bc.Name, "--mode", mode, "--run", runID, "--now", at.Format(time.RFC3339Nano)}
		if i == 0 {
			// The statement alone, once: it writes the selection the floor reads.
			if r.sqlOnly, err = measureLimit(self, append(limitArgs, "--part", "sql")); err != nil {
				return r, err
			}
		}
		l, err := measureLimit(self, append(limitArgs, "--part", "all"))
		if err != nil {
			return r, err
		}
		f, err := measureLimit(self, append(limitArgs, "--part", "floor"))
		if err != nil {
			return r, err
		}
		tr, err := measureLimit(self, append(limitArgs, "--part", "transitions"))
		if err != nil {
			return r, err
		}
		if d := countsDiffer(ports, tr.Counts); d != "" {
			r.note += fmt.Sprintf("  MISMATCH: run %d, transitions side: %s", i+1, d)
		}
		// Each pair runs at one reference instant: the counts must agree.
		for _, x := range []struct {
			what string
			got  int64
		}{{"limit", l.Messages}, {"statement", r.sqlOnly.Messages}, {"floor", f.Messages}, {"transitions side", tr.Messages}} {
			if x.got != m.Messages {
				r.note += fmt.Sprintf("  MISMATCH: run %d, %s %d messages, Stepwise %d", i+1, x.what, x.got, m.Messages)
			}
		}
		if i == 0 || m.Wall < r.sw.Wall {
			r.sw = m
		}
		if i == 0 || l.Wall < r.lim.Wall {
			r.lim = l
		}
		if i == 0 || f.Wall < r.floor.Wall {
			r.floor = f
		}
		if i == 0 || tr.Wall < r.trans.Wall {
			r.trans = tr
		}
		r.pairs = append(r.pairs, fmt.Sprintf("%.2f", m.Wall.Seconds()/l.Wall.Seconds()))
	}
	if b := r.sqlOnly.Wall + r.floor.Wall; r.lim.Wall.Seconds() > 1.5*b.Seconds() {
		r.note += fmt.Sprintf("  NOT THE LIMIT: %.2f× the statement alone + render", r.lim.Wall.Seconds()/b.Seconds())
	}
	return r, nil
}

// measureLimit runs the limit child and reads its message count and account.
func measureLimit(self string, args []string) (measured, error) {
	m, stdout, stderr, err := measure(self, args...)
	if err != nil {
		return m, fmt.Errorf("%v: %v\n%s", args, err, stderr)
	}
	first, counts, _ := strings.Cut(strings.TrimSpace(stdout), "\n")
	if m.Messages, err = strconv.ParseInt(first, 10, 64); err != nil {
		return m, fmt.Errorf("%v: output %q", args, stdout)
	}
	if counts != "" {
		if err := json.Unmarshal([]byte(counts), &m.Counts); err != nil {
			return m, fmt.Errorf("%v: counts %q: %v", args, counts, err)
		}
	}
	m.Note = strings.TrimSpace(stderr)
	return m, nil
}

const header = "%-9s %-9s %-4s | %8s %8s %7s | %8s %8s %7s | %5s %5s | %8s %8s %5s | %8s %s\n"

// fields are a row's columns of the table (header's).
func (r row) fields() []any {
	bound := r.sqlOnly.Wall + r.floor.Wall
	return []any{r.campaign, strconv.Itoa(r.n), r.mode,
		round(r.sw.Wall), round(r.sw.CPU), mb(r.sw.RSS), round(r.lim.Wall), round(r.lim.CPU), mb(r.lim.RSS),
		fmt.Sprintf("%.2f", r.sw.Wall.Seconds()/r.lim.Wall.Seconds()), fmt.Sprintf("%.2f", r.sw.CPU.Seconds()/r.lim.CPU.Seconds()),
		round(r.sqlOnly.Wall), round(r.floor.Wall), fmt.Sprintf("%.2f", r.lim.Wall.Seconds()/bound.Seconds()),
		strconv.FormatInt(r.sw.Messages, 10), r.note}
}

func printRow(r row) {
	fmt.Printf(header, r.fields()...)
	fmt.Printf("    pairs (Stepwise / limit, run by run): %s\n", strings.Join(r.pairs, " "))
	fmt.Printf("    statement alone %s wall, %s CPU; read the selection and render (floor) %s wall, %s CPU\n",
		round(r.sqlOnly.Wall), round(r.sqlOnly.CPU), round(r.floor.Wall), round(r.floor.CPU))
	fmt.Printf("    %s\n", r.lim.Note)
	fmt.Printf("    every transition computed and counted, then rendered: %s wall, %s CPU, %s; Stepwise / it %.2f wall %.2f CPU; it / the limit %.2f wall %.2f CPU\n",
		round(r.trans.Wall), round(r.trans.CPU), mb(r.trans.RSS), r.sw.Wall.Seconds()/r.trans.Wall.Seconds(), r.sw.CPU.Seconds()/r.trans.CPU.Seconds(),
		r.trans.Wall.Seconds()/r.lim.Wall.Seconds(), r.trans.CPU.Seconds()/r.lim.CPU.Seconds())
}

// printSummary prints the table again, in one piece, and the growth of both
// sides between consecutive sizes, all measured in this invocation.
func printSummary(rows []row) {
	fmt.Println()
	fmt.Println("lim/b: the limit's wall over its bound, the statement alone plus reading its selection and rendering it (≤ 1.5: the limit is one SQL statement + render)")
	fmt.Printf(header, "campaign", "customers", "mode", "sw wall", "sw cpu", "sw rss", "lim wall", "lim cpu", "lim rss",
		"wall×", "cpu×", "sql", "render", "lim/b", "messages", "")
	for _, r := range rows {
		fmt.Printf(header, r.fields()...)
	}
	fmt.Println()
	fmt.Println("every transition: each port's population computed once as an in-memory table and counted, then the same render (what reporting every count costs on its own)")
	const th = "%-9s %-9s %-4s | %8s %8s %7s | %7s %7s | %7s %7s\n"
	fmt.Printf(th, "campaign", "customers", "mode", "tr wall", "tr cpu", "tr rss", "sw/tr w", "sw/tr c", "tr/lim w", "tr/lim c")
	for _, r := range rows {
		fmt.Printf(th, r.campaign, strconv.Itoa(r.n), r.mode, round(r.trans.Wall), round(r.trans.CPU), mb(r.trans.RSS),
			fmt.Sprintf("%.2f", r.sw.Wall.Seconds()/r.trans.Wall.Seconds()), fmt.Sprintf("%.2f", r.sw.CPU.Seconds()/r.trans.CPU.Seconds()),
			fmt.Sprintf("%.2f", r.trans.Wall.Seconds()/r.lim.Wall.Seconds()), fmt.Sprintf("%.2f", r.trans.CPU.Seconds()/r.lim.CPU.Seconds()))
	}
	for i, b := range rows {
		for _, a := range rows[:i] {
			if a.campaign != b.campaign || a.mode != b.mode || a.n >= b.n {
				continue
			}
			// Only consecutive sizes: no measured size between a and b.
			between := false
			for _, c := range rows {
				if c.campaign == a.campaign && c.mode == a.mode && c.n > a.n && c.n < b.n {
					between = true
				}
			}
			if between {
				continue
			}
			fmt.Printf("growth %s %s %d → %d (×%.0f customers): Stepwise ×%.1f wall ×%.1f CPU, limit ×%.1f wall ×%.1f CPU, messages ×%.1f\n",
				a.campaign, a.mode, a.n, b.n, float64(b.n)/float64(a.n),
				b.sw.Wall.Seconds()/a.sw.Wall.Seconds(), b.sw.CPU.Seconds()/a.sw.CPU.Seconds(),
				b.lim.Wall.Seconds()/a.lim.Wall.Seconds(), b.lim.CPU.Seconds()/a.lim.CPU.Seconds(),
				float64(b.sw.Messages)/float64(max(a.sw.Messages, 1)))
		}
	}
}

// prepare generates the sample data of a size once (in out/size-N) and
// lays out the campaigns and their input files.
func prepare(out string, n int, bcs []*benchCampaign) (string, error) {
	dir, err := filepath.Abs(filepath.Join(out, fmt.Sprintf("size-%d", n)))
	if err != nil {
		return "", err
	}
	return dir, layout(dir, n, time.Time{}, bcs)
}

// layout writes n sample customers (anchored at today; zero: now) into
// dir/data unless there already, then the campaigns' files.
func layout(dir string, n int, today time.Time, bcs []*benchCampaign) error {
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "purchases.parquet")); err != nil {
		fmt.Fprintf(os.Stderr, "generating %d customers …\n", n)
		start := time.Now()
		if err := sampledata.Generate(context.Background(), data, sampledata.Options{Customers: n, Today: today}); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "  %s\n", round(time.Since(start)))
	}
	for _, bc := range bcs {
		for _, f := range bc.Copy {
			b, err := os.ReadFile(filepath.Join(repoRoot(), f[1]))
			if err != nil {
				return err
			}
			dst := filepath.Join(dir, f[0])
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				return err
			}
		}
		if bc.Prepare != nil {
			if err := bc.Prepare(dir); err != nil {
				return fmt.Errorf("%s: %v", bc.Name, err)
			}
		}
	}
	return nil
}

// repoRoot is the repository's top folder: the working directory of
// `go run ./bench/reference`, two levels up from `go test`'s.
func repoRoot() string {
	if _, err := os.Stat("go.mod"); err == nil {
		return "."
	}
	return filepath.Join("..", "..")
}

// measure runs a child process and reads its resource usage. Peak RSS is the
// child's own high-water mark (VmHWM), polled while it runs: the rusage of a
// waited child can carry its parent's children's maximum on Linux.
func measure(bin string, args ...string) (measured, string, string, error) {
	cmd := exec.Command(bin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	u, err := procstat.Run(cmd, 20*time.Millisecond)
	return measured{Wall: u.Wall, CPU: u.CPU, RSS: u.RSS}, stdout.String(), stderr.String(), err
}

// sentBySummary adds the `out` counts of the email activities.
func sentBySummary(stdout string, emails []string) (int64, string, error) {
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
	for _, id := range emails {
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
