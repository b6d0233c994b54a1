package boltstate_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/state"
)

// BenchmarkCheckSuppressed checks batches of 512 email addresses, as a
// channel slice does, against a store that suppresses only SMS numbers.
func BenchmarkCheckSuppressed(b *testing.B) {
	ctx := context.Background()
	s, err := boltstate.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range 100 {
		if _, err := s.Suppress(ctx, state.Suppression{Channel: "sms", Address: fmt.Sprintf("+336123456%02d", i), Reason: state.SuppressUnsubscribe}); err != nil {
			b.Fatal(err)
		}
	}
	addrs := make([]string, 512)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("User.%d+tag@Example.com", i)
	}
	b.ResetTimer()
	for range b.N {
		found, err := s.CheckSuppressed(ctx, "email", addrs...)
		if err != nil || len(found) != 0 {
			b.Fatal(found, err)
		}
	}
}
