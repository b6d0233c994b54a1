package boltstate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

// The cost of one group commit of the send ledger on disk, by group size:
// claims, then their completions.
//
//	go test ./shared/local/boltstate -run '^$' -bench LedgerGroup
func BenchmarkLedgerGroup(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			next := 0
			b.ResetTimer()
			for range b.N {
				cs := make([]state.SendClaim, n)
				for i := range cs {
					cs[i] = state.SendClaim{Key: state.SendKey{RunID: "run", Activity: "mail", Channel: "email", Recipient: fmt.Sprintf("c%09d", next)}}
					next++
				}
				res, err := s.ClaimSends(ctx, cs, at, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				done := make([]state.SendCompletion, n)
				for i, r := range res {
					done[i] = state.SendCompletion{Held: r.Entry, MessageID: "m"}
				}
				if _, err := s.CompleteSends(ctx, done, at); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
