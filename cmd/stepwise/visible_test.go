package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyRun is `stepwise ARGS` on a terminal: its output, redraws of the status
// line and colour codes removed, arrives line by line.
type ptyRun struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	seen  []string
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

func startPTY(t *testing.T, dir string, args ...string) *ptyRun {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 400})
	if err != nil {
		t.Fatal(err)
	}
	r := &ptyRun{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := ansi.ReplaceAllString(sc.Text(), "")
			// A redrawn status line: the text after the last carriage return.
			if i := strings.LastIndex(strings.TrimRight(line, "\r"), "\r"); i >= 0 {
				line = line[i+1:]
			}
			r.lines <- strings.TrimRight(line, "\r ")
		}
		close(r.lines)
	}()
	go func() { cmd.Wait(); f.Close(); close(r.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-r.done })
	return r
}

// expect waits for a line matching each pattern, in order, and returns the
// submatches of the last.
func (r *ptyRun) expect(t *testing.T, patterns ...string) []string {
	t.Helper()
	var m []string
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		deadline := time.After(60 * time.Second)
		for m = nil; m == nil; {
			select {
			case line, ok := <-r.lines:
				if !ok {
					t.Fatalf("output ended before %q:\n%s", p, strings.Join(r.seen, "\n"))
				}
				r.seen = append(r.seen, line)
				m = re.FindStringSubmatch(line)
			case <-deadline:
				t.Fatalf("no line %q within 60 s:\n%s", p, strings.Join(r.seen, "\n"))
			}
		}
	}
	return m
}

// exitCode waits for the end of the command.
func (r *ptyRun) exitCode(t *testing.T) int {
	t.Helper()
	go func() {
		for l := range r.lines {
			r.seen = append(r.seen, l)
		}
	}()
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		t.Fatal("the command did not end")
	}
	return r.cmd.ProcessState.ExitCode()
}

// visibleData writes the sample data and the campaigns of testdata/visible.
func visibleData(t *testing.T) (data, home string) {
	t.Helper()
	data, home = t.TempDir(), t.TempDir()
	if _, errOut, code := stepwise(t, "sample-data", "--out", data, "--customers", "30", "--seed", "1"); code != 0 {
		t.Fatal(errOut)
	}
	files, _ := filepath.Glob("testdata/visible/*.yaml")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(data, filepath.Base(f)), b, 0o644)
	}
	return data, home
}

const runIDPat = `([0-9a-f]{8}-[0-9a-f-]+)`

// A live send held by confirm: true says so and what to type; confirming it
// from another terminal releases it.
func TestRunShowsHeld(t *testing.T) {
	data, home := visibleData(t)
	r := startPTY(t, data, "run", "held.yaml", "--home", home, "--wait", "skip")
	run := r.expect(t, `^run `+runIDPat+` started: `+"`stepwise logs --home "+regexp.QuoteMeta(home)+` `)[1]
	r.expect(t, `✓ all\s+succeeded .*out=30`,
		regexp.QuoteMeta("first                  held: confirm with `stepwise confirm --home "+home+" "+run+" first`"))
	// Another terminal sees why the run waits.
	runs, _, _ := stepwise(t, "runs", "--home", home)
	if !regexp.MustCompile(run + `\s+held-send\s+held\s+.*` + regexp.QuoteMeta("first: confirm with `stepwise confirm --home "+home+" "+run+" first`")).MatchString(runs) {
		t.Fatalf("runs does not say the run is held:\n%s", runs)
	}
	if out, errOut, code := stepwise(t, "confirm", "--home", home, run, "first"); code != 0 {
		t.Fatalf("confirm: %d %s %s", code, out, errOut)
	}
	r.expect(t, `first\s+confirmed: sending`, `✓ first\s+succeeded .*out=`)
	if code := r.exitCode(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, strings.Join(r.seen, "\n"))
	}
}

// onError: suspend says what failed and how to go on; `stepwise resume` from
// another terminal reaches the process that holds the run.
func TestRunShowsSuspended(t *testing.T) {
	data, home := visibleData(t)
	r := startPTY(t, data, "run", "suspend.yaml", "--home", home, "--wait", "skip", "--param", "file=later.csv")
	run := r.expect(t, `^run `+runIDPat+` started`)[1]
	r.expect(t, regexp.QuoteMeta("load                   suspended: fix and `stepwise resume --home "+home+" "+run+"` (InvalidInput: load-file: ")+`.*later\.csv not found`)
	runs, _, _ := stepwise(t, "runs", "--home", home)
	if !regexp.MustCompile(run + `\s+\S+\s+suspended\s+.*` + regexp.QuoteMeta("go on with `stepwise resume --home "+home+" "+run+"` (load failed: ")).MatchString(runs) {
		t.Fatalf("runs does not say how to go on:\n%s", runs)
	}
	os.WriteFile(filepath.Join(data, "later.csv"), []byte("customerId\nc1\nc2\n"), 0o644)
	out, errOut, code := stepwise(t, "resume", "--home", home, run)
	if code != 0 || !strings.Contains(out, "run "+run+" is executing in process") {
		t.Fatalf("resume: %d %s %s", code, out, errOut)
	}
	r.expect(t, `load\s+resumed`, `✓ load\s+succeeded .*out=2`, `✓ note\s+succeeded`)
	if code := r.exitCode(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, strings.Join(r.seen, "\n"))
	}
	// The alert's title and message are in its log.
	out, errOut, code = stepwise(t, "logs", "--home", home, run, "note")
	if code != 0 || !strings.Contains(out, "== note (alert, succeeded)\n  ALERT loaded: the file is in (2 rows)\n") {
		t.Fatalf("logs: %d %q %s", code, out, errOut)
	}
}

// Quiet hours say until when the run waits, in the campaign's time zone;
// Ctrl-C leaves the run resumable, and says how to resume it.
func TestRunShowsQuietHoursThenInterrupt(t *testing.T) {
	data, home := visibleData(t)
	r := startPTY(t, data, "run", "quiet.yaml", "--home", home, "--wait", "real")
	run := r.expect(t, `^run `+runIDPat+` started`)[1]
	until := r.expect(t, `✓ all\s+succeeded`, `first\s+waiting until (([A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2} )?\d\d:\d\d Europe/Paris) \(quiet hours\)$`)[1]
	runs, _, _ := stepwise(t, "runs", "--home", home)
	if !regexp.MustCompile(run + `\s+quiet-send\s+waiting\s+.*` + regexp.QuoteMeta("first: until "+until+" (quiet hours)")).MatchString(runs) {
		t.Fatalf("runs does not say until when the run waits (%s):\n%s", until, runs)
	}
	r.cmd.Process.Signal(syscall.SIGINT)
	r.expect(t, regexp.QuoteMeta("stepwise run: interrupted: resume with `stepwise resume --home "+home+" "+run+"`"))
	if code := r.exitCode(t); code != 130 {
		t.Fatalf("exit %d:\n%s", code, strings.Join(r.seen, "\n"))
	}
	runs, _, _ = stepwise(t, "runs", "--home", home)
	if !regexp.MustCompile(run + `\s+quiet-send\s+suspended\s+false\s+\S+ \S+\s+go on with .*\(interrupted\)`).MatchString(runs) {
		t.Fatalf("the interrupted run is not resumable:\n%s", runs)
	}
	// Nothing was sent: preview says so, and what was.
	if _, errOut, code := stepwise(t, "preview", "--home", home, run, "first"); code != 1 || errOut != "stepwise preview: first.out was not activated in run "+run+" (first is running); activated: none\n" {
		t.Errorf("preview of a transition not activated: %d %q", code, errOut)
	}
	// stop ends it for good.
	if out, errOut, code := stepwise(t, "stop", "--home", home, run); code != 0 || out != "run "+run+" stopped (it was suspended); it cannot be resumed.\n" {
		t.Fatalf("stop: %d %q %s", code, out, errOut)
	}
	if _, errOut, code := stepwise(t, "resume", "--home", home, run); code != 1 || !strings.Contains(errOut, "is stopped: there is nothing to resume") {
		t.Fatalf("resume of a stopped run: %d %s", code, errOut)
	}
}
