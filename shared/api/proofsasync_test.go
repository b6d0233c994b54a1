package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/local"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn/channelfn"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/proof"
	"github.com/stepwise-run/stepwise/shared/state"
)

// asyncExecutor starts runs as Step Functions does: later, when the test
// says (run), not within the request; it renders nothing itself.
type asyncExecutor struct {
	l       *executor.Local
	mu      sync.Mutex
	started map[string]*compile.Program
	stopped []string
}

func (a *asyncExecutor) Start(_ context.Context, run state.Run, _ *state.Version, p *compile.Program) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.started[run.ID] = p
	return nil
}

func (a *asyncExecutor) Stop(_ context.Context, run state.Run) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = append(a.stopped, run.ID)
	return nil
}

// runUntil executes the started run until activity act has run, and leaves
// it under way (as a state machine that goes on).
func (a *asyncExecutor) runUntil(t *testing.T, run state.Run, act string) {
	t.Helper()
	a.mu.Lock()
	p := a.started[run.ID]
	a.mu.Unlock()
	if p == nil {
		t.Fatalf("run %s was not started", run.ID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reached := false
	a.l.Run(ctx, p, executor.Options{Params: run.Params, Test: true, RunID: run.ID, IdempotencyKey: run.IdempotencyKey, Wait: interp.WaitSkip,
		Progress: func(ev executor.Progress) {
			if ev.Activity == act && ev.Status == "succeeded" {
				reached = true
				cancel()
			}
		}})
	if !reached {
		t.Fatalf("run %s did not reach %s", run.ID, act)
	}
}

// Where test runs outlast a request (AWS), a draft's proofs are a test run
// started by the POST (202, pending, Location); the Location answers 409
// not_ready with Retry-After until the activity has run, then the proofs,
// rendered by the AWS renderer (channelfn.Renderer) from the send plan the
// run wrote, the same as the local host renders them; the proof's run is
// stopped then. A run that ended before the activity answers 422 saying why.
func TestRenderProofsAsync(t *testing.T) {
	var exec *asyncExecutor
	var b *local.Backend
	e := viewsEnvWith(t, func(o *api.Options) {
		b = o.Executor.(*local.Backend)
		exec = &asyncExecutor{l: b.L, started: map[string]*compile.Program{}}
		o.Executor = exec
		o.Renderer = channelfn.NewRenderer(channelfn.Stores{Blob: b.L.Blob, State: b.L.State, WorkDir: t.TempDir()}, b.L.Families.Channel.Links)
	})
	ctx := context.Background()

	r := e.expect(e.do("POST", "/v1/campaigns/rep/proofs", map[string]any{"activity": "mail", "sample": 4}), 202, "proofs of the draft")
	var pl api.ProofList
	json.Unmarshal(r.raw, &pl)
	loc := r.header.Get("Location")
	if !pl.Pending || pl.Activity != "mail" || pl.RunID == "" || !strings.Contains(string(r.raw), `"proofs":[]`) ||
		loc != "/v1/runs/"+pl.RunID+"/activities/mail/proofs?sample=4" {
		t.Fatalf("202: %s, Location %q", r.raw, loc)
	}
	run, err := b.L.State.GetRun(ctx, pl.RunID)
	if err != nil || !run.Test || run.Status != state.RunRunning {
		t.Fatalf("proof run: %+v %v", run, err)
	}

	// Not yet: the execution has not reached mail.
	nr := e.expect(e.do("GET", loc, nil), 409, "before the activity ran")
	if nr.errCode() != "not_ready" || nr.header.Get("Retry-After") != "2" || !strings.Contains(nr.raw2(), "has not run yet") {
		t.Fatalf("409: %v %s", nr.header, nr.raw)
	}
	// A name that is no channel activity of the campaign is not waited for.
	e.expect(e.do("GET", "/v1/runs/"+pl.RunID+"/activities/nope/proofs?sample=1", nil), 404, "unknown activity")

	exec.runUntil(t, run, "mail")
	ok := e.expect(e.do("GET", loc, nil), 200, "after the activity ran")
	var got api.ProofList
	json.Unmarshal(ok.raw, &got)
	if got.Pending || got.RunID != pl.RunID || len(got.Proofs) != 4 {
		t.Fatalf("200: %s", ok.raw)
	}
	// The same messages as the local host renders from that run.
	run, _ = b.L.State.GetRun(ctx, pl.RunID)
	want, err := b.RenderRunProofs(ctx, run, "mail", channel.Selection{Sample: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range got.Proofs {
		if p.Recipient != want[i].Recipient || p.EML != want[i].EML || p.HTML != want[i].HTML || p.Skip != want[i].Skip {
			t.Errorf("proof %d: %+v, the local host renders %+v", i, p, want[i])
		}
	}
	// The proof's run was stopped once rendered.
	if run.Status != state.RunStopped || run.Reason != proof.Stopped || len(exec.stopped) != 1 || exec.stopped[0] != run.ID {
		t.Errorf("after rendering, the proof run is %s (%s), executor stopped %v", run.Status, run.Reason, exec.stopped)
	}
	// Keys render too, from the same run.
	key := got.Proofs[0].Recipient
	kr := e.expect(e.do("GET", "/v1/runs/"+pl.RunID+"/activities/mail/proofs?key="+key, nil), 200, "by key")
	if !strings.Contains(kr.raw2(), key) {
		t.Errorf("by key: %s", kr.raw)
	}

	// A run that failed before the activity: 422 naming why.
	r = e.expect(e.do("POST", "/v1/campaigns/rep/proofs", map[string]any{"activity": "mail", "keys": []string{key}}), 202, "proofs again")
	json.Unmarshal(r.raw, &pl)
	if loc := r.header.Get("Location"); loc != "/v1/runs/"+pl.RunID+"/activities/mail/proofs?key="+key {
		t.Errorf("Location %q", loc)
	}
	if _, err := b.L.State.SetRunStatus(ctx, pl.RunID, state.RunRunning, state.RunFailed, "States.TaskFailed: the audience source is missing", run.StartedAt); err != nil {
		t.Fatal(err)
	}
	f := e.expect(e.do("GET", r.header.Get("Location"), nil), 422, "failed before the activity")
	if f.errCode() != "proof_failed" || !strings.Contains(f.raw2(), "ended before activity mail ran (failed: States.TaskFailed: the audience source is missing)") {
		t.Errorf("422: %s", f.raw)
	}
}
