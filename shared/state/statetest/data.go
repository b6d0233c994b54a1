package statetest

import (
	"context"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

func testTables(t *testing.T, s state.Store) {
	ctx := context.Background()
	cur, err := s.CurrentTable(ctx, "customers")
	wantErr(t, err, state.ErrNotFound)
	equal(t, "version before the first commit", cur.Version, 0)

	v1 := must(s.CommitTable(ctx, "customers", 0, "file:///w/customers/v1", t0))
	equal(t, "v1", v1.Version, 1)
	sameTime(t, "committedAt", v1.CommittedAt, t0)
	same(t, "current", must(s.CurrentTable(ctx, "customers")), v1)

	_, err = s.CommitTable(ctx, "customers", 0, "file:///w/customers/lost", at(time.Second))
	wantErr(t, err, state.ErrConflict)
	_, err = s.CommitTable(ctx, "customers", 5, "file:///w/customers/lost", at(time.Second))
	wantErr(t, err, state.ErrConflict)
	_, err = s.CommitTable(ctx, "customers", 1, "", at(time.Second))
	wantErr(t, err, state.ErrInvalid)

	v2 := must(s.CommitTable(ctx, "customers", 1, "file:///w/customers/v2", at(time.Minute)))
	equal(t, "v2", v2.Version, 2)
	equal(t, "ref", must(s.CurrentTable(ctx, "customers")).Ref, "file:///w/customers/v2")
	same(t, "history", must(s.TableHistory(ctx, "customers")), []state.TableVersion{v2, v1})
	equal(t, "empty history", len(must(s.TableHistory(ctx, "nope"))), 0)

	p := must(s.CommitTable(ctx, "purchases", 0, "file:///w/purchases/v1", t0))
	same(t, "list", must(s.ListTables(ctx)), []state.TableVersion{v2, p})
}

func testTableRace(t *testing.T, s state.Store) {
	ctx := context.Background()
	must(s.CommitTable(ctx, "t", 0, "v1", t0))
	errs := race(func(i int) error {
		_, err := s.CommitTable(ctx, "t", 1, name("writer", i), at(time.Second))
		return err
	})
	w := oneWins(t, errs, state.ErrConflict)
	cur := must(s.CurrentTable(ctx, "t"))
	equal(t, "version", cur.Version, 2)
	equal(t, "ref", cur.Ref, name("writer", w))
	equal(t, "history", len(must(s.TableHistory(ctx, "t"))), 2)
}

func testAudiences(t *testing.T, s state.Store) {
	ctx := context.Background()
	_, err := s.GetAudience(ctx, "vip")
	wantErr(t, err, state.ErrNotFound)
	_, err = s.SaveAudience(ctx, state.Audience{Name: "vip"})
	wantErr(t, err, state.ErrInvalid)

	a1 := must(s.SaveAudience(ctx, state.Audience{Name: "vip", Version: 42, Ref: "file:///a/vip/1", Count: 10, Dimension: "customers", RunID: "run-1", SavedAt: t0}))
	equal(t, "v1", a1.Version, 1)
	a2 := must(s.SaveAudience(ctx, state.Audience{Name: "vip", Ref: "file:///a/vip/2", Count: 12, Dimension: "customers", SavedAt: at(time.Hour)}))
	equal(t, "v2", a2.Version, 2)
	same(t, "current", must(s.GetAudience(ctx, "vip")), a2)
	same(t, "history", must(s.AudienceHistory(ctx, "vip")), []state.Audience{a2, a1})
	l := must(s.SaveAudience(ctx, state.Audience{Name: "lapsed", Ref: "file:///a/lapsed/1", Count: 3, Dimension: "customers", SavedAt: t0}))
	same(t, "list", must(s.ListAudiences(ctx)), []state.Audience{l, a2})

	errs := race(func(i int) error {
		_, err := s.SaveAudience(ctx, state.Audience{Name: "vip", Ref: name("ref", i), Count: int64(i), Dimension: "customers", SavedAt: at(2 * time.Hour)})
		return err
	})
	for _, err := range errs {
		ok(t, err)
	}
	hist := must(s.AudienceHistory(ctx, "vip"))
	equal(t, "versions", len(hist), racers+2)
	for i, a := range hist {
		equal(t, "version", a.Version, int64(len(hist)-i))
	}
	same(t, "current is newest", must(s.GetAudience(ctx, "vip")), hist[0])
}

func testIncrementals(t *testing.T, s state.Store) {
	ctx := context.Background()
	cur, err := s.GetIncremental(ctx, "c1", "newBuyers")
	wantErr(t, err, state.ErrNotFound)
	equal(t, "rev", cur.Rev, 0)

	run := func(i int) state.IncrementalRun {
		return state.IncrementalRun{RunID: name("run", i), At: at(time.Duration(i) * time.Hour),
			HighWater: at(time.Duration(i)*time.Hour - time.Minute), KeysRef: name("file:///keys", i), Count: int64(i)}
	}
	inc := must(s.AdvanceIncremental(ctx, "c1", "newBuyers", 0, run(1)))
	equal(t, "rev", inc.Rev, 1)
	sameTime(t, "highWater", inc.HighWater, run(1).HighWater)
	equal(t, "keysRef", inc.KeysRef, run(1).KeysRef)
	same(t, "get", must(s.GetIncremental(ctx, "c1", "newBuyers")), inc)
	_, err = s.AdvanceIncremental(ctx, "c1", "newBuyers", 0, run(2))
	wantErr(t, err, state.ErrConflict)
	_, err = s.AdvanceIncremental(ctx, "c1", "", 0, run(2))
	wantErr(t, err, state.ErrInvalid)

	for i := 2; i <= state.MaxIncrementalRuns+2; i++ {
		inc = must(s.AdvanceIncremental(ctx, "c1", "newBuyers", inc.Rev, run(i)))
	}
	equal(t, "bounded runs", len(inc.Runs), state.MaxIncrementalRuns)
	equal(t, "oldest kept", inc.Runs[0].RunID, "run-3")
	equal(t, "newest", inc.Runs[len(inc.Runs)-1].RunID, name("run", state.MaxIncrementalRuns+2))

	errs := race(func(i int) error {
		_, err := s.AdvanceIncremental(ctx, "c1", "newBuyers", inc.Rev, run(1000+i))
		return err
	})
	oneWins(t, errs, state.ErrConflict)

	_, err = s.GetIncremental(ctx, "c1", "other")
	wantErr(t, err, state.ErrNotFound)
	ok(t, s.ResetIncremental(ctx, "c1", "newBuyers"))
	_, err = s.GetIncremental(ctx, "c1", "newBuyers")
	wantErr(t, err, state.ErrNotFound)
	ok(t, s.ResetIncremental(ctx, "c1", "newBuyers"))
	inc = must(s.AdvanceIncremental(ctx, "c1", "newBuyers", 0, run(1)))
	equal(t, "rev after reset", inc.Rev, 1)
}

func testKeys(t *testing.T, s state.Store) {
	ctx := context.Background()
	k, created, err := s.PutKey(ctx, state.Key{Key: "evt-1", Value: "run-1", CreatedAt: t0, ExpiresAt: at(time.Hour)})
	ok(t, err)
	equal(t, "created", created, true)
	held, created, err := s.PutKey(ctx, state.Key{Key: "evt-1", Value: "run-2", CreatedAt: at(time.Minute), ExpiresAt: at(2 * time.Hour)})
	ok(t, err)
	equal(t, "created again", created, false)
	same(t, "held", held, k)
	same(t, "get", must(s.GetKey(ctx, "evt-1", at(30*time.Minute))), k)
	_, err = s.GetKey(ctx, "evt-1", at(time.Hour))
	wantErr(t, err, state.ErrNotFound)
	_, err = s.GetKey(ctx, "nope", t0)
	wantErr(t, err, state.ErrNotFound)

	held, created, err = s.PutKey(ctx, state.Key{Key: "evt-1", Value: "run-3", CreatedAt: at(time.Hour)})
	ok(t, err)
	equal(t, "created after expiry", created, true)
	equal(t, "value", held.Value, "run-3")
	equal(t, "forever", must(s.GetKey(ctx, "evt-1", at(1000*time.Hour))).Value, "run-3")
	_, _, err = s.PutKey(ctx, state.Key{Value: "x"})
	wantErr(t, err, state.ErrInvalid)

	values := make([]string, racers)
	errs := race(func(i int) error {
		k, created, err := s.PutKey(ctx, state.Key{Key: "evt-2", Value: name("v", i), CreatedAt: t0, ExpiresAt: at(time.Hour)})
		values[i] = k.Value
		if err == nil && !created {
			err = state.ErrExists
		}
		return err
	})
	w := oneWins(t, errs, state.ErrExists)
	for _, v := range values {
		equal(t, "held value", v, name("v", w))
	}
}

func testSchedules(t *testing.T, s state.Store) {
	ctx := context.Background()
	f, claimed, err := s.ClaimFiring(ctx, state.Firing{CampaignID: "c1", Slot: t0, RunID: "run-1", At: at(time.Second)})
	ok(t, err)
	equal(t, "claimed", claimed, true)
	equal(t, "status", f.Status, state.FiringFired)
	sameTime(t, "slot", f.Slot, t0)

	paris := time.FixedZone("CET", 3600)
	again, claimed, err := s.ClaimFiring(ctx, state.Firing{CampaignID: "c1", Slot: t0.In(paris), RunID: "run-2", At: at(time.Minute)})
	ok(t, err)
	equal(t, "claimed again", claimed, false)
	same(t, "existing", again, f)

	late, claimed, err := s.ClaimFiring(ctx, state.Firing{CampaignID: "c1", Slot: at(time.Hour), Status: state.FiringExpired, Reason: "started 3h late", At: at(4 * time.Hour)})
	ok(t, err)
	equal(t, "claimed late", claimed, true)
	equal(t, "late status", late.Status, state.FiringExpired)

	_, _, err = s.ClaimFiring(ctx, state.Firing{CampaignID: "c1"})
	wantErr(t, err, state.ErrInvalid)
	_, _, err = s.ClaimFiring(ctx, state.Firing{CampaignID: "c1", Slot: t0, Status: "maybe"})
	wantErr(t, err, state.ErrInvalid)
	same(t, "get", must(s.GetFiring(ctx, "c1", t0)), f)
	_, err = s.GetFiring(ctx, "c1", at(time.Minute))
	wantErr(t, err, state.ErrNotFound)

	_, _, err = s.ClaimFiring(ctx, state.Firing{CampaignID: "c10", Slot: at(5 * time.Hour)})
	ok(t, err)
	list, next, err := s.ListFirings(ctx, "c1", state.Page{})
	ok(t, err)
	same(t, "list", list, []state.Firing{late, f})
	equal(t, "next", next, "")
	list, next, err = s.ListFirings(ctx, "c1", state.Page{Limit: 1})
	ok(t, err)
	same(t, "page 1", list, []state.Firing{late})
	list, next, err = s.ListFirings(ctx, "c1", state.Page{Limit: 1, After: next})
	ok(t, err)
	same(t, "page 2", list, []state.Firing{f})
	equal(t, "next", next, "")

	runs := make([]string, racers)
	errs := race(func(i int) error {
		f, claimed, err := s.ClaimFiring(ctx, state.Firing{CampaignID: "c1", Slot: at(2 * time.Hour), RunID: name("run", i)})
		runs[i] = f.RunID
		if err == nil && !claimed {
			err = state.ErrExists
		}
		return err
	})
	w := oneWins(t, errs, state.ErrExists)
	for _, r := range runs {
		equal(t, "run of the claimed slot", r, name("run", w))
	}
}
