package boltstate_test

import (
	"context"
	"fmt"
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

// Two stores on one home (as a run and a server would be) claiming the same
// sends at once: each message is claimed exactly once.
func TestClaimOnceAcrossStores(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	stores := []*boltstate.Store{open(t, home), open(t, home)}
	const n = 200
	claimed := make([][]bool, len(stores))
	errs := make(chan error, len(stores))
	for i, s := range stores {
		claimed[i] = make([]bool, n)
		go func() {
			for j := range n {
				k := state.SendKey{RunID: "r", Activity: "a", Channel: "email", Recipient: fmt.Sprint(j)}
				_, ok, err := s.ClaimSend(ctx, k, "", time.Unix(1_700_000_000, 0), time.Minute)
				if err != nil {
					errs <- err
					return
				}
				claimed[i][j] = ok
			}
			errs <- nil
		}()
	}
	for range stores {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for j := range n {
		if claimed[0][j] == claimed[1][j] {
			t.Errorf("send %d claimed by both or neither: %v %v", j, claimed[0][j], claimed[1][j])
		}
	}
}
