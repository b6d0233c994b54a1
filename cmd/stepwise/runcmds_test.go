package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain é ✓":       "plain é ✓",
		"red\x1b[31m":     `red\x1b[31m`,
		"a\tb\nc\rd":      `a\tb\nc\rd`,
		"bad\xffutf8":     `bad\xffutf8`,
		"\u0085next line": `\u0085next line`,
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := cell(strings.Repeat("é", 50)); got != strings.Repeat("é", 39)+"…" {
		t.Errorf("a long cell is cut on a character: %q", got)
	}
}

func TestUntilText(t *testing.T) {
	now := time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC) // 23:30 in Paris
	for _, c := range []struct {
		until time.Time
		tz    string
		want  string
	}{
		{time.Date(2026, 3, 1, 22, 45, 0, 0, time.UTC), "Europe/Paris", "23:45 Europe/Paris"},
		{time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC), "Europe/Paris", "Mon 2 Mar 08:00 Europe/Paris"},
		{time.Date(2026, 3, 1, 23, 15, 0, 0, time.UTC), "", "23:15 UTC"},
	} {
		if got := untilText(c.until, now, c.tz); got != c.want {
			t.Errorf("untilText(%v, %q) = %q, want %q", c.until, c.tz, got, c.want)
		}
	}
}

// preview and logs name what exists when asked for what does not, and
// show data with control characters escaped.
func TestPreviewAndLogsMessages(t *testing.T) {
	data, home := visibleData(t)
	os.WriteFile(filepath.Join(data, "in.csv"), []byte("customerId\n\"c\x1b[2J1\"\nc2\n"), 0o644)
	out, errOut, code := stepwise(t, "run", filepath.Join(data, "suspend.yaml"), "--home", home, "--wait", "skip", "--param", "file=in.csv", "--json")
	if code != 0 {
		t.Fatalf("run: %d %s", code, errOut)
	}
	run := regexp.MustCompile(`"runId": "([^"]+)"`).FindStringSubmatch(out)[1]
	if !strings.HasPrefix(errOut, "run "+run+" started: ") {
		t.Errorf("the run id is printed first, with --json too: %q", errOut)
	}
	check := func(wantCode int, wantOut, wantErr string, args ...string) {
		t.Helper()
		out, errOut, code := stepwise(t, append(args, "--home", home)...)
		if code != wantCode || !strings.Contains(out, wantOut) || !strings.Contains(errOut, wantErr) {
			t.Errorf("%v: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", args, code, wantCode, out, wantOut, errOut, wantErr)
		}
	}
	check(1, "", `stepwise preview: run `+run+` has no activity "nope"; its activities: load, note`+"\n", "preview", run, "nope")
	check(1, "", `stepwise preview: activity load has no port "nope"; its ports: out, rejects (activated in run `+run+`: out, rejects)`+"\n", "preview", run, "load.nope")
	check(1, "", `stepwise preview: run "nada" not found (`+"`stepwise runs --home "+home+"`"+` lists the runs)`, "preview", "nada", "load")
	check(0, `c\x1b[2J1`, "", "preview", run, "load")
	check(0, "== note (alert, succeeded)\n  ALERT loaded: the file is in (2 rows)\n", "", "logs", run)
	check(0, "== load (load-file, succeeded)\n", "", "logs", run)
	check(1, "", `stepwise logs: run `+run+` has no activity "nope"; its activities: load, note`, "logs", run, "nope")
	check(1, "", `stepwise stop: run `+run+` is already succeeded: there is nothing to stop`, "stop", run)
}

// `stepwise stop` reaches the process that executes the run: it ends the run,
// recorded stopped.
func TestStopLiveRun(t *testing.T) {
	home := t.TempDir()
	cmd := exec.Command(binary, "run", "testdata/longwait.yaml", "--home", home, "--wait", "real")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(stderr)
	var run string
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if m := regexp.MustCompile(`^run (\S+) started`).FindStringSubmatch(sc.Text()); m != nil {
			run = m[1]
		}
		if regexp.MustCompile(`pause\s+waiting until .* UTC \(wait\)$`).MatchString(sc.Text()) {
			break
		}
	}
	if run == "" {
		t.Fatalf("no run id, or no wait:\n%s", strings.Join(lines, "\n"))
	}
	rest := make(chan string)
	go func() { b, _ := io.ReadAll(stderr); rest <- string(b) }()
	out, errOut, code := stepwise(t, "stop", "--home", home, run)
	if code != 0 || !regexp.MustCompile(`^run `+run+` stopped: process \d+ ended it; it cannot be resumed.\n$`).MatchString(out) {
		t.Fatalf("stop: %d %q %s", code, out, errOut)
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("the stopped run's process exited %d", code)
	}
	if tail := <-rest; !strings.Contains(tail, "stepwise run: stopped; run "+run+" is recorded stopped\n") {
		t.Errorf("the run's process says: %s", tail)
	}
	runs, _, _ := stepwise(t, "runs", "--home", home)
	if !regexp.MustCompile(run + `\s+long-wait\s+stopped .*stopped with ` + "`stepwise stop`").MatchString(runs) {
		t.Errorf("not recorded stopped:\n%s", runs)
	}
}

// A paced send reports its progress (done/total, rate) while it runs; on a
// pipe, as plain lines.
func TestRunShowsSending(t *testing.T) {
	_, home, campaign := sampleHome(t)
	_, errOut, code := stepwise(t, "run", campaign, "--home", home, "--wait", "skip")
	if code != 0 {
		t.Fatalf("run: %d %s", code, errOut)
	}
	if !regexp.MustCompile(`(?s)first\s+running\n.*first\s+sending ([1-9]|[12]\d)/30 \(\d+%\), \d+\.\d/s\n.*✓ first\s+succeeded`).MatchString(errOut) {
		t.Errorf("no sending progress:\n%s", errOut)
	}
}
