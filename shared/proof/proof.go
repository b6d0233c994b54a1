// Package proof renders a channel activity's messages again from the send
// plan a run wrote, for any host (the local executor, the API function on
// AWS): the one path from a run to channel.RenderProofs. It renders only:
// nothing it does can send.
package proof

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Stopped is the reason recorded on a proof's test run: it is stopped once
// its channel activity has run (locally by the executor, on AWS by the API
// once it has rendered the proofs).
const Stopped = "a proof: stopped once its channel activity had run"

// Host is what a host lends the render: the runtime plans, a scope with a
// scratch folder, and the channel family's dependencies (its sender and
// send ledger are never used).
type Host struct {
	Plans   runner.PlanLoader
	Env     *activity.Env
	Channel *channel.Deps
}

// Render renders the selected recipients of the channel activity act of run
// from the send plan the run wrote, with the send path's renderer; digest
// names the runtime plan the run executed.
func Render(ctx context.Context, h Host, run state.Run, digest, act string, sel channel.Selection) ([]channel.Proof, error) {
	comp, err := h.Plans.Load(ctx, run.CampaignID, digest)
	if err != nil {
		return nil, err
	}
	a, _, err := comp.Decoded(act)
	if err != nil {
		return nil, err
	}
	info, err := runner.RunInfo(comp.Campaign, run)
	if err != nil {
		return nil, err
	}
	deps := *h.Channel
	deps.Sender, deps.Ledger = nil, nil // rendering only, whatever the host bound
	call := &activity.Call{Env: h.Env, Plan: comp, Activity: a,
		Req: &activity.Request{Campaign: run.CampaignID, Plan: digest, Activity: act, Run: info}}
	return channel.RenderProofs(ctx, &deps, call, sel)
}

// Keys is the part of the state store that keeps which plan a run executes.
type Keys interface {
	PutKey(ctx context.Context, k state.Key) (state.Key, bool, error)
	GetKey(ctx context.Context, key string, now time.Time) (state.Key, error)
}

func planKey(runID string) string { return "run-plan/" + runID }

// ErrNoPlan is returned by PlanOf for a run whose plan was not recorded.
var ErrNoPlan = errors.New("no record of the plan it executes")

// RememberPlan records the runtime plan (digest) a run executes, for hosts
// that cannot find it from the run (AWS: the state machine carries it).
func RememberPlan(ctx context.Context, keys Keys, runID, digest string, at time.Time) error {
	held, _, err := keys.PutKey(ctx, state.Key{Key: planKey(runID), Value: digest, CreatedAt: at})
	if err != nil {
		return err
	}
	if held.Value != digest {
		return fmt.Errorf("run %s already executes plan %s", runID, held.Value)
	}
	return nil
}

// PlanOf returns the digest RememberPlan recorded for the run.
func PlanOf(ctx context.Context, keys Keys, runID string, now time.Time) (string, error) {
	k, err := keys.GetKey(ctx, planKey(runID), now)
	if errors.Is(err, state.ErrNotFound) {
		return "", fmt.Errorf("run %s: %w (rendering again needs a test run started by the API)", runID, ErrNoPlan)
	}
	if err != nil {
		return "", err
	}
	return k.Value, nil
}
