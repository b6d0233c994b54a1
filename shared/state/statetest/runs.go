package statetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

func testRuns(t *testing.T, s state.Store) {
	ctx := context.Background()
	r, existed := startRun(t, s, state.Run{CampaignID: "c1", Version: 1, StartedAt: t0,
		Params: map[string]any{"region": "eu", "discount": 10, "vip": true}})
	equal(t, "existed", existed, false)
	if r.ID == "" {
		t.Fatal("no run id generated")
	}
	equal(t, "status", r.Status, state.RunRunning)
	equal(t, "version", r.Version, 1)
	sameTime(t, "startedAt", r.StartedAt, t0)
	same(t, "params", r.Params, map[string]any{"region": "eu", "discount": 10.0, "vip": true})
	same(t, "get", must(s.GetRun(ctx, r.ID)), r)

	_, _, err := s.StartRun(ctx, state.Run{ID: r.ID, CampaignID: "c1"})
	wantErr(t, err, state.ErrExists)
	_, _, err = s.StartRun(ctx, state.Run{})
	wantErr(t, err, state.ErrInvalid)
	_, err = s.GetRun(ctx, "nope")
	wantErr(t, err, state.ErrNotFound)

	done := must(s.SetRunStatus(ctx, r.ID, state.RunRunning, state.RunSucceeded, "all done", at(time.Hour)))
	equal(t, "status", done.Status, state.RunSucceeded)
	equal(t, "reason", done.Reason, "all done")
	sameTime(t, "endedAt", done.EndedAt, at(time.Hour))
	same(t, "get", must(s.GetRun(ctx, r.ID)), done)
	_, err = s.SetRunStatus(ctx, r.ID, state.RunRunning, state.RunFailed, "", at(time.Hour))
	wantErr(t, err, state.ErrConflict)
	_, err = s.SetRunStatus(ctx, r.ID, state.RunSucceeded, state.RunRunning, "", at(time.Hour))
	wantErr(t, err, state.ErrInvalid)
	_, err = s.SetRunStatus(ctx, "nope", state.RunRunning, state.RunFailed, "", at(time.Hour))
	wantErr(t, err, state.ErrNotFound)

	test, _ := startRun(t, s, state.Run{ID: "test-run", CampaignID: "c1", Test: true, StartedAt: at(time.Minute)})
	equal(t, "id", test.ID, "test-run")
	equal(t, "test", test.Test, true)
	sus := must(s.SetRunStatus(ctx, "test-run", state.RunRunning, state.RunSuspended, "waiting for confirmation", at(2*time.Minute)))
	if !sus.EndedAt.IsZero() {
		t.Fatalf("suspended run has endedAt %v", sus.EndedAt)
	}
	back := must(s.SetRunStatus(ctx, "test-run", state.RunSuspended, state.RunRunning, "", at(3*time.Minute)))
	equal(t, "status", back.Status, state.RunRunning)
}

func startRun(t *testing.T, s state.Store, r state.Run) (state.Run, bool) {
	t.Helper()
	run, existed, err := s.StartRun(context.Background(), r)
	ok(t, err)
	return run, existed
}

func testRunIdempotency(t *testing.T, s state.Store) {
	first, existed := startRun(t, s, state.Run{CampaignID: "c1", IdempotencyKey: "k1", Fingerprint: "sha256:first", StartedAt: t0, Params: map[string]any{"n": "1"}})
	equal(t, "existed", existed, false)
	equal(t, "fingerprint", first.Fingerprint, "sha256:first")
	// The fingerprint is the first request's, stored with the key: the caller compares.
	again, existed := startRun(t, s, state.Run{CampaignID: "c1", IdempotencyKey: "k1", Fingerprint: "sha256:other", StartedAt: at(time.Minute), Params: map[string]any{"n": "2"}})
	equal(t, "existed", existed, true)
	same(t, "same run", again, first)
	same(t, "get", must(s.GetRun(context.Background(), first.ID)), first)
	// A new key whose run cannot be written (its id is taken) is not kept: the key and
	// the run are one write, and a retry with a fresh id starts the run.
	_, _, err := s.StartRun(context.Background(), state.Run{ID: first.ID, CampaignID: "c1", IdempotencyKey: "k-stranded", StartedAt: t0})
	wantErr(t, err, state.ErrExists)
	retry, existed := startRun(t, s, state.Run{CampaignID: "c1", IdempotencyKey: "k-stranded", StartedAt: t0})
	equal(t, "existed after a failed write", existed, false)
	if retry.ID == first.ID {
		t.Fatal("the failed write's key was kept, pointing at another run")
	}
	other, existed := startRun(t, s, state.Run{CampaignID: "c2", IdempotencyKey: "k1", StartedAt: t0})
	equal(t, "existed in other campaign", existed, false)
	if other.ID == first.ID {
		t.Fatal("keys are per campaign, got one run for two campaigns")
	}
	runs, _, err := s.ListRuns(context.Background(), "c1", state.Page{})
	ok(t, err)
	equal(t, "runs of c1", len(runs), 2)
}

func testRunIdempotencyRace(t *testing.T, s state.Store) {
	ctx := context.Background()
	ids := make([]string, racers)
	created := make([]bool, racers)
	errs := race(func(i int) error {
		r, existed, err := s.StartRun(ctx, state.Run{CampaignID: "c1", IdempotencyKey: "signal-42", StartedAt: at(time.Duration(i) * time.Second)})
		ids[i], created[i] = r.ID, !existed
		return err
	})
	n := 0
	for i, err := range errs {
		ok(t, err)
		equal(t, "run id", ids[i], ids[0])
		if created[i] {
			n++
		}
	}
	equal(t, "creators", n, 1)
	runs, _, err := s.ListRuns(ctx, "c1", state.Page{})
	ok(t, err)
	equal(t, "runs", len(runs), 1)
}

func testListRuns(t *testing.T, s state.Store) {
	ctx := context.Background()
	var want []string
	for i := range 5 {
		r, _ := startRun(t, s, state.Run{CampaignID: "c1", StartedAt: at(time.Duration(i) * time.Minute)})
		want = append([]string{r.ID}, want...)
	}
	startRun(t, s, state.Run{CampaignID: "c10", StartedAt: t0})
	ids := func(runs []state.Run) string {
		var s []string
		for _, r := range runs {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}
	all, next, err := s.ListRuns(ctx, "c1", state.Page{})
	ok(t, err)
	equal(t, "all", ids(all), strings.Join(want, ","))
	equal(t, "next", next, "")

	var got []string
	p := state.Page{Limit: 2}
	for page := 0; ; page++ {
		runs, next, err := s.ListRuns(ctx, "c1", p)
		ok(t, err)
		if page > 3 || len(runs) == 0 || len(runs) > 2 {
			t.Fatalf("page %d: %d runs, next %q", page, len(runs), next)
		}
		got = append(got, ids(runs))
		if next == "" {
			break
		}
		p.After = next
	}
	equal(t, "pages", strings.Join(got, ","), strings.Join(want, ","))

	exact, next, err := s.ListRuns(ctx, "c1", state.Page{Limit: 5})
	ok(t, err)
	equal(t, "exact page", len(exact), 5)
	equal(t, "next of exact page", next, "")
	none, next, err := s.ListRuns(ctx, "c3", state.Page{Limit: 5})
	ok(t, err)
	equal(t, "other campaign", len(none), 0)
	equal(t, "next of other campaign", next, "")
}

func testTasks(t *testing.T, s state.Store) {
	ctx := context.Background()
	run := "run-1"
	upd := func(act string, u state.TaskUpdate) state.Task {
		t.Helper()
		return must(s.UpdateTask(ctx, run, act, u))
	}
	tk := upd("a", state.TaskUpdate{Status: state.TaskRunning, At: t0})
	equal(t, "attempts", tk.Attempts, 1)
	sameTime(t, "startedAt", tk.StartedAt, t0)
	equal(t, "run", tk.RunID, run)
	equal(t, "activity", tk.Activity, "a")

	tk = upd("a", state.TaskUpdate{Status: state.TaskRunning, At: at(time.Second), Ports: map[string]int64{"out": 5}})
	equal(t, "attempts after progress", tk.Attempts, 1)
	sameTime(t, "startedAt after progress", tk.StartedAt, t0)
	equal(t, "out", tk.Ports["out"], 5)

	tk = upd("a", state.TaskUpdate{Status: state.TaskFailed, At: at(2 * time.Second), Error: "Throttled: slow down"})
	sameTime(t, "endedAt", tk.EndedAt, at(2*time.Second))
	equal(t, "error", tk.Error, "Throttled: slow down")
	equal(t, "ports kept", tk.Ports["out"], 5)

	tk = upd("a", state.TaskUpdate{Status: state.TaskRunning, At: at(3 * time.Second)})
	equal(t, "attempts after retry", tk.Attempts, 2)
	if !tk.EndedAt.IsZero() || tk.Error != "" {
		t.Fatalf("retry kept endedAt %v error %q", tk.EndedAt, tk.Error)
	}
	tk = upd("a", state.TaskUpdate{Status: state.TaskSucceeded, At: at(4 * time.Second),
		Ports: map[string]int64{"out": 10, "skipped": 2}, Outputs: map[string]string{"out": "file:///w/run-1/a/out"}})
	same(t, "ports", tk.Ports, map[string]int64{"out": 10, "skipped": 2})
	same(t, "outputs", tk.Outputs, map[string]string{"out": "file:///w/run-1/a/out"})
	sameTime(t, "startedAt", tk.StartedAt, at(3*time.Second))
	sameTime(t, "updatedAt", tk.UpdatedAt, at(4*time.Second))
	same(t, "get", must(s.GetTask(ctx, run, "a")), tk)

	b := upd("b", state.TaskUpdate{Status: state.TaskSkipped, At: at(5 * time.Second)})
	equal(t, "skipped attempts", b.Attempts, 0)
	sameTime(t, "skipped endedAt", b.EndedAt, at(5*time.Second))
	p := upd("0-first", state.TaskUpdate{Status: state.TaskPending, At: at(5 * time.Second)})

	_, err := s.UpdateTask(ctx, run, "a", state.TaskUpdate{Status: "done"})
	wantErr(t, err, state.ErrInvalid)
	_, err = s.GetTask(ctx, run, "zz")
	wantErr(t, err, state.ErrNotFound)
	same(t, "list", must(s.ListTasks(ctx, run)), []state.Task{p, tk, b})
	equal(t, "other run", len(must(s.ListTasks(ctx, "run-10"))), 0)
}

// A running task notes what it waits for; the note goes with the next status
// change, and only a running task takes one.
func testTaskWaiting(t *testing.T, s state.Store) {
	ctx := context.Background()
	run := "run-w"
	must(s.UpdateTask(ctx, run, "send", state.TaskUpdate{Status: state.TaskRunning, At: t0}))
	wait := &state.TaskWait{Reason: state.WaitQuietHours, Until: at(time.Hour), Zone: "Europe/Paris"}
	tk := must(s.UpdateTask(ctx, run, "send", state.TaskUpdate{At: at(time.Second), Waiting: wait}))
	same(t, "waiting", tk.Waiting, wait)
	equal(t, "status kept", tk.Status, state.TaskRunning)
	equal(t, "attempts kept", tk.Attempts, 1)
	same(t, "get", must(s.GetTask(ctx, run, "send")).Waiting, wait)
	tk = must(s.UpdateTask(ctx, run, "send", state.TaskUpdate{At: at(2 * time.Second)}))
	if tk.Waiting != nil {
		t.Fatalf("a note without a wait kept %+v", tk.Waiting)
	}
	must(s.UpdateTask(ctx, run, "send", state.TaskUpdate{At: at(3 * time.Second), Waiting: &state.TaskWait{Reason: state.WaitHeld}}))
	tk = must(s.UpdateTask(ctx, run, "send", state.TaskUpdate{Status: state.TaskSucceeded, At: at(4 * time.Second)}))
	if tk.Waiting != nil {
		t.Fatalf("the task ended still waiting: %+v", tk.Waiting)
	}
	_, err := s.UpdateTask(ctx, run, "send", state.TaskUpdate{At: at(5 * time.Second), Waiting: wait})
	wantErr(t, err, state.ErrConflict)
	_, err = s.UpdateTask(ctx, run, "never", state.TaskUpdate{At: at(5 * time.Second), Waiting: wait})
	wantErr(t, err, state.ErrConflict)
}

func testTaskLog(t *testing.T, s state.Store) {
	ctx := context.Background()
	for i := 0; i < 1100; i += 100 {
		lines := make([]string, 100)
		for j := range lines {
			lines[j] = fmt.Sprintf("line %d", i+j)
		}
		ok(t, s.AppendTaskLog(ctx, "run-1", "a", at(time.Duration(i)*time.Millisecond), lines...))
	}
	tk := must(s.GetTask(ctx, "run-1", "a"))
	equal(t, "status of a task that only logged", tk.Status, state.TaskPending)
	equal(t, "lines", len(tk.Log), state.MaxTaskLogLines)
	equal(t, "first", tk.Log[0], "line 100")
	equal(t, "last", tk.Log[len(tk.Log)-1], "line 1099")
	equal(t, "dropped", tk.LogDropped, 100)

	ok(t, s.AppendTaskLog(ctx, "run-1", "b", t0, "two\nlines\tand a tab", strings.Repeat("é", state.MaxLogLineBytes)))
	tk = must(s.GetTask(ctx, "run-1", "b"))
	equal(t, "control characters", tk.Log[0], "two lines and a tab")
	if n := len(tk.Log[1]); n > state.MaxLogLineBytes || !strings.HasSuffix(tk.Log[1], "…") {
		t.Fatalf("long line kept %d bytes: %q", n, tk.Log[1][n-10:])
	}

	// Logging does not disturb the task's status, and concurrent appends all land.
	must(s.UpdateTask(ctx, "run-1", "c", state.TaskUpdate{Status: state.TaskRunning, At: t0}))
	errs := race(func(i int) error {
		for j := range 3 {
			if err := s.AppendTaskLog(ctx, "run-1", "c", t0, fmt.Sprintf("racer %d line %d", i, j)); err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		ok(t, err)
	}
	tk = must(s.GetTask(ctx, "run-1", "c"))
	equal(t, "concurrent lines", len(tk.Log), racers*3)
	equal(t, "status", tk.Status, state.TaskRunning)
	equal(t, "attempts", tk.Attempts, 1)

	// Lines that come with a status update land with it, after the earlier ones.
	must(s.UpdateTask(ctx, "run-1", "d", state.TaskUpdate{Status: state.TaskRunning, At: t0}))
	ok(t, s.AppendTaskLog(ctx, "run-1", "d", t0, "first"))
	tk = must(s.UpdateTask(ctx, "run-1", "d", state.TaskUpdate{Status: state.TaskSucceeded, At: at(time.Second), Log: []string{"held\tline", "last"}}))
	same(t, "log with the update", tk.Log, []string{"first", "held line", "last"})
	equal(t, "status with the log", tk.Status, state.TaskSucceeded)
	same(t, "stored", must(s.GetTask(ctx, "run-1", "d")).Log, tk.Log)
	tk = must(s.UpdateTask(ctx, "run-1", "e", state.TaskUpdate{Status: state.TaskFailed, At: t0, Error: "boom", Log: []string{"error: boom"}}))
	same(t, "log of a failure", tk.Log, []string{"error: boom"})
}
