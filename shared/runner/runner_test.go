package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/flow"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/failure"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/plan"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

const handleCatalog = `version: 1
tables:
  - name: customers
    key: [id]
    columns: [{ name: id, type: string }, { name: email, type: string }]
`

const handleCampaign = `version: 1
id: flows
dimension: customers
parameters:
  region: { type: string }
activities:
  - { id: all, type: build-audience }
  - { id: warn, type: alert, from: all, title: Heads up }
  - { id: warn2, type: alert, from: all, title: Again }
  - { id: done, type: end, from: [warn, warn2], trigger: { campaign: other } }
`

var handleNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// trigger fails with a plain error.
type trigger struct{}

func (trigger) Trigger(context.Context, string, map[string]any, string) (string, error) {
	return "", errors.New("no such campaign")
}

// alerter calls during each alert, if set.
type alerter struct {
	during func()
	err    error
}

func (a *alerter) Alert(context.Context, string, string, string, string) error {
	if a.during != nil {
		a.during()
	}
	return a.err
}

// handleEnv is a runner serving the flow types, bound to al, over an
// embedded state store, with handleCampaign's plan already loaded.
type handleEnv struct {
	r      *runner.Runner
	store  *boltstate.Store
	digest string
}

func newHandleEnv(t *testing.T, al *alerter) *handleEnv {
	t.Helper()
	dir := t.TempDir()
	p, diags := compile.CompileSources(dir, []byte(handleCampaign), []byte(handleCatalog), builtin.Registry(), builtin.Checkers())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	st, err := boltstate.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := activity.NewRegistry()
	flow.Register(reg, &flow.Deps{Alerter: al, Trigger: trigger{}})
	plans := &runner.Plans{Registry: reg} // no blob store: the plan is remembered
	plans.Remember("flows", p.Compiled())
	r := &runner.Runner{Registry: reg, Env: &activity.Env{Clock: func() time.Time { return handleNow }}, Store: st, Plans: plans}
	return &handleEnv{r: r, store: st, digest: p.Bundle.Digest}
}

// start starts run r1 through the StartRun function.
func (e *handleEnv) start(t *testing.T) activity.RunInfo {
	t.Helper()
	in, _ := json.Marshal(map[string]any{"campaign": "flows", "plan": e.digest,
		"input": runner.ExecutionInput{RunID: "r1", Params: map[string]any{"region": "DE"}}})
	out, err := e.r.Handle(context.Background(), plan.FnStartRun, in)
	if err != nil {
		t.Fatal(err)
	}
	var info activity.RunInfo
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

// request is the request of activity id in run.
func (e *handleEnv) request(run activity.RunInfo, id, phase string) json.RawMessage {
	ref := "runs/r1/all/out"
	req := activity.Request{Campaign: "flows", Plan: e.digest, Activity: id, Run: run, Phase: phase,
		Inputs: []activity.Input{{From: "all", Port: "out", Ref: &ref, Count: 4}}}
	data, _ := json.Marshal(req)
	return data
}

func (e *handleEnv) task(t *testing.T, id string) state.Task {
	t.Helper()
	task, err := e.store.GetTask(context.Background(), "r1", id)
	if err != nil {
		t.Fatalf("task %s: %v", id, err)
	}
	return task
}

func wantInvalid(t *testing.T, err error, want string) {
	t.Helper()
	var invalid *activity.InvalidInput
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), want) {
		t.Errorf("%T %v, want InvalidInput containing %q", err, err, want)
	}
}

func TestHandleUnknownFunction(t *testing.T) {
	e := newHandleEnv(t, &alerter{})
	_, err := e.r.Handle(context.Background(), "Nope", json.RawMessage(`{}`))
	wantInvalid(t, err, `no function "Nope"`)
}

// Invoke takes a function placeholder, as the compiled ASL names it, or
// the Lambda ARN it becomes when deployed.
func TestInvoke(t *testing.T) {
	e := newHandleEnv(t, &alerter{})
	ctx := context.Background()
	for _, res := range []string{"Alert", "${Alert}", "arn:aws:states:eu-west-1:123456789012:function:Alert", "arn:aws:lambda:eu-west-1:1:function:"} {
		_, err := e.r.Invoke(ctx, res, e.request(activity.RunInfo{ID: "r1"}, "warn", ""))
		wantInvalid(t, err, "names no function")
	}
	_, err := e.r.Invoke(ctx, plan.Placeholder("Nope"), json.RawMessage(`{}`))
	wantInvalid(t, err, `no function "Nope"`)
	run := e.start(t)
	for _, res := range []string{plan.Placeholder("Alert"), "arn:aws:lambda:eu-west-1:123456789012:function:stepwise-Alert",
		"arn:aws:lambda:eu-west-1:123456789012:function:Alert:live"} {
		out, err := e.r.Invoke(ctx, res, e.request(run, "warn", ""))
		if err != nil {
			t.Fatalf("%s: %v", res, err)
		}
		var r activity.Result
		if err := json.Unmarshal(out, &r); err != nil || r.Counts["out"] != 4 {
			t.Fatalf("%s: result %s %v", res, out, err)
		}
	}
}

// The run-level functions are served by name.
func TestHandleRunFunctions(t *testing.T) {
	e := newHandleEnv(t, &alerter{})
	ctx := context.Background()
	info := e.start(t)
	if info.ID != "r1" || info.Params["region"] != "DE" || info.Now != handleNow.Format(time.RFC3339Nano) || info.Weekday != "sun" || info.Hour != 12 {
		t.Fatalf("run info %+v", info)
	}
	if run, err := e.store.GetRun(ctx, "r1"); err != nil || run.Status != state.RunRunning || run.CampaignID != "flows" {
		t.Fatalf("run %+v %v", run, err)
	}
	ref, _ := json.Marshal(map[string]any{"campaign": "flows", "plan": e.digest, "run": info})
	out, err := e.r.Handle(ctx, plan.FnCheckResume, ref)
	if err != nil || string(out) != `{"resumed":true,"stopped":false}` {
		t.Fatalf("CheckResume: %s %v", out, err)
	}
	fail, _ := json.Marshal(map[string]any{"campaign": "flows", "plan": e.digest, "run": info,
		"error": map[string]string{"Error": "InvalidInput", "Cause": "bad"}})
	if _, err := e.r.Handle(ctx, plan.FnFailRun, fail); err != nil {
		t.Fatal(err)
	}
	if run, _ := e.store.GetRun(ctx, "r1"); run.Status != state.RunFailed || run.Reason != "InvalidInput: bad" {
		t.Fatalf("failed run %+v", run)
	}
	// A bad input to a run-level function is invalid input.
	_, err = e.r.Handle(ctx, plan.FnStartRun, json.RawMessage(`[]`))
	wantInvalid(t, err, "bad start input")
}

// An activity function serves only the activities of its type.
func TestHandleActivityOfAnotherType(t *testing.T) {
	e := newHandleEnv(t, &alerter{})
	ctx := context.Background()
	run := e.start(t)
	_, err := e.r.Handle(ctx, "Alert", e.request(run, "done", ""))
	wantInvalid(t, err, `has no alert activity "done"`)
	_, err = e.r.Handle(ctx, "Alert", e.request(run, "missing", ""))
	wantInvalid(t, err, `has no activity "missing"`)
	_, err = e.r.Handle(ctx, "Alert", json.RawMessage(`{"campaign": 1}`))
	wantInvalid(t, err, "bad request")
	if tasks, _ := e.store.ListTasks(ctx, "r1"); len(tasks) != 0 {
		t.Fatalf("refused requests recorded tasks: %+v", tasks)
	}
}

// A task is recorded running while its handler runs, then succeeded with
// its ports, or failed with its error (which Handle names).
func TestHandleRecordsTask(t *testing.T) {
	ctx := context.Background()
	al := &alerter{}
	e := newHandleEnv(t, al)
	run := e.start(t)
	var during state.Task
	al.during = func() { during = e.task(t, "warn") }
	if _, err := e.r.Handle(ctx, "Alert", e.request(run, "warn", "")); err != nil {
		t.Fatal(err)
	}
	if during.Status != state.TaskRunning || during.Attempts != 1 || !during.StartedAt.Equal(handleNow) {
		t.Errorf("during the handler: %+v", during)
	}
	got := e.task(t, "warn")
	if got.Status != state.TaskSucceeded || !reflect.DeepEqual(got.Ports, map[string]int64{"out": 4}) ||
		!reflect.DeepEqual(got.Outputs, map[string]string{"out": "runs/r1/all/out"}) || !got.EndedAt.Equal(handleNow) {
		t.Errorf("after: %+v", got)
	}
	if !reflect.DeepEqual(got.Log, []string{"ALERT Heads up:  (4 rows)"}) {
		t.Errorf("log %q", got.Log)
	}

	// A failure.
	al.during, al.err = nil, failure.Transient(errors.New("sns down"))
	_, err := e.r.Handle(ctx, "Alert", e.request(run, "warn", ""))
	var retry *failure.Retryable
	if !errors.As(err, &retry) {
		t.Fatalf("%T %v, want Retryable", err, err)
	}
	got = e.task(t, "warn")
	if got.Status != state.TaskFailed || got.Error != "alert: sns down" || got.Attempts != 2 {
		t.Errorf("failed: %+v", got)
	}
	if n := len(got.Log); n == 0 || got.Log[n-1] != "error: alert: sns down" {
		t.Errorf("log %q", got.Log)
	}

	// A handler's unnamed error is named by Handle; the task keeps its text.
	_, err = e.r.Handle(ctx, "End", e.request(run, "done", ""))
	var invalid *failure.InvalidInput
	if !errors.As(err, &invalid) || err.Error() != "no such campaign" {
		t.Fatalf("end: %T %v, want InvalidInput", err, err)
	}
	if got := e.task(t, "done"); got.Status != state.TaskFailed || got.Error != "no such campaign" {
		t.Errorf("end: %+v", got)
	}
}

// The phases of a fanned-out task: the first starts it, the last ends it.
func TestHandlePhases(t *testing.T) {
	ctx := context.Background()
	e := newHandleEnv(t, &alerter{})
	run := e.start(t)
	for _, c := range []struct {
		phase string
		want  state.TaskStatus
	}{{"plan", state.TaskRunning}, {"send", state.TaskRunning}, {"send", state.TaskRunning}, {"finish", state.TaskSucceeded}} {
		if _, err := e.r.Handle(ctx, "Alert", e.request(run, "warn", c.phase)); err != nil {
			t.Fatal(err)
		}
		if got := e.task(t, "warn"); got.Status != c.want || got.Attempts != 1 {
			t.Errorf("after %s: %s (%d attempts), want %s", c.phase, got.Status, got.Attempts, c.want)
		}
	}
	// A send alone neither starts nor ends its task (its log lines leave
	// it pending).
	if _, err := e.r.Handle(ctx, "Alert", e.request(run, "warn2", "send")); err != nil {
		t.Fatal(err)
	}
	if got := e.task(t, "warn2"); got.Status != state.TaskPending || got.Attempts != 0 {
		t.Fatalf("a send recorded its task: %+v", got)
	}
}

// appendCounter counts the log appends that are writes of their own.
type appendCounter struct {
	*boltstate.Store
	appends int
}

func (c *appendCounter) AppendTaskLog(ctx context.Context, run, act string, at time.Time, lines ...string) error {
	c.appends++
	return c.Store.AppendTaskLog(ctx, run, act, at, lines...)
}

// A short task's log lines go with its final status: one write, not one
// more per line; a failure's error line goes with the failed status.
func TestTaskLogWithFinalUpdate(t *testing.T) {
	ctx := context.Background()
	al := &alerter{}
	e := newHandleEnv(t, al)
	run := e.start(t)
	c := &appendCounter{Store: e.store}
	e.r.Store = c
	if _, err := e.r.Handle(ctx, "Alert", e.request(run, "warn", "")); err != nil {
		t.Fatal(err)
	}
	if got := e.task(t, "warn"); got.Status != state.TaskSucceeded || !reflect.DeepEqual(got.Log, []string{"ALERT Heads up:  (4 rows)"}) {
		t.Errorf("task %+v", got)
	}
	al.err = failure.Transient(errors.New("sns down"))
	e.r.Handle(ctx, "Alert", e.request(run, "warn2", ""))
	if got := e.task(t, "warn2"); got.Status != state.TaskFailed || len(got.Log) == 0 || got.Log[len(got.Log)-1] != "error: alert: sns down" {
		t.Errorf("failed task %+v", got)
	}
	if c.appends != 0 {
		t.Errorf("%d log appends of their own", c.appends)
	}
}
