package boltstate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/state"
	"github.com/stepwise-run/stepwise/shared/state/statetest"
)

func open(t *testing.T, home string) *boltstate.Store {
	t.Helper()
	s, err := boltstate.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store { return open(t, t.TempDir()) })
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	s, err := boltstate.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitTable(ctx, "customers", 0, "v1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cur, err := open(t, home).CurrentTable(ctx, "customers")
	if err != nil || cur.Version != 1 {
		t.Fatalf("after reopen: %+v, %v", cur, err)
	}
}

// BenchmarkSend measures one message through the ledger: claim, then complete.
func BenchmarkSend(b *testing.B) {
	s, err := boltstate.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			k := state.SendKey{RunID: "r", Activity: "a", Channel: "email", Recipient: state.NewRunID()}
			e, _, err := s.ClaimSend(ctx, k, "", time.Time{}, time.Minute)
			if err == nil {
				_, err = s.CompleteSend(ctx, e, "m", "", time.Time{})
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
