package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
)

// sampleHome writes the sample data with the slow-channel campaign beside it.
func sampleHome(t *testing.T) (data, home, campaign string) {
	t.Helper()
	data, home = t.TempDir(), t.TempDir()
	if _, errOut, code := stepwise(t, "sample-data", "--out", data, "--customers", "30", "--seed", "1"); code != 0 {
		t.Fatal(errOut)
	}
	src, err := os.ReadFile("testdata/killsend.yaml")
	if err != nil {
		t.Fatal(err)
	}
	campaign = filepath.Join(data, "killsend.yaml")
	os.WriteFile(campaign, src, 0o644)
	return data, home, campaign
}

// waitLines waits until an outbox file of the home holds n lines and
// returns the run id it belongs to.
func waitLines(t *testing.T, home, activity string, n int, done <-chan struct{}) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(home, "outbox", "*", activity+".jsonl"))
		for _, f := range files {
			if b, _ := os.ReadFile(f); bytes.Count(b, []byte("\n")) >= n {
				return filepath.Base(filepath.Dir(f))
			}
		}
		select {
		case <-done:
			t.Fatal("the process ended before it sent")
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%s never sent %d messages", activity, n)
	return ""
}

// onceEach checks that an outbox file holds every recipient exactly once.
func onceEach(t *testing.T, home, run, activity string, want int) {
	t.Helper()
	recs, err := outbox.ReadFile(outbox.Path(executorOutbox(home), run, activity))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.Tags[send.TagRecipient]]++
	}
	for key, n := range seen {
		if n != 1 {
			t.Errorf("%s: recipient %s was sent %d messages", activity, key, n)
		}
	}
	if len(seen) != want || len(recs) != want {
		t.Errorf("%s: %d messages to %d recipients, want %d each", activity, len(recs), len(seen), want)
	}
}

func executorOutbox(home string) string { return filepath.Join(home, "outbox") }

// kill -9 of `stepwise run` (no idempotency key) in the middle of a slow
// channel: the run is left running; `stepwise resume` completes it and the
// outbox holds every recipient exactly once.
func TestKill9MidSendThenResume(t *testing.T) {
	_, home, campaign := sampleHome(t)
	cmd := exec.Command(binary, "run", campaign, "--home", home, "--wait", "real")
	cmd.Env = append(os.Environ(), "STEPWISE_SEND_LEASE=4s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	run := waitLines(t, home, "first", 3, done)
	cmd.Process.Signal(syscall.SIGKILL)
	<-done

	runs, _, _ := stepwise(t, "runs", "--home", home)
	if !regexp.MustCompile(run + `\s+kill-send\s+running`).MatchString(runs) {
		t.Fatalf("the killed run is not left running:\n%s", runs)
	}
	t.Setenv("STEPWISE_SEND_LEASE", "4s") // the sends the killed process had under way settle 4 s later
	out, errOut, code := stepwise(t, "resume", "--home", home, "--wait", "skip", "--json", run)
	if code != 0 {
		t.Fatalf("resume failed (%d): %s", code, errOut)
	}
	var sum struct{ RunID, Status string }
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.RunID != run || sum.Status != "succeeded" {
		t.Fatalf("summary %+v (%v): %s", sum, err, out)
	}
	onceEach(t, home, run, "first", 30)
	onceEach(t, home, run, "second", 28)
	// A finished run is not resumed again.
	if _, errOut, code := stepwise(t, "resume", "--home", home, run); code == 0 || !strings.Contains(errOut, "succeeded: there is nothing to resume") {
		t.Errorf("resuming a finished run: %d %s", code, errOut)
	}
}

// kill -9 of `stepwise serve` with a run in flight: the next start resumes
// the run, which completes sending everyone exactly once.
func TestKill9ServeResumesRuns(t *testing.T) {
	data, home, campaign := sampleHome(t)
	token := "test-token-0123456789"
	serve := func() (*exec.Cmd, string, chan struct{}) {
		cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--home", home, "--dir", data, "--wait", "skip", "--no-scheduler")
		cmd.Env = append(os.Environ(), "STEPWISE_TOKEN="+token, "STEPWISE_SEND_LEASE=4s")
		stdout, _ := cmd.StdoutPipe()
		var logs bytes.Buffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			cmd.Process.Kill()
			t.Fatalf("serve did not start: %v: %s", err, logs.String())
		}
		go io.Copy(io.Discard, stdout)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		url := strings.Fields(strings.TrimPrefix(line, "stepwise serve: "))[0]
		t.Cleanup(func() { cmd.Process.Kill(); <-done })
		return cmd, url, done
	}
	call := func(base, method, path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return out
	}
	cmd, base, done := serve()
	src, _ := os.ReadFile(campaign)
	call(base, "POST", "/v1/campaigns", map[string]any{"source": string(src)})
	call(base, "POST", "/v1/campaigns/kill-send/publish", map[string]any{})
	started := call(base, "POST", "/v1/campaigns/kill-send/trigger", map[string]any{})
	run := fmt.Sprint(started["id"])
	if got := waitLines(t, home, "first", 3, done); got != run {
		t.Fatalf("outbox of run %s, triggered %s (%v)", got, run, started)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done

	_, base, _ = serve()
	deadline := time.Now().Add(60 * time.Second)
	var got map[string]any
	for time.Now().Before(deadline) {
		got = call(base, "GET", "/v1/runs/"+run, nil)
		if got["status"] != "running" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got["status"] != "succeeded" {
		t.Fatalf("the run after the restart: %v", got)
	}
	onceEach(t, home, run, "first", 30)
	onceEach(t, home, run, "second", 28)
}

// While another process holds the home, `stepwise resume` of a run that
// process does not execute says so, and leaves no signal nobody would take
// (a run it executes gets the signal: TestRunShowsSuspended).
func TestResumeWhileHomeBusy(t *testing.T) {
	home := t.TempDir()
	_, sc := startLongRun(t, home)
	untilPause(sc)
	out, errOut, code := stepwise(t, "resume", "--home", home, "some-run")
	if code != 1 || !strings.Contains(errOut, "another stepwise process holds "+home+" and does not execute run some-run: resume it once that process ends") {
		t.Fatalf("resume on a busy home: %d %s %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(home, "signals", "some-run.resume")); err == nil {
		t.Errorf("a signal was left for a run no process executes")
	}
}
