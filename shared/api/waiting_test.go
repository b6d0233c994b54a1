package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

// A run's activities say what they wait for while they run, and only then.
func TestRunShowsWaits(t *testing.T) {
	e := newEnv(t, time.Hour)
	ctx := context.Background()
	run, _, err := e.l.State.StartRun(ctx, state.Run{CampaignID: "flow-only", Test: true, StartedAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	at := run.StartedAt
	until := time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)
	for act, w := range map[string]*state.TaskWait{
		"send":  {Reason: state.WaitHeld},
		"later": {Reason: state.WaitQuietHours, Until: until, Zone: "Europe/Paris"},
	} {
		e.l.State.UpdateTask(ctx, run.ID, act, state.TaskUpdate{Status: state.TaskRunning, At: at})
		if _, err := e.l.State.UpdateTask(ctx, run.ID, act, state.TaskUpdate{At: at, Waiting: w}); err != nil {
			t.Fatal(err)
		}
	}
	e.l.State.UpdateTask(ctx, run.ID, "done", state.TaskUpdate{Status: state.TaskSucceeded, At: at})
	r := e.expect(e.do("GET", "/v1/runs/"+run.ID, nil), 200, "get run")
	if w, _ := activity(r, "send")["waiting"].(map[string]any); w["reason"] != "held" {
		t.Errorf("send: waiting %v, want held", w)
	}
	if w, _ := activity(r, "later")["waiting"].(map[string]any); w["reason"] != "quiet hours" || w["until"] != "2026-03-01T07:00:00Z" || w["zone"] != "Europe/Paris" {
		t.Errorf("later: waiting %v", w)
	}
	if w, ok := activity(r, "done")["waiting"]; ok {
		t.Errorf("done: waiting %v", w)
	}
}
