package flow_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/flow"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/failure"
)

const testCatalog = `version: 1
tables:
  - name: customers
    key: [id]
    columns: [{ name: id, type: string }, { name: email, type: string }]
`

const testCampaign = `version: 1
id: flows
dimension: customers
parameters:
  region: { type: string }
variables: { season: winter }
activities:
  - { id: all, type: build-audience }
  - { id: warn, type: alert, from: all, title: Heads up, message: Look at this }
  - { id: fork, type: fork, from: warn, branches: [a, b] }
  - id: done
    type: end
    from: fork.a
    trigger:
      campaign: other
      parameters:
        region: { param: region }
        season: { variable: season }
        limit: 7
  - { id: quiet, type: end, from: fork.b }
`

// compiled compiles testCampaign with every activity type.
func compiled(t *testing.T) *activity.Compiled {
	t.Helper()
	dir := t.TempDir()
	p, diags := compile.CompileSources(dir, []byte(testCampaign), []byte(testCatalog), builtin.Registry(), builtin.Checkers())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p.Compiled()
}

type alerter struct {
	calls [][]string
	err   error
}

func (a *alerter) Alert(_ context.Context, campaign, runID, title, message string) error {
	a.calls = append(a.calls, []string{campaign, runID, title, message})
	return a.err
}

type trigger struct {
	campaign string
	params   map[string]any
	key      string
	n        int
	err      error
}

func (tr *trigger) Trigger(_ context.Context, campaign string, params map[string]any, key string) (string, error) {
	tr.n++
	tr.campaign, tr.params, tr.key = campaign, params, key
	return "run-9", tr.err
}

type taskLog struct{ lines []string }

func (l *taskLog) AppendTaskLog(_ context.Context, runID, activity string, _ time.Time, lines ...string) error {
	for _, s := range lines {
		l.lines = append(l.lines, runID+"/"+activity+": "+s)
	}
	return nil
}

// run runs the task of activity id with the flow types bound to d.
func run(t *testing.T, comp *activity.Compiled, d *flow.Deps, id string, test bool, log *taskLog, inputs ...activity.Input) (*activity.Result, error) {
	t.Helper()
	r := activity.NewRegistry()
	flow.Register(r, d)
	a, cfg, ok := comp.Config(id)
	if !ok {
		t.Fatalf("no activity %s", id)
	}
	spec, ok := r.Lookup(a.Type)
	if !ok || !spec.Runs() {
		t.Fatalf("type %s has no handler", a.Type)
	}
	req := &activity.Request{Campaign: comp.Campaign.ID, Plan: comp.Digest, Activity: id, Inputs: inputs,
		Run: activity.RunInfo{ID: "r1", Test: test, Params: map[string]any{"region": "DE"}}}
	return spec.Run(context.Background(), &activity.Call{Env: &activity.Env{}, Req: req, Plan: comp, Activity: a, Log: log}, cfg)
}

func ref(s string) *string { return &s }

func TestAlert(t *testing.T) {
	comp := compiled(t)
	in := activity.Input{From: "all", Port: "out", Ref: ref("runs/r1/all/out"), Count: 4}
	for _, test := range []bool{true, false} {
		al, log := &alerter{}, &taskLog{}
		res, err := run(t, comp, &flow.Deps{Alerter: al}, "warn", test, log, in)
		if err != nil {
			t.Fatalf("test=%v: %v", test, err)
		}
		if res.Ports["out"] == nil || *res.Ports["out"] != *in.Ref || res.Counts["out"] != 4 {
			t.Errorf("test=%v: result %+v, want the input passed on", test, res)
		}
		if want := []string{"r1/warn: ALERT Heads up: Look at this (4 rows)"}; !reflect.DeepEqual(log.lines, want) {
			t.Errorf("test=%v: log %q, want %q", test, log.lines, want)
		}
		var want [][]string
		if !test {
			want = [][]string{{"flows", "r1", "Heads up", "Look at this"}}
		}
		if !reflect.DeepEqual(al.calls, want) {
			t.Errorf("test=%v: alerts %v, want %v", test, al.calls, want)
		}
	}
	// No alerter: the log only.
	if _, err := run(t, comp, &flow.Deps{}, "warn", false, &taskLog{}, in); err != nil {
		t.Fatal(err)
	}
	// An inactive input: nothing to pass on.
	res, err := run(t, comp, &flow.Deps{}, "warn", false, &taskLog{}, activity.Input{From: "all", Port: "out"})
	if err != nil || res.Ports["out"] != nil {
		t.Fatalf("inactive input: %+v %v", res, err)
	}
	// A transient notification failure (the adapter marks it) is retried;
	// another one is not.
	_, err = run(t, comp, &flow.Deps{Alerter: &alerter{err: failure.Transient(errors.New("sns down"))}}, "warn", false, &taskLog{}, in)
	if name := failure.Name(failure.Classify(err)); name != "Retryable" || !strings.Contains(err.Error(), "sns down") {
		t.Fatalf("alerter failure: %s %v, want Retryable", name, err)
	}
	_, err = run(t, comp, &flow.Deps{Alerter: &alerter{err: errors.New("no such topic")}}, "warn", false, &taskLog{}, in)
	if name := failure.Name(failure.Classify(err)); name != "InvalidInput" {
		t.Fatalf("alerter failure: %s %v, want InvalidInput", name, err)
	}
}

func TestEndTrigger(t *testing.T) {
	comp := compiled(t)
	in := activity.Input{From: "fork", Port: "a", Ref: ref("runs/r1/all/out"), Count: 4}
	tr, log := &trigger{}, &taskLog{}
	res, err := run(t, comp, &flow.Deps{Trigger: tr}, "done", false, log, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ports) != 0 || res.Status != activity.StatusSucceeded {
		t.Errorf("result %+v, want no ports", res)
	}
	want := map[string]any{"region": "DE", "season": "winter", "limit": int64(7)}
	if tr.n != 1 || tr.campaign != "other" || !reflect.DeepEqual(tr.params, want) {
		t.Errorf("triggered %d times: %s %#v, want other %#v", tr.n, tr.campaign, tr.params, want)
	}
	// One trigger per run and activity: the key of a retried task is the same.
	if tr.key != "r1/done" {
		t.Errorf("idempotency key %q, want r1/done", tr.key)
	}
	if want := []string{"r1/done: triggered campaign other: run run-9"}; !reflect.DeepEqual(log.lines, want) {
		t.Errorf("log %q, want %q", log.lines, want)
	}

	// Test mode logs what it would trigger.
	tr, log = &trigger{}, &taskLog{}
	if _, err := run(t, comp, &flow.Deps{Trigger: tr}, "done", true, log, in); err != nil {
		t.Fatal(err)
	}
	if tr.n != 0 || len(log.lines) != 1 || !strings.Contains(log.lines[0], "test mode: would trigger campaign other") {
		t.Errorf("test mode: triggered %d times, log %q", tr.n, log.lines)
	}
	// So it needs no trigger.
	if _, err := run(t, comp, &flow.Deps{}, "done", true, &taskLog{}, in); err != nil {
		t.Errorf("test mode without a trigger: %v", err)
	}

	// A live run without a trigger cannot start the other campaign.
	_, err = run(t, comp, &flow.Deps{}, "done", false, &taskLog{}, in)
	var invalid *activity.InvalidInput
	if !errors.As(err, &invalid) {
		t.Errorf("no trigger: %T %v, want InvalidInput", err, err)
	}
	// The trigger's failure is the task's.
	boom := errors.New("api down")
	if _, err := run(t, comp, &flow.Deps{Trigger: &trigger{err: boom}}, "done", false, &taskLog{}, in); !errors.Is(err, boom) {
		t.Errorf("trigger failure: %v", err)
	}
}

// An end without trigger does nothing, even live without a trigger.
func TestEndWithoutTrigger(t *testing.T) {
	comp := compiled(t)
	tr := &trigger{}
	for _, d := range []*flow.Deps{{Trigger: tr}, {}} {
		res, err := run(t, comp, d, "quiet", false, &taskLog{}, activity.Input{From: "fork", Port: "b", Ref: ref("x"), Count: 1})
		if err != nil || len(res.Ports) != 0 || res.Status != activity.StatusSucceeded {
			t.Fatalf("%+v %v", res, err)
		}
	}
	if tr.n != 0 {
		t.Fatalf("triggered %d times", tr.n)
	}
}

// Register adds every flow type; only alert and end run tasks.
func TestRegister(t *testing.T) {
	r := activity.NewRegistry()
	flow.Register(r, &flow.Deps{})
	want := []string{"alert", "and-join", "end", "fork", "scheduler", "test", "wait"}
	if got := r.Types(); !reflect.DeepEqual(got, want) {
		t.Fatalf("types %v, want %v", got, want)
	}
	for _, typ := range want {
		s, _ := r.Lookup(typ)
		if s.Family != activity.Flow {
			t.Errorf("%s: family %s", typ, s.Family)
		}
		if runs := typ == "alert" || typ == "end"; s.Runs() != runs || (s.Function != "") != runs {
			t.Errorf("%s: runs %v, function %q", typ, s.Runs(), s.Function)
		}
	}
}
