package executor_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/state"
)

const writerEnv = "STEPWISE_TEST_HOME_WRITER"

// TestMain lets the test binary act as the writing process of
// TestReadWhileAnotherProcessWrites.
func TestMain(m *testing.M) {
	if home := os.Getenv(writerEnv); home != "" {
		if err := writeHome(home); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// writeHome holds home as a run does: it starts a run and keeps logging to
// its task, a line every few milliseconds, until its standard input closes.
func writeHome(home string) error {
	l, err := executor.Open(home)
	if err != nil {
		return err
	}
	defer l.Close()
	ctx := context.Background()
	run, _, err := l.State.StartRun(ctx, state.Run{ID: "writer-run", CampaignID: "c", StartedAt: time.Unix(1_700_000_000, 0)})
	if err != nil {
		return err
	}
	fmt.Println("ready")
	stop := make(chan struct{})
	go func() { bufio.NewReader(os.Stdin).ReadString('\n'); close(stop) }()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		if err := l.State.AppendTaskLog(ctx, run.ID, "send", time.Unix(1_700_000_000, 0), "line "+strconv.Itoa(i)); err != nil {
			return err
		}
		if i%10 == 0 {
			if _, _, err := l.State.StartRun(ctx, state.Run{ID: "writer-run-" + strconv.Itoa(i), CampaignID: "c", StartedAt: time.Unix(1_700_000_000, 0)}); err != nil {
				return err
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// While another process holds the home and writes to it, a reader lists
// runs and reads the task and sees them grow; a second writer is refused
// with the holder's pid and command.
func TestReadWhileAnotherProcessWrites(t *testing.T) {
	home := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), writerEnv+"="+home)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer: %v: %s", err, stderr.String())
		}
	}()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("writer said %q, %v: %s", line, err, stderr.String())
	}

	_, err = executor.Open(home)
	if !errors.Is(err, executor.ErrHomeBusy) {
		t.Fatalf("a second writer opened the home: %v", err)
	}
	if want := fmt.Sprintf("(pid %d)", cmd.Process.Pid); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "in use by `") {
		t.Errorf("second writer's error %q does not name the holder %s", err, want)
	}

	ctx := context.Background()
	lastLines, lastRuns := -1, -1
	var slowest time.Duration
	defer func() { t.Logf("slowest read beside the writer: %v", slowest) }()
	deadline := time.Now().Add(20 * time.Second)
	for grew, reads := 0, 0; grew < 3 || reads < 20; reads++ {
		if time.Now().After(deadline) {
			t.Fatalf("the reader saw no progress: %d log lines, %d runs", lastLines, lastRuns)
		}
		// Each read opens the home afresh, as `stepwise runs` does.
		start := time.Now()
		l, err := executor.OpenRead(home)
		if err != nil {
			t.Fatalf("read beside a writer: %v", err)
		}
		runs, _, err := l.State.ListRuns(ctx, "c", state.Page{})
		if err != nil {
			t.Fatal(err)
		}
		task, err := l.State.GetTask(ctx, "writer-run", "send")
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		d := time.Since(start)
		slowest = max(slowest, d)
		if d > 2*time.Second {
			t.Errorf("a read beside the writer took %v", d)
		}
		if len(task.Log) > lastLines && len(runs) > lastRuns && lastRuns >= 0 {
			grew++
		}
		lastLines, lastRuns = len(task.Log), len(runs)
		time.Sleep(50 * time.Millisecond)
	}
}

// A holder file left by a process that died (its lock gone with it) does not
// keep the home: the next writer opens it and names itself.
func TestStaleHolderFile(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(home+"/"+executor.HolderFile, []byte(`{"pid":999999,"command":"stepwise serve","since":"2026-01-02T10:02:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := executor.Open(home)
	if err != nil {
		t.Fatalf("stale holder file kept the home: %v", err)
	}
	defer l.Close()
	data, err := os.ReadFile(home + "/" + executor.HolderFile)
	if err != nil || !strings.Contains(string(data), fmt.Sprintf(`"pid":%d`, os.Getpid())) {
		t.Errorf("holder file now says %s, %v", data, err)
	}
}
