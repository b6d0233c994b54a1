package local

import (
	"context"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/state"
)

var _ api.ProofReader = (*Backend)(nil)

// Proofs implements api.ProofReader from the home's blob store.
func (b *Backend) Proofs(ctx context.Context, runID, activity string) ([]channel.Proof, error) {
	return channel.ReadProofs(ctx, b.L.Blob, runID, activity)
}

var _ api.ProofRenderer = (*Backend)(nil)

// RenderProofs implements api.ProofRenderer: a test run of p up to the
// activity (within the backend's bound on runs at once), then the render.
func (b *Backend) RenderProofs(ctx context.Context, p *compile.Program, activity string, params map[string]any, sel channel.Selection) ([]channel.Proof, string, error) {
	b.init()
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	defer func() { <-b.sem }()
	return b.L.Proof(ctx, p, activity, params, sel)
}

var _ api.RunProofRenderer = (*Backend)(nil)

// RenderRunProofs implements api.RunProofRenderer from the send plan the
// run wrote (proof.Render, as on AWS).
func (b *Backend) RenderRunProofs(ctx context.Context, run state.Run, activity string, sel channel.Selection) ([]channel.Proof, error) {
	return b.L.RenderProofs(ctx, run, nil, activity, sel)
}
