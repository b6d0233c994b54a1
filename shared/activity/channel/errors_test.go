package channel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/failure"
	"github.com/stepwise-run/stepwise/shared/state"
)

// failingLedger is the state store whose ledger fails every claim with err.
type failingLedger struct {
	*memStore
	err error
}

func (f failingLedger) ClaimSend(context.Context, state.SendKey, string, time.Time, time.Duration) (state.LedgerEntry, bool, error) {
	return state.LedgerEntry{}, false, f.err
}

func (f failingLedger) ClaimSends(context.Context, []state.SendClaim, time.Time, time.Duration) ([]state.SendResult, error) {
	return nil, f.err
}

// A ledger failing under a slice stops it with the store's error, named at
// the function boundary from what the store returned: a throttled store (as
// the adapters mark it) is retried, a refused request is not.
func TestLedgerFailuresAreNamedByTheStore(t *testing.T) {
	for i, c := range []struct {
		name string
		err  error
		want string
	}{
		{"throttled", failure.Transient(errors.New("ThrottlingException: rate exceeded")), "Retryable"},
		{"refused", fmt.Errorf("%w: item too large", state.ErrInvalid), "InvalidInput"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.setState(failingLedger{h.store, c.err})
			run := fmt.Sprintf("ledger%d", i)
			in := h.syntheticPopulation(run, 3)
			res := h.plan("paced", run, false, in)
			_, err := h.send(context.Background(), "paced", run, false, in, slices(res)[0])
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), "claim send") {
				t.Fatalf("want the ledger's failure, got %v", err)
			}
			if n := failure.Name(failure.Classify(err)); n != c.want {
				t.Errorf("%v is %s, want %s", err, n, c.want)
			}
		})
	}
}
