package local

import (
	"context"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/api"
)

var _ api.ProofReader = (*Backend)(nil)

// Proofs implements api.ProofReader from the home's blob store.
func (b *Backend) Proofs(ctx context.Context, runID, activity string) ([]channel.Proof, error) {
	return channel.ReadProofs(ctx, b.L.Blob, runID, activity)
}
