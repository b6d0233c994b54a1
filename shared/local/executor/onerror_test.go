package executor_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/state"
)

// flaky is a test activity type whose handler fails as its plan says.
type flaky struct {
	calls atomic.Int32
	fail  func(call int32) error
}

func (f *flaky) spec() *activity.Spec {
	return activity.Define(activity.Def[struct{}]{Type: "flaky", Family: activity.Flow, Function: "Flaky",
		Inputs: activity.Inputs{Min: 1, Max: 1},
		Output: activity.SameInput[struct{}]("out"),
		Run: func(ctx context.Context, call *activity.Call, _ *struct{}) (*activity.Result, error) {
			if err := f.fail(f.calls.Add(1)); err != nil {
				return nil, err
			}
			req := call.Req
			res := activity.NewResult([]string{"out"})
			res.Set("out", *req.Inputs[0].Ref, req.Inputs[0].Count)
			return res, nil
		}})
}

const flakyCampaign = `version: 1
id: flaky-test
dimension: customers
onError: %s
activities:
  - { id: start, type: scheduler, every: 1d }
  - { id: a, type: flaky, from: start }
  - { id: b, type: flaky, from: a }
  - { id: note, type: alert, from: b, title: after }
`

func runFlaky(t *testing.T, policy string, f *flaky, ctx context.Context, wait interp.WaitMode, extra string) (*executor.Local, *compile.Program, error, *statusSummary) {
	t.Helper()
	dir := t.TempDir()
	src := strings.Replace(flakyCampaign, "%s", policy, 1) + extra
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte(src), 0o644)
	l, err := executor.Open(filepath.Join(dir, "home"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	reg := builtin.Bind(l.Families)
	reg.Register(f.spec())
	p, diags := compile.CompileFiles(context.Background(), file, "testdata/catalog.yaml", reg, builtin.Checkers(), builtin.Schemas())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l.Runner.Registry = reg
	l.Plans.Registry = reg
	sum, err := l.Run(ctx, p, executor.Options{Wait: wait, RunID: state.NewRunID()})
	var s *statusSummary
	if sum != nil {
		s = &statusSummary{Status: sum.Status, Reason: sum.Reason, Activities: map[string]string{}}
		for id, a := range sum.Activities {
			s.Activities[id] = a.Status
		}
	}
	return l, p, err, s
}

type statusSummary struct {
	Status, Reason string
	Activities     map[string]string
}

func TestAbortFailsRun(t *testing.T) {
	f := &flaky{fail: func(int32) error { return &activity.InvalidInput{Msg: "bad data in a"} }}
	_, _, err, s := runFlaky(t, "abort", f, context.Background(), interp.WaitSkip, "")
	if err == nil || s == nil || s.Status != "failed" || !strings.Contains(s.Reason, "bad data in a") {
		t.Fatalf("want a failed run with the cause, got err=%v summary=%+v", err, s)
	}
	if s.Activities["b"] != "" || s.Activities["note"] != "" {
		t.Errorf("activities after the failure ran: %+v", s.Activities)
	}
	if f.calls.Load() != 1 {
		t.Errorf("an InvalidInput is not retried: %d calls", f.calls.Load())
	}
}

func TestRetryableIsRetried(t *testing.T) {
	f := &flaky{fail: func(n int32) error {
		if n <= 2 {
			return &activity.Retryable{Msg: "throttled"}
		}
		return nil
	}}
	_, _, err, s := runFlaky(t, "abort", f, context.Background(), interp.WaitSkip, "")
	if err != nil || s.Status != "succeeded" {
		t.Fatalf("err=%v summary=%+v", err, s)
	}
	if got := f.calls.Load(); got != 4 { // a: 3 attempts, b: 1
		t.Errorf("calls = %d, want 4", got)
	}
}

func TestIgnoreContinues(t *testing.T) {
	f := &flaky{fail: func(n int32) error {
		if n == 1 {
			return &activity.InvalidInput{Msg: "a failed"}
		}
		return nil
	}}
	_, _, err, s := runFlaky(t, "ignore", f, context.Background(), interp.WaitSkip, "")
	if err != nil || s.Status != "succeeded" {
		t.Fatalf("err=%v summary=%+v", err, s)
	}
	if s.Activities["a"] != "failed" || s.Activities["b"] != "skipped" || s.Activities["note"] != "skipped" {
		t.Errorf("statuses: %+v", s.Activities)
	}
}

func TestIgnoreMaxConsecutiveErrors(t *testing.T) {
	f := &flaky{fail: func(int32) error { return &activity.InvalidInput{Msg: "always"} }}
	// a fails, b is skipped (its input is inactive): one failure in a row is under 2.
	_, _, err, s := runFlaky(t, "ignore\nmaxConsecutiveErrors: 2", f, context.Background(), interp.WaitSkip, "")
	if err != nil || s.Status != "succeeded" {
		t.Fatalf("one failure is allowed: err=%v summary=%+v", err, s)
	}
	// Two independent failing activities in a row reach the limit.
	f2 := &flaky{fail: func(int32) error { return &activity.InvalidInput{Msg: "always"} }}
	_, _, err, s = runFlaky(t, "ignore\nmaxConsecutiveErrors: 2", f2, context.Background(), interp.WaitSkip,
		"  - { id: c, type: flaky, from: note }\n  - { id: d, type: flaky, from: start }\n")
	if err == nil || s.Status != "failed" || !strings.Contains(s.Reason, "in a row") {
		t.Fatalf("two failures in a row end the run: err=%v summary=%+v", err, s)
	}
}

func TestSuspendThenResume(t *testing.T) {
	f := &flaky{fail: func(n int32) error {
		if n == 1 {
			return &activity.InvalidInput{Msg: "fix me"}
		}
		return nil
	}}
	dir := t.TempDir()
	l, err := executor.Open(filepath.Join(dir, "home"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	reg := builtin.Bind(l.Families)
	reg.Register(f.spec())
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte(strings.Replace(flakyCampaign, "%s", "suspend", 1)), 0o644)
	p, diags := compile.CompileFiles(context.Background(), file, "testdata/catalog.yaml", reg, builtin.Checkers(), builtin.Schemas())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l.Runner.Registry, l.Plans.Registry = reg, reg
	runID := state.NewRunID()
	go func() {
		for i := 0; i < 100; i++ {
			time.Sleep(50 * time.Millisecond)
			if r, err := l.State.GetRun(context.Background(), runID); err == nil && r.Status == state.RunSuspended {
				executor.Send(l.Home, runID, "resume")
				return
			}
		}
	}()
	sum, err := l.Run(context.Background(), p, executor.Options{Wait: interp.WaitSkip, RunID: runID})
	if err != nil || sum.Status != "succeeded" {
		t.Fatalf("err=%v summary=%+v", err, sum)
	}
	if f.calls.Load() != 3 {
		t.Errorf("a should run twice and b once: %d calls", f.calls.Load())
	}
}

// Ctrl-C leaves the run suspended, "interrupted": it can be resumed.
func TestCtrlCInterrupts(t *testing.T) {
	f := &flaky{fail: func(int32) error { return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	l, _, err, s := runFlaky(t, "abort", f, ctx, interp.WaitReal, "  - { id: pause, type: wait, from: note, duration: 1h }\n")
	if !errors.Is(err, executor.ErrStopped) {
		t.Fatalf("want ErrStopped, got %v", err)
	}
	if s == nil || s.Status != "suspended" || s.Reason != executor.Interrupted {
		t.Fatalf("run not recorded interrupted: %+v", s)
	}
	runs, err := l.Orphans(context.Background())
	if err != nil || len(runs) != 0 {
		t.Fatalf("an interrupted run is not an orphan a server would resume by itself: %v %v", runs, err)
	}
}
