package lambdafn_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/state"
)

const endedPrefix = "arn:aws:states:eu-west-1:123456789012:stateMachine:stepwise-dev-"

// fixtureEvent is events/fail-run.execution-failed.json with its detail
// changed by edit.
func fixtureEvent(t *testing.T, edit func(d map[string]any)) json.RawMessage {
	t.Helper()
	data, err := os.ReadFile("../../../events/fail-run.execution-failed.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(ev["detail"].(map[string]any))
	}
	out, _ := json.Marshal(ev)
	return out
}

// TestEndedRuns: an execution that ended where no Catch could handle it
// leaves its run failed or stopped, with the error and the state but none
// of the cause's data; a run already ended is left alone.
func TestEndedRuns(t *testing.T) {
	ctx := context.Background()
	st, err := boltstate.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ended := &lambdafn.EndedRuns{Store: st, StateMachinePrefix: endedPrefix, Now: func() time.Time { return at }}
	passed := 0
	h := ended.Or(func(context.Context, json.RawMessage) (json.RawMessage, error) {
		passed++
		return json.RawMessage(`{}`), nil
	})
	start := func(r state.Run) state.Run {
		t.Helper()
		r.CampaignID, r.StartedAt = "winback-q4", at.Add(-time.Hour)
		got, _, err := st.StartRun(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	invoke := func(ev json.RawMessage) lambdafn.EndedResult {
		t.Helper()
		out, err := h(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		var res lambdafn.EndedResult
		json.Unmarshal(out, &res)
		return res
	}
	const fixtureRun = "0193a5b2-7c1e-7d4a-9f00-3c5e2a1b4d6f"

	start(state.Run{ID: fixtureRun})
	res := invoke(fixtureEvent(t, nil))
	run, _ := st.GetRun(ctx, fixtureRun)
	if run.Status != state.RunFailed || run.Reason != "States.Runtime: the execution failed in state 'lapsed'" || res.Status != "failed" {
		t.Fatalf("FAILED: run %s %q, result %+v", run.Status, run.Reason, res)
	}
	if strings.Contains(run.Reason, "@") || strings.Contains(run.Reason, "gold") || strings.Contains(run.Reason, "JSONPath") {
		t.Errorf("the reason quotes the cause: %q", run.Reason)
	}
	// Again (EventBridge delivers at least once), and after FailRun: kept.
	invoke(fixtureEvent(t, func(d map[string]any) { d["status"] = "ABORTED" }))
	if again, _ := st.GetRun(ctx, fixtureRun); again.Status != state.RunFailed || again.Reason != run.Reason {
		t.Errorf("an ended run changed: %s %q", again.Status, again.Reason)
	}

	// A succeeded run is left alone.
	ok := start(state.Run{})
	st.SetRunStatus(ctx, ok.ID, state.RunRunning, state.RunSucceeded, "", at)
	invoke(fixtureEvent(t, func(d map[string]any) { d["input"] = `{"runId":"` + ok.ID + `"}` }))
	if got, _ := st.GetRun(ctx, ok.ID); got.Status != state.RunSucceeded {
		t.Errorf("succeeded run became %s", got.Status)
	}

	// TIMED_OUT: failed with States.Timeout (resumable); a suspended run too.
	susp := start(state.Run{})
	st.SetRunStatus(ctx, susp.ID, state.RunRunning, state.RunSuspended, "email failed", at)
	invoke(fixtureEvent(t, func(d map[string]any) {
		d["status"], d["error"], d["cause"], d["input"] = "TIMED_OUT", "States.Timeout", nil, `{"runId":"`+susp.ID+`"}`
	}))
	if got, _ := st.GetRun(ctx, susp.ID); got.Status != state.RunFailed || got.Reason != "States.Timeout: the execution timed out" {
		t.Errorf("TIMED_OUT: %s %q", got.Status, got.Reason)
	}

	// ABORTED: stopped. A scheduled run (no runId in the input) is found by
	// its idempotency key, on the test state machine's version ARN too.
	sched := start(state.Run{IdempotencyKey: "schedule/2030-01-02T03:00:00Z"})
	start(state.Run{IdempotencyKey: "schedule/2030-01-01T03:00:00Z"})
	invoke(fixtureEvent(t, func(d map[string]any) {
		d["status"], d["error"], d["cause"] = "ABORTED", nil, "stopped by ops (customer ada@example.com)"
		d["name"], d["input"] = "a1b2c3", `{"version":3,"idempotencyKey":"schedule/2030-01-02T03:00:00Z"}`
		d["stateMachineArn"] = endedPrefix + "winback-q4:3"
	}))
	if got, _ := st.GetRun(ctx, sched.ID); got.Status != state.RunStopped || got.Reason != "the execution was stopped in Step Functions" {
		t.Errorf("ABORTED scheduled run: %s %q", got.Status, got.Reason)
	}

	// A run started without runId in its input but named by the execution.
	named := start(state.Run{})
	invoke(fixtureEvent(t, func(d map[string]any) { d["name"], d["input"] = named.ID, nil }))
	if got, _ := st.GetRun(ctx, named.ID); got.Status != state.RunFailed {
		t.Errorf("run named by the execution: %s", got.Status)
	}

	// No run recorded (the execution failed before StartRun): nothing to do.
	if res := invoke(fixtureEvent(t, func(d map[string]any) { d["name"], d["input"] = "never-started", "{}" })); res.Status != "unknown" {
		t.Errorf("unrecorded run: %+v", res)
	}
	// An unexpected status is refused by name.
	if _, err := h(ctx, fixtureEvent(t, func(d map[string]any) { d["status"] = "SUCCEEDED" })); err == nil || !strings.Contains(err.Error(), "detail.status") {
		t.Errorf("SUCCEEDED: %v", err)
	}
	// FailRun's own input still reaches FailRun.
	if _, err := h(ctx, json.RawMessage(`{"campaign":"winback-q4","bundle":"x","run":{"id":"r"}}`)); err != nil || passed != 1 {
		t.Errorf("FailRun input: passed %d, %v", passed, err)
	}
}
