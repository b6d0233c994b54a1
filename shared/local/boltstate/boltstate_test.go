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

// ReserveCapsAndClaimSends answers as ReserveCaps then ClaimSends (of the
// granted) would, in one commit, and in two when a key repeats.
func TestReserveCapsAndClaimSends(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	req := func(r string, max int) state.CapRequest {
		return state.CapRequest{Recipient: r, Channel: "email", Max: max, Since: t0.Add(-time.Hour), At: t0, Ref: "tok-" + r}
	}
	claim := func(r string) state.SendClaim {
		return state.SendClaim{Key: state.SendKey{RunID: "run", Activity: "mail", Channel: "email", Recipient: r}, Token: "tok-" + r}
	}
	for _, dup := range []bool{false, true} {
		t.Run(fmt.Sprint("repeated key ", dup), func(t *testing.T) {
			s := open(t, t.TempDir())
			if err := s.RecordSend(ctx, "c2", "email", t0.Add(-time.Minute), "other"); err != nil {
				t.Fatal(err)
			}
			before, _, err := s.ClaimSend(ctx, claim("c3").Key, "", t0.Add(-time.Minute), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			rs := []state.CapRequest{req("c1", 1), req("c2", 1), req("c3", 1)}
			cs := []state.SendClaim{claim("c1"), claim("c2"), claim("c3")}
			if dup {
				rs, cs = append(rs, req("c1", 1)), append(cs, claim("c1"))
			}
			granted, res, err := s.ReserveCapsAndClaimSends(ctx, rs, cs, t0, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			want := []bool{true, false, true, true}
			claimed := []bool{true, false, false, false}
			for i := range rs {
				if granted[i] != want[i] || res[i].Claimed != claimed[i] {
					t.Errorf("%d: granted %v claimed %v, want %v %v", i, granted[i], res[i].Claimed, want[i], claimed[i])
				}
			}
			if res[0].Entry.Token != "tok-c1" || res[0].Entry.Status != state.SendPending {
				t.Errorf("c1: %+v", res[0].Entry)
			}
			if res[2].Entry.Token != before.Token {
				t.Errorf("c3: %+v, want the entry claimed before", res[2].Entry)
			}
			if _, err := s.GetSend(ctx, claim("c2").Key); err == nil {
				t.Error("c2 over its cap was claimed")
			}
			for r, n := range map[string]int{"c1": 1, "c2": 1, "c3": 1} {
				if got, _ := s.CountSends(ctx, r, "email", time.Time{}); got != n {
					t.Errorf("%s: %d sends counted, want %d", r, got, n)
				}
			}
		})
	}
	s := open(t, t.TempDir())
	if _, _, err := s.ReserveCapsAndClaimSends(ctx, []state.CapRequest{req("c1", 1)}, nil, t0, time.Minute); err == nil {
		t.Error("want an error for unpaired requests")
	}
}
