package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

// TestResumeRestartsRuns: a run that failed for a transient reason, or that a
// killed server left suspended, has no execution; resuming it through the
// API starts one, and the run completes. A run that failed for a reason
// resuming would not change is refused with that reason.
func TestResumeRestartsRuns(t *testing.T) {
	e := newEnv(t, -1)
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": source(t)}), 201, "create")
	e.expect(e.do("POST", "/v1/campaigns/flow-only/publish", nil), 200, "publish")
	ctx := context.Background()
	now := time.Now()
	orphan := func(id string, to state.RunStatus, reason string) {
		t.Helper()
		if _, _, err := e.l.State.StartRun(ctx, state.Run{ID: id, CampaignID: "flow-only", Version: 1,
			Params: map[string]any{"region": "FR"}, StartedAt: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.l.State.SetRunStatus(ctx, id, state.RunRunning, to, reason, now); err != nil {
			t.Fatal(err)
		}
	}
	failed, suspended, broken := state.NewRunID(), state.NewRunID(), state.NewRunID()
	orphan(failed, state.RunFailed, "Retryable: the provider did not answer")
	orphan(suspended, state.RunSuspended, "suspended: an activity failed")
	orphan(broken, state.RunFailed, "InvalidInput: no such column")

	for _, id := range []string{failed, suspended} {
		r := e.expect(e.do("POST", "/v1/runs/"+id+"/resume", nil), 200, "resume "+id)
		if r.str("status") != "running" {
			t.Fatalf("resume: %s", r.raw)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			g := e.expect(e.do("GET", "/v1/runs/"+id, nil), 200, "get run")
			if g.str("status") == "succeeded" {
				if a := activity(g, "check"); a == nil || a["status"] != "succeeded" {
					t.Errorf("resumed run %s: %s", id, g.raw)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("resumed run %s did not complete: %s", id, g.raw)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	r := e.expect(e.do("POST", "/v1/runs/"+broken+"/resume", nil), 409, "resume a run failed for good")
	if !strings.Contains(string(r.raw), "start a new run") {
		t.Errorf("refusal: %s", r.raw)
	}
}
