package preview

import (
	"context"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/api"
)

var _ api.ProofReader = (*Previewer)(nil)

// Proofs implements api.ProofReader from the blob store of Options.
func (p *Previewer) Proofs(ctx context.Context, runID, activity string) ([]channel.Proof, error) {
	return channel.ReadProofs(ctx, p.Options.Store, runID, activity)
}
