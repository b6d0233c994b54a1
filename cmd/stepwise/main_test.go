package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binary string

// TestMain builds the stepwise binary once for the black-box tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stepwise-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "stepwise")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func stepwise(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return stepwiseIn(t, "", args...)
}

// startLongRun starts `stepwise run testdata/longwait.yaml` on home (it
// waits a long time) and returns it with a scanner of its stderr; the
// process is killed when the test ends.
func startLongRun(t *testing.T, home string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(binary, "run", "testdata/longwait.yaml", "--home", home, "--wait", "real")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewScanner(stderr)
}

// untilPause reads the run's stderr until it waits, then drains the rest.
func untilPause(sc *bufio.Scanner) {
	for sc.Scan() && !strings.Contains(sc.Text(), "pause") {
	}
	go func() {
		for sc.Scan() {
		}
	}()
}

// Kill -9 in the middle of a run, start again with the same idempotency key:
// the same run resumes and completes.
func TestKill9ThenRestartWithSameKey(t *testing.T) {
	home := t.TempDir()
	cmd := exec.Command(binary, "run", "testdata/longwait.yaml", "--home", home, "--idempotency-key", "k-1", "--wait", "real")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	deadline := time.After(30 * time.Second)
	waiting := make(chan struct{})
	go func() {
		for sc.Scan() {
			if strings.Contains(sc.Text(), "pause") && strings.Contains(sc.Text(), "running") {
				close(waiting)
				return
			}
		}
	}()
	select {
	case <-waiting:
	case <-deadline:
		cmd.Process.Kill()
		t.Fatal("the run never reached the wait")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	out, errOut, code := stepwise(t, "run", "testdata/longwait.yaml", "--home", home, "--idempotency-key", "k-1", "--wait", "skip", "--json")
	if code != 0 {
		t.Fatalf("restart failed (%d): %s", code, errOut)
	}
	var sum struct {
		RunID      string
		Status     string
		Activities map[string]struct{ Status string }
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if sum.Status != "succeeded" || sum.Activities["after"].Status != "succeeded" {
		t.Fatalf("summary: %+v", sum)
	}
	runs, _, _ := stepwise(t, "runs", "--home", home)
	if n := strings.Count(runs, "long-wait"); n != 1 {
		t.Errorf("one run expected for the idempotency key, got %d:\n%s", n, runs)
	}
	// A third start with the same key reports the finished run, not a new one.
	_, errOut, code = stepwise(t, "run", "testdata/longwait.yaml", "--home", home, "--idempotency-key", "k-1", "--wait", "skip")
	if code == 0 || !strings.Contains(errOut, "already succeeded") {
		t.Errorf("a finished run is not run again: code %d, %s", code, errOut)
	}
}

func TestValidateExitCodes(t *testing.T) {
	if _, _, code := stepwise(t, "validate", "../../examples/winback.yaml"); code != 0 {
		t.Errorf("valid campaign: exit %d", code)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nid: bad\nactivities:\n  - { id: a, type: nope }\n"), 0o644)
	_, errOut, code := stepwise(t, "validate", "--catalog", "testdata/catalog.yaml", bad)
	if code != 1 || !strings.Contains(errOut, bad+":4:20 activities[0].type: unknown activity type \"nope\"") {
		t.Errorf("invalid campaign: exit %d, %q", code, errOut)
	}
}
