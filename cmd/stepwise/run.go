package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/local"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

func init() {
	register("run", command{summary: "run a campaign locally, end to end, with counts on every transition",
		usage: "run [--catalog FILE] CAMPAIGN [--test] [--param N=V]... [--json] [--wait real|skip|scale=N] [--engine duckdb|athena|auto] [--home DIR] [--file-root DIR|s3://B/P]...", run: runRun})
}

// paramFlags collects repeated --param NAME=VALUE.
type paramFlags map[string]any

func (p paramFlags) String() string { return "" }
func (p paramFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	p[k] = v
	return nil
}

func runRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	catalog := fs.String("catalog", "", "catalog file (default: catalog.yaml beside the campaign)")
	test := fs.Bool("test", false, "test mode: nothing is saved, updated or sent; channels render and count")
	asJSON := fs.Bool("json", false, "print one JSON summary when the run ends")
	wait := fs.String("wait", "real", "wait states: real, skip, or scale=N")
	home := fs.String("home", ".stepwise", "local state folder (datasets, runs, outbox)")
	key := fs.String("idempotency-key", "", "a run started twice with the same key is one run")
	fs.String("engine", "", "targeting engine for this run: duckdb, athena or auto (default: the catalog's)")
	params := paramFlags{}
	fs.Var(params, "param", "run parameter NAME=VALUE (repeatable)")
	var roots listFlag
	fs.Var(&roots, "file-root", fileRootUsage)
	p, rc := load(fs, args, catalog, stderr)
	if p == nil { // an error, or the usage asked for
		return rc
	}
	if printExampleDataHint(stderr, "run", p) {
		return 1
	}
	wm, err := interp.ParseWaitMode(*wait)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise run: --wait: %v\n", err)
		return 2
	}
	l, err := openHome(*home)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise run: %v\n", err)
		return 1
	}
	defer l.Close()
	if err := l.AllowFiles(roots...); err != nil {
		fmt.Fprintf(stderr, "stepwise run: --file-root: %v\n", err)
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	// An end activity's trigger: starts the other campaign's published version in this
	// home (published with serve), through the API's trigger path; those runs end
	// before the command does (Ctrl-C stops them).
	triggered := &local.Backend{L: l, WaitMode: wm, Logger: slog.New(slog.NewTextHandler(stderr, nil))}
	defer triggered.Close()
	triggered.SetTriggerer(api.NewServer(api.Options{Store: l.State, Bundles: l.Bundles, Executor: triggered, TriggerInterval: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	prog := newProgress(stderr, p, !*asJSON)
	prog.home = homeFlag(*home)
	sum, err := l.Run(ctx, p, executor.Options{Params: map[string]any(params), Test: *test, IdempotencyKey: *key, Wait: wm, Progress: prog.update})
	prog.close()
	go func() { <-ctx.Done(); triggered.StopAll() }()
	triggered.Wait(context.Background())
	return report("run", stdout, stderr, p, sum, err, *asJSON, l.Home)
}

// report prints the end of a run (a summary table or JSON, and the error)
// and returns the exit code.
func report(cmd string, stdout, stderr io.Writer, p *compile.Program, sum *runner.Summary, err error, asJSON bool, home string) int {
	if sum != nil {
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(sum)
		} else {
			printSummary(stdout, p, sum, home)
		}
	}
	if err != nil {
		if errors.Is(err, executor.ErrStopped) {
			if sum != nil && sum.Status == string(state.RunStopped) {
				fmt.Fprintf(stderr, "stepwise %s: stopped; run %s is recorded stopped\n", cmd, sum.RunID)
			} else if sum != nil && (sum.Status == string(state.RunSuspended) || sum.Status == string(state.RunRunning)) {
				fmt.Fprintf(stderr, "stepwise %s: interrupted: resume with `stepwise resume%s %s`\n", cmd, homeFlag(home), sum.RunID)
			} else if sum != nil {
				fmt.Fprintf(stderr, "stepwise %s: interrupted; run %s is %s\n", cmd, sum.RunID, sum.Status)
			} else {
				fmt.Fprintf(stderr, "stepwise %s: interrupted before the run started\n", cmd)
			}
			return 130
		}
		fmt.Fprintf(stderr, "stepwise %s: %v\n", cmd, err)
		if sum != nil && runner.Resumable(state.Run{ID: sum.RunID, Status: state.RunStatus(sum.Status), Reason: sum.Reason}) == nil {
			fmt.Fprintf(stderr, "the failure is transient: `stepwise resume --home %s %s` continues the run; nobody already sent to is sent again\n", home, sum.RunID)
		}
		return 1
	}
	if sum.Status != "succeeded" {
		return 1
	}
	return 0
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

const fileRootUsage = "a folder or s3://bucket/prefix/ load-file may read besides the campaign folder and the home's uploads (repeatable)"

// homeFlag is the --home argument to repeat in a hint ("" for the default).
func homeFlag(home string) string {
	if home == "" || home == ".stepwise" {
		return ""
	}
	if abs, err := filepath.Abs(".stepwise"); err == nil && abs == home {
		return ""
	}
	return " --home " + home
}

// openHome opens the local home (stores, outbox).
func openHome(home string) (*executor.Local, error) { return executor.Open(home) }

// openHomeRead opens the local home to read runs and tasks, also while
// another process runs or serves from it.
func openHomeRead(home string) (*executor.Local, error) { return executor.OpenRead(home) }

// printSummary prints the final table: every transition with its count.
func printSummary(w io.Writer, p *compile.Program, s *runner.Summary, home string) {
	mode := "live"
	if s.Test {
		mode = "test"
	}
	fmt.Fprintf(w, "\nrun %s  campaign %s  %s  %s\n\n", s.RunID, s.Campaign, mode, strings.ToUpper(s.Status))
	fmt.Fprintf(w, "  %-22s %-18s %-10s %s\n", "ACTIVITY", "TYPE", "STATUS", "TRANSITIONS")
	for _, id := range p.Order {
		a := s.Activities[id]
		status := a.Status
		if status == "" {
			status = "-"
		}
		var ports []string
		for _, port := range p.Ports[id] {
			if n, ok := a.Ports[port]; ok {
				ports = append(ports, fmt.Sprintf("%s=%d", port, n))
			}
		}
		fmt.Fprintf(w, "  %-22s %-18s %-10s %s\n", id, p.Specs[id].Type, status, strings.Join(ports, "  "))
		if a.Error != "" {
			fmt.Fprintf(w, "  %-22s error: %s\n", "", a.Error)
		}
	}
	if s.Reason != "" {
		fmt.Fprintf(w, "\nreason: %s\n", s.Reason)
	}
	fmt.Fprintf(w, "\nstate: %s   preview: stepwise preview --home %s %s ACTIVITY[.PORT]\n", home, home, s.RunID)
}

// progress shows live activity progress: a redrawn line per running activity
// on a terminal, plain lines otherwise.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	on      bool
	p       *compile.Program
	home    string // " --home DIR" for hints
	runID   string
	running map[string]time.Time
	notes   map[string]string    // a running activity's state: held, sending 10/300 …
	printed map[string]time.Time // when a sending line was last printed (not a terminal)
	done    chan struct{}
	frame   int
}

// sendingEvery spaces the sending lines when the output is not a terminal.
const sendingEvery = 10 * time.Second

func newProgress(w io.Writer, p *compile.Program, on bool) *progress {
	pr := &progress{w: w, p: p, on: on, running: map[string]time.Time{}, notes: map[string]string{}, printed: map[string]time.Time{}, done: make(chan struct{})}
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		pr.tty = true
		go pr.spin()
	}
	return pr
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (pr *progress) spin() {
	t := time.NewTicker(120 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-pr.done:
			return
		case <-t.C:
			pr.mu.Lock()
			pr.frame++
			pr.redraw()
			pr.mu.Unlock()
		}
	}
}

// redraw rewrites the status line (terminal only).
func (pr *progress) redraw() {
	if !pr.tty || !pr.on {
		return
	}
	var ids []string
	for id := range pr.running {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	line := ""
	if len(ids) > 0 {
		for i, id := range ids {
			if n := pr.notes[id]; n != "" {
				ids[i] = id + " (" + n + ")"
			}
		}
		line = fmt.Sprintf("%s running: %s", spinner[pr.frame%len(spinner)], strings.Join(ids, ", "))
	}
	fmt.Fprintf(pr.w, "\r\033[K%s", line)
}

// line prints a whole line above the status line.
func (pr *progress) line(format string, args ...any) {
	if pr.tty {
		fmt.Fprint(pr.w, "\r\033[K")
	}
	fmt.Fprintf(pr.w, format+"\n", args...)
	pr.redraw()
}

// hint is the line that says what a run waits for, and what to do.
func (pr *progress) hint(ev executor.Progress) string {
	run := pr.runID
	switch ev.Status {
	case executor.ProgressHeld:
		return fmt.Sprintf("held: confirm with `stepwise confirm%s %s %s`", pr.home, run, ev.Activity)
	case executor.ProgressReleased:
		return "confirmed: sending"
	case executor.ProgressSuspended:
		return fmt.Sprintf("suspended: fix and `stepwise resume%s %s` (%s)", pr.home, run, escape(ev.Reason))
	case executor.ProgressResumed:
		return "resumed"
	case executor.ProgressWaiting:
		return fmt.Sprintf("waiting until %s (%s)", untilText(ev.Until, ev.Time, pr.p.Campaign.Timezone), ev.Reason)
	case executor.ProgressSending:
		return sendingText(ev)
	}
	return ""
}

// untilText shows an instant in the campaign's time zone: the clock time,
// with the date when it is not the day of now.
func untilText(until, now time.Time, tz string) string {
	loc, err := campaign.LoadLocation(tz)
	if err != nil || tz == "" {
		loc, tz = time.UTC, "UTC"
	}
	u, n := until.In(loc), now.In(loc)
	if u.Year() == n.Year() && u.YearDay() == n.YearDay() {
		return u.Format("15:04") + " " + tz
	}
	return u.Format("Mon 2 Jan 15:04") + " " + tz
}

func sendingText(ev executor.Progress) string {
	s := fmt.Sprintf("sending %d/%d", ev.Done, ev.Total)
	if ev.Total > 0 {
		s += fmt.Sprintf(" (%d%%)", ev.Done*100/ev.Total)
	}
	return s + fmt.Sprintf(", %.1f/s", ev.Rate)
}

func (pr *progress) update(ev executor.Progress) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if ev.Status == executor.ProgressStarted {
		// Printed with --json too: the id is what confirm, stop and logs take.
		pr.runID = ev.RunID
		pr.line("run %s started: `stepwise logs%s %s` shows its logs, Ctrl-C interrupts it (resumable)", ev.RunID, pr.home, ev.RunID)
		return
	}
	if !pr.on {
		return
	}
	switch ev.Status {
	case executor.ProgressHeld, executor.ProgressReleased, executor.ProgressSuspended, executor.ProgressResumed, executor.ProgressWaiting:
		h := pr.hint(ev)
		pr.notes[ev.Activity] = ev.Status
		pr.line("%s   %-22s %s", ev.Time.Format("15:04:05"), ev.Activity, h)
		return
	case executor.ProgressSending:
		h := pr.hint(ev)
		pr.notes[ev.Activity] = h
		if pr.tty {
			pr.redraw()
			return
		}
		if last, ok := pr.printed[ev.Activity]; ok && ev.Time.Sub(last) < sendingEvery && ev.Done < ev.Total {
			return
		}
		pr.printed[ev.Activity] = ev.Time
		fmt.Fprintf(pr.w, "%s   %-22s %s\n", ev.Time.Format("15:04:05"), ev.Activity, h)
		return
	}
	if ev.Status == "running" {
		pr.running[ev.Activity] = ev.Time
		if !pr.tty {
			fmt.Fprintf(pr.w, "%s  %-22s running\n", ev.Time.Format("15:04:05"), ev.Activity)
		}
		pr.redraw()
		return
	}
	took := ""
	if t, ok := pr.running[ev.Activity]; ok {
		took = ev.Time.Sub(t).Round(time.Millisecond).String()
	}
	delete(pr.running, ev.Activity)
	delete(pr.notes, ev.Activity)
	delete(pr.printed, ev.Activity)
	var ports []string
	for _, port := range pr.p.Ports[ev.Activity] {
		if n, ok := ev.Counts[port]; ok {
			ports = append(ports, fmt.Sprintf("%s=%d", port, n))
		}
	}
	mark := map[string]string{"succeeded": "✓", "skipped": "-", "failed": "✗"}[ev.Status]
	if pr.tty {
		fmt.Fprint(pr.w, "\r\033[K")
	}
	fmt.Fprintf(pr.w, "%s %s %-22s %-9s %-8s %s\n", ev.Time.Format("15:04:05"), mark, ev.Activity, ev.Status, took, strings.Join(ports, "  "))
	pr.redraw()
}

func (pr *progress) close() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.tty {
		close(pr.done)
		if pr.on {
			fmt.Fprint(pr.w, "\r\033[K")
		}
	}
}
