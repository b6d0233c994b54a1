package executor

import (
	"context"
	"errors"
	"fmt"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/proof"
	"github.com/stepwise-run/stepwise/shared/state"
)

// ProofStopped is the reason recorded on the test run of a proof: it stops
// once the channel activity has run.
const ProofStopped = proof.Stopped

// Proof runs p in test mode until the channel activity act has run (waits
// skipped; nothing is saved or sent), then renders the selected recipients of
// act's input with the send path's renderer (`stepwise proof`, the API's
// proofs). It returns the proofs and the test run's id; the run is recorded
// stopped.
func (l *Local) Proof(ctx context.Context, p *compile.Program, act string, params map[string]any, sel channel.Selection) ([]channel.Proof, string, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	reached := false
	sum, err := l.Run(runCtx, p, Options{Params: params, Test: true, Wait: interp.WaitSkip, Progress: func(ev Progress) {
		if ev.Activity == act && ev.Status == "succeeded" {
			reached = true
			cancel() // the rest of the campaign is not needed
		}
	}})
	if sum != nil && sum.RunID != "" {
		l.stop(sum.RunID, ProofStopped) // not left suspended (resumable) by the cancel
	}
	if ctx.Err() != nil {
		return nil, "", ctx.Err()
	}
	if !reached {
		if err != nil && !errors.Is(err, ErrStopped) {
			return nil, "", fmt.Errorf("the test run failed before %s: %w", act, err)
		}
		status := "not reached"
		if sum != nil {
			if a, ok := sum.Activities[act]; ok && a.Status != "" {
				status = a.Status
				if a.Error != "" {
					status += ": " + a.Error
				}
			}
		}
		return nil, "", fmt.Errorf("activity %s did not run in the test run (%s)", act, status)
	}
	if sum == nil {
		return nil, "", fmt.Errorf("the test run left no summary: %w", err)
	}
	run, err := l.State.GetRun(ctx, sum.RunID)
	if err != nil {
		return nil, "", fmt.Errorf("run %s: %w", sum.RunID, err)
	}
	ps, err := l.RenderProofs(ctx, run, p, act, sel)
	return ps, sum.RunID, err
}

// RenderProofs renders the selected recipients of the channel activity act
// from the send plan that run wrote (a proof's or any test run's), with the
// send path's renderer (proof.Render, as the API function on AWS does); p is
// the run's program (nil: the one it recorded).
func (l *Local) RenderProofs(ctx context.Context, run state.Run, p *compile.Program, act string, sel channel.Selection) ([]channel.Proof, error) {
	if p == nil {
		var err error
		if p, err = l.Program(ctx, run); err != nil {
			return nil, err
		}
	}
	return proof.Render(ctx, proof.Host{Plans: l.Plans, Env: l.Env, Channel: &l.Families.Channel}, run, p.Bundle.Digest, act, sel)
}
