package statetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

func claim(t *testing.T, s state.Store, k state.SendKey, token string, when time.Time, lease time.Duration) (state.LedgerEntry, bool) {
	t.Helper()
	e, claimed, err := s.ClaimSend(context.Background(), k, token, when, lease)
	ok(t, err)
	return e, claimed
}

func testLedger(t *testing.T, s state.Store) {
	ctx := context.Background()
	k := state.SendKey{RunID: "run-1", Activity: "sendVip", Channel: "email", Recipient: "cust-1"}
	e, claimed := claim(t, s, k, "", t0, time.Minute)
	equal(t, "claimed", claimed, true)
	equal(t, "status", e.Status, state.SendPending)
	equal(t, "attempts", e.Attempts, 1)
	equal(t, "default token", e.Token, k.Token())
	sameTime(t, "claimedAt", e.ClaimedAt, t0)
	sameTime(t, "leaseUntil", e.LeaseUntil, at(time.Minute))
	same(t, "key", e.SendKey, k)

	again, claimed := claim(t, s, k, "other", at(time.Second), time.Minute)
	equal(t, "claimed again", claimed, false)
	same(t, "existing", again, e)
	same(t, "get", must(s.GetSend(ctx, k)), e)

	sent := must(s.CompleteSend(ctx, e, "msg-1", "B", at(10*time.Second)))
	equal(t, "status", sent.Status, state.SendSent)
	equal(t, "message id", sent.MessageID, "msg-1")
	equal(t, "variant", sent.Variant, "B")
	sameTime(t, "updatedAt", sent.UpdatedAt, at(10*time.Second))
	same(t, "get", must(s.GetSend(ctx, k)), sent)
	_, err := s.CompleteSend(ctx, e, "msg-2", "B", at(11*time.Second))
	wantErr(t, err, state.ErrConflict)
	_, err = s.FailSend(ctx, e, "late failure", at(11*time.Second))
	wantErr(t, err, state.ErrConflict)
	_, err = s.ReclaimSend(ctx, sent, at(time.Hour), time.Minute)
	wantErr(t, err, state.ErrConflict)
	_, claimed = claim(t, s, k, "", at(time.Hour), time.Minute)
	equal(t, "claimed after sent", claimed, false)

	// A definite failure, then a retry of it.
	k2 := k
	k2.Recipient = "cust-2"
	e2, _ := claim(t, s, k2, "tok-2", t0, time.Minute)
	failed := must(s.FailSend(ctx, e2, "MessageRejected", at(time.Second)))
	equal(t, "status", failed.Status, state.SendFailed)
	equal(t, "reason", failed.Reason, "MessageRejected")
	retry := must(s.ReclaimSend(ctx, failed, at(2*time.Second), time.Minute))
	equal(t, "status", retry.Status, state.SendPending)
	equal(t, "attempts", retry.Attempts, 2)
	equal(t, "token kept", retry.Token, "tok-2")
	equal(t, "reason cleared", retry.Reason, "")
	_, err = s.CompleteSend(ctx, e2, "msg-x", "", at(3*time.Second))
	wantErr(t, err, state.ErrConflict) // first attempt's holder is fenced off
	_, err = s.CompleteSend(ctx, failed, "msg-x", "", at(3*time.Second))
	wantErr(t, err, state.ErrConflict)
	done := must(s.CompleteSend(ctx, retry, "msg-2", "", at(3*time.Second)))
	equal(t, "status", done.Status, state.SendSent)

	_, _, err = s.ClaimSend(ctx, state.SendKey{RunID: "run-1", Activity: "a", Channel: "email"}, "", t0, time.Minute)
	wantErr(t, err, state.ErrInvalid)
	_, _, err = s.ClaimSend(ctx, k, "", t0, 0)
	wantErr(t, err, state.ErrInvalid)
	missing := state.LedgerEntry{SendKey: state.SendKey{RunID: "run-1", Activity: "a", Channel: "email", Recipient: "nobody"}, Status: state.SendPending, Attempts: 1}
	_, err = s.GetSend(ctx, missing.SendKey)
	wantErr(t, err, state.ErrNotFound)
	_, err = s.CompleteSend(ctx, missing, "m", "", t0)
	wantErr(t, err, state.ErrNotFound)
	_, err = s.ReclaimSend(ctx, missing, t0, time.Minute)
	wantErr(t, err, state.ErrNotFound)
}

// testLedgerLease plays a crash between claim and provider call: the pending entry is
// found by listing, its lease runs out, and exactly one worker takes it over.
func testLedgerLease(t *testing.T, s state.Store) {
	ctx := context.Background()
	k := state.SendKey{RunID: "run-1", Activity: "sms", Channel: "sms", Recipient: "cust-3"}
	crashed, _ := claim(t, s, k, "tok-3", t0, time.Minute)

	_, err := s.ReclaimSend(ctx, crashed, at(30*time.Second), time.Minute)
	wantErr(t, err, state.ErrConflict) // still leased

	list, _, err := s.ListSends(ctx, "run-1", "sms", state.Page{})
	ok(t, err)
	var stale []state.LedgerEntry
	for _, e := range list {
		if e.Status == state.SendPending && !e.LeaseUntil.After(at(2*time.Minute)) {
			stale = append(stale, e)
		}
	}
	equal(t, "stale entries", len(stale), 1)

	errs := race(func(i int) error {
		_, err := s.ReclaimSend(ctx, stale[0], at(2*time.Minute), time.Minute)
		return err
	})
	oneWins(t, errs, state.ErrConflict)
	cur := must(s.GetSend(ctx, k))
	equal(t, "attempts", cur.Attempts, 2)
	equal(t, "token", cur.Token, "tok-3")
	sameTime(t, "lease", cur.LeaseUntil, at(3*time.Minute))

	_, err = s.FailSend(ctx, crashed, "timeout", at(2*time.Minute))
	wantErr(t, err, state.ErrConflict) // the crashed worker, back to life, is fenced off
	failed := must(s.FailSend(ctx, cur, "unknown outcome", at(2*time.Minute)))
	equal(t, "status", failed.Status, state.SendFailed)
}

func testLedgerRace(t *testing.T, s state.Store) {
	ctx := context.Background()
	k := state.SendKey{RunID: "run-1", Activity: "push", Channel: "push", Recipient: "cust-4"}
	tokens := make([]string, racers)
	errs := race(func(i int) error {
		e, claimed, err := s.ClaimSend(ctx, k, name("tok", i), t0, time.Minute)
		tokens[i] = e.Token
		if err == nil && !claimed {
			err = state.ErrExists
		}
		return err
	})
	w := oneWins(t, errs, state.ErrExists)
	for _, tok := range tokens {
		equal(t, "token", tok, name("tok", w))
	}

	held := must(s.GetSend(ctx, k))
	errs = race(func(i int) error {
		_, err := s.CompleteSend(ctx, held, name("msg", i), "", at(time.Second))
		return err
	})
	w = oneWins(t, errs, state.ErrConflict)
	equal(t, "message id", must(s.GetSend(ctx, k)).MessageID, name("msg", w))
}

func testLedgerList(t *testing.T, s state.Store) {
	ctx := context.Background()
	var want []string
	for _, ch := range []string{"email", "sms"} {
		for i := range 3 {
			k := state.SendKey{RunID: "run-1", Activity: "send", Channel: ch, Recipient: name("cust", i)}
			claim(t, s, k, "", t0, time.Minute)
			want = append(want, ch+"/"+k.Recipient)
		}
	}
	claim(t, s, state.SendKey{RunID: "run-1", Activity: "send2", Channel: "email", Recipient: "cust-0"}, "", t0, time.Minute)
	claim(t, s, state.SendKey{RunID: "run-10", Activity: "send", Channel: "email", Recipient: "cust-0"}, "", t0, time.Minute)

	keys := func(l []state.LedgerEntry) []string {
		var out []string
		for _, e := range l {
			out = append(out, e.Channel+"/"+e.Recipient)
		}
		return out
	}
	all, next, err := s.ListSends(ctx, "run-1", "send", state.Page{})
	ok(t, err)
	equal(t, "all", strings.Join(keys(all), ","), strings.Join(want, ","))
	equal(t, "next", next, "")

	var got []string
	p := state.Page{Limit: 4}
	for page := 0; ; page++ {
		l, next, err := s.ListSends(ctx, "run-1", "send", p)
		ok(t, err)
		if page > 2 || len(l) == 0 {
			t.Fatalf("page %d: %d entries", page, len(l))
		}
		got = append(got, keys(l)...)
		if next == "" {
			break
		}
		p.After = next
	}
	equal(t, "pages", strings.Join(got, ","), strings.Join(want, ","))
	none, _, err := s.ListSends(ctx, "run-1", "nope", state.Page{})
	ok(t, err)
	equal(t, "none", len(none), 0)
}

func testSuppressions(t *testing.T, s state.Store) {
	ctx := context.Background()
	bob := must(s.Suppress(ctx, state.Suppression{Channel: "email", Address: " Bob@Example.COM ", Reason: state.SuppressComplaint, At: t0, Source: "ses:msg-1"}))
	equal(t, "normalized", bob.Address, "bob@example.com")
	sameTime(t, "at", bob.At, t0)
	_, err := s.Suppress(ctx, state.Suppression{Channel: "email", Address: "x@y", Reason: "annoyed"})
	wantErr(t, err, state.ErrInvalid)
	_, err = s.Suppress(ctx, state.Suppression{Channel: "email", Address: "  ", Reason: state.SuppressManual})
	wantErr(t, err, state.ErrInvalid)

	found := must(s.CheckSuppressed(ctx, "email", "BOB@example.com", "alice@example.com"))
	same(t, "found", found, map[string]state.Suppression{"bob@example.com": bob})
	equal(t, "other channel", len(must(s.CheckSuppressed(ctx, "sms", "bob@example.com"))), 0)
	equal(t, "no addresses", len(must(s.CheckSuppressed(ctx, "email"))), 0)

	sms := must(s.Suppress(ctx, state.Suppression{Channel: "sms", Address: "+33 6 12-34-56-78", Reason: state.SuppressUnsubscribe, At: t0}))
	equal(t, "sms normalized", sms.Address, "+33612345678")
	equal(t, "sms found", len(must(s.CheckSuppressed(ctx, "sms", "+33612345678"))), 1)

	bob2 := must(s.Suppress(ctx, state.Suppression{Channel: "email", Address: "bob@example.com", Reason: state.SuppressHardBounce, At: at(time.Hour)}))
	a := must(s.Suppress(ctx, state.Suppression{Channel: "email", Address: "ann@example.com", Reason: state.SuppressManual, At: t0}))
	list, next, err := s.ListSuppressions(ctx, "email", state.Page{})
	ok(t, err)
	same(t, "list", list, []state.Suppression{a, bob2})
	equal(t, "next", next, "")

	ok(t, s.Unsuppress(ctx, "email", "BOB@example.com"))
	equal(t, "after unsuppress", len(must(s.CheckSuppressed(ctx, "email", "bob@example.com"))), 0)
	wantErr(t, s.Unsuppress(ctx, "email", "bob@example.com"), state.ErrNotFound)
}

// testSuppressionsBulk checks more addresses than one DynamoDB batch holds.
func testSuppressionsBulk(t *testing.T, s state.Store) {
	ctx := context.Background()
	addr := func(i int) string { return fmt.Sprintf("user%03d@example.com", i) }
	const n = 150
	errs := race(func(r int) error {
		for i := r; i < n; i += racers {
			if _, err := s.Suppress(ctx, state.Suppression{Channel: "email", Address: addr(i), Reason: state.SuppressHardBounce, At: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		ok(t, err)
	}
	var ask []string
	for i := range n + 20 {
		ask = append(ask, strings.ToUpper(addr(i)))
	}
	found := must(s.CheckSuppressed(ctx, "email", ask...))
	equal(t, "found", len(found), n)
	equal(t, "reason", found[addr(149)].Reason, state.SuppressHardBounce)

	first, next, err := s.ListSuppressions(ctx, "email", state.Page{Limit: 100})
	ok(t, err)
	equal(t, "page 1", len(first), 100)
	equal(t, "first", first[0].Address, addr(0))
	rest, next, err := s.ListSuppressions(ctx, "email", state.Page{Limit: 100, After: next})
	ok(t, err)
	equal(t, "page 2", len(rest), 50)
	equal(t, "first of page 2", rest[0].Address, addr(100))
	equal(t, "next", next, "")
}

func testCaps(t *testing.T, s state.Store) {
	ctx := context.Background()
	day := 24 * time.Hour
	equal(t, "no sends", must(s.CountSends(ctx, "cust-1", "email", time.Time{})), 0)
	for i := range 3 {
		ok(t, s.RecordSend(ctx, "cust-1", "email", at(time.Duration(i)*day), name("r", i)))
	}
	ok(t, s.RecordSend(ctx, "cust-1", "email", at(5*day), "r-0")) // recorded already
	equal(t, "all", must(s.CountSends(ctx, "cust-1", "email", time.Time{})), 3)
	equal(t, "since day 1", must(s.CountSends(ctx, "cust-1", "email", at(day))), 2)
	equal(t, "other channel", must(s.CountSends(ctx, "cust-1", "sms", time.Time{})), 0)

	req := state.CapRequest{Recipient: "cust-1", Channel: "email", Max: 3, Since: at(-time.Hour), At: at(3 * day), Ref: "r-3"}
	equal(t, "over the cap", must(s.ReserveCap(ctx, req)), false)
	req.Max = 4
	equal(t, "under the cap", must(s.ReserveCap(ctx, req)), true)
	equal(t, "same ref again", must(s.ReserveCap(ctx, req)), true)
	equal(t, "counted once", must(s.CountSends(ctx, "cust-1", "email", time.Time{})), 4)
	req.Since = at(2 * day)
	req.Ref = ""
	equal(t, "shorter window", must(s.ReserveCap(ctx, req)), true)
	equal(t, "count", must(s.CountSends(ctx, "cust-1", "email", time.Time{})), 5)

	ok(t, s.ReleaseCap(ctx, "cust-1", "email", "r-3"))
	ok(t, s.ReleaseCap(ctx, "cust-1", "email", "r-3"))
	equal(t, "after release", must(s.CountSends(ctx, "cust-1", "email", time.Time{})), 4)
	wantErr(t, s.ReleaseCap(ctx, "cust-1", "email", ""), state.ErrInvalid)

	equal(t, "max 0", must(s.ReserveCap(ctx, state.CapRequest{Recipient: "cust-2", Channel: "email", At: t0})), false)
	_, err := s.ReserveCap(ctx, state.CapRequest{Recipient: "cust-2", Channel: "email", Max: -1, At: t0})
	wantErr(t, err, state.ErrInvalid)
	_, err = s.ReserveCap(ctx, state.CapRequest{Channel: "email", Max: 1, At: t0})
	wantErr(t, err, state.ErrInvalid)

	// Sends older than the retention are forgotten on the next write.
	ok(t, s.RecordSend(ctx, "cust-1", "email", at(100*day), "r-late"))
	equal(t, "after retention", must(s.CountSends(ctx, "cust-1", "email", time.Time{})), 1)
}

func testCapRace(t *testing.T, s state.Store) {
	ctx := context.Background()
	const max = 3
	ok(t, s.RecordSend(ctx, "cust-9", "email", at(-48*time.Hour), "old")) // outside the window
	granted := make([]bool, racers)
	errs := race(func(i int) error {
		var err error
		granted[i], err = s.ReserveCap(ctx, state.CapRequest{Recipient: "cust-9", Channel: "email", Max: max,
			Since: at(-24 * time.Hour), At: at(time.Duration(i) * time.Second), Ref: name("campaign", i)})
		return err
	})
	n := 0
	for i, err := range errs {
		ok(t, err)
		if granted[i] {
			n++
		}
	}
	equal(t, "granted", n, max)
	equal(t, "recorded", must(s.CountSends(ctx, "cust-9", "email", at(-24*time.Hour))), max)
}

// testLedgerBatch: ClaimSends and CompleteSends answer each message as ClaimSend and
// CompleteSend would, in order, the same key twice included.
func testLedgerBatch(t *testing.T, s state.Store) {
	ctx := context.Background()
	key := func(r string) state.SendKey {
		return state.SendKey{RunID: "run-b", Activity: "mail", Channel: "email", Recipient: r}
	}
	before, _ := claim(t, s, key("c1"), "tok-1", t0, time.Minute)
	none := must(s.ClaimSends(ctx, nil, t0, time.Minute))
	equal(t, "empty batch", len(none), 0)

	_, err := s.ClaimSends(ctx, []state.SendClaim{{Key: key("c9")}, {Key: state.SendKey{RunID: "run-b"}}}, t0, time.Minute)
	wantErr(t, err, state.ErrInvalid)
	_, err = s.GetSend(ctx, key("c9"))
	wantErr(t, err, state.ErrNotFound) // nothing of an invalid batch is written
	_, err = s.ClaimSends(ctx, []state.SendClaim{{Key: key("c9")}}, t0, 0)
	wantErr(t, err, state.ErrInvalid)

	res := must(s.ClaimSends(ctx, []state.SendClaim{{Key: key("c1"), Token: "other"}, {Key: key("c2")},
		{Key: key("c3"), Token: "tok-3"}, {Key: key("c2"), Token: "again"}}, at(time.Second), time.Minute))
	equal(t, "results", len(res), 4)
	equal(t, "c1 claimed", res[0].Claimed, false)
	same(t, "c1 as stored before", res[0].Entry, before)
	equal(t, "c2 claimed", res[1].Claimed, true)
	equal(t, "c2 default token", res[1].Entry.Token, key("c2").Token())
	equal(t, "c2 status", res[1].Entry.Status, state.SendPending)
	sameTime(t, "c2 lease", res[1].Entry.LeaseUntil, at(time.Minute+time.Second))
	equal(t, "c3 claimed", res[2].Claimed, true)
	equal(t, "c3 token", res[2].Entry.Token, "tok-3")
	equal(t, "c2 twice: claimed", res[3].Claimed, false)
	same(t, "c2 twice: the first claim's entry", res[3].Entry, res[1].Entry)
	for i, r := range res {
		same(t, name("get", i), must(s.GetSend(ctx, r.Entry.SendKey)), r.Entry)
	}

	sent := must(s.CompleteSend(ctx, before, "m-1", "", at(2*time.Second)))
	missing := state.LedgerEntry{SendKey: key("nobody"), Status: state.SendPending, Attempts: 1}
	done := must(s.CompleteSends(ctx, []state.SendCompletion{{Held: res[1].Entry, MessageID: "m-2", Variant: "A"},
		{Held: before, MessageID: "m-1b"}, {Held: res[2].Entry, MessageID: "m-3"}, {Held: missing, MessageID: "m-x"},
		{Held: res[1].Entry, MessageID: "m-2b"}}, at(3*time.Second)))
	equal(t, "results", len(done), 5)
	ok(t, done[0].Err)
	equal(t, "c2 status", done[0].Entry.Status, state.SendSent)
	equal(t, "c2 message", done[0].Entry.MessageID, "m-2")
	equal(t, "c2 variant", done[0].Entry.Variant, "A")
	sameTime(t, "c2 updatedAt", done[0].Entry.UpdatedAt, at(3*time.Second))
	wantErr(t, done[1].Err, state.ErrConflict) // c1 was completed by its first holder
	ok(t, done[2].Err)
	equal(t, "c3 message", done[2].Entry.MessageID, "m-3")
	wantErr(t, done[3].Err, state.ErrNotFound)
	wantErr(t, done[4].Err, state.ErrConflict) // c2 twice: the first completion holds
	same(t, "c1 kept", must(s.GetSend(ctx, key("c1"))), sent)
	same(t, "c2 stored", must(s.GetSend(ctx, key("c2"))), done[0].Entry)
	same(t, "c3 stored", must(s.GetSend(ctx, key("c3"))), done[2].Entry)
}

// testLedgerBatchRace: batches racing over the same keys claim each key once.
func testLedgerBatchRace(t *testing.T, s state.Store) {
	ctx := context.Background()
	const keys = 20
	claimedBy := make([][]int, keys)
	var mu sync.Mutex
	errs := race(func(i int) error {
		var cs []state.SendClaim
		for k := range keys {
			cs = append(cs, state.SendClaim{Key: state.SendKey{RunID: "run-r", Activity: "a", Channel: "sms", Recipient: name("c", (k+i)%keys)}, Token: name("tok", i)})
		}
		res, err := s.ClaimSends(ctx, cs, t0, time.Minute)
		mu.Lock()
		defer mu.Unlock()
		for j, r := range res {
			if r.Claimed {
				k := (j + i) % keys
				claimedBy[k] = append(claimedBy[k], i)
			}
		}
		return err
	})
	for _, err := range errs {
		ok(t, err)
	}
	for k, by := range claimedBy {
		equal(t, name("claims of c", k), len(by), 1)
		equal(t, name("token of c", k), must(s.GetSend(ctx, state.SendKey{RunID: "run-r", Activity: "a", Channel: "sms", Recipient: name("c", k)})).Token, name("tok", by[0]))
	}
}

// testCapsBatch: ReserveCaps grants in order, as ReserveCap one after another would.
func testCapsBatch(t *testing.T, s state.Store) {
	ctx := context.Background()
	req := func(r string, max int, ref string) state.CapRequest {
		return state.CapRequest{Recipient: r, Channel: "email", Max: max, Since: at(-time.Hour), At: t0, Ref: ref}
	}
	ok(t, s.RecordSend(ctx, "c1", "email", at(-time.Minute), "old"))
	_, err := s.ReserveCaps(ctx, []state.CapRequest{req("c2", 1, "x"), req("", 1, "y")})
	wantErr(t, err, state.ErrInvalid)
	equal(t, "nothing of an invalid batch", must(s.CountSends(ctx, "c2", "email", time.Time{})), 0)

	got := must(s.ReserveCaps(ctx, []state.CapRequest{req("c1", 2, "a"), req("c2", 1, "b"), req("c1", 2, "c"),
		req("c1", 2, "a"), req("c2", 1, "d"), req("c3", 0, "e")}))
	want := []bool{true, true, false, true, false, false}
	equal(t, "results", len(got), len(want))
	for i := range want {
		equal(t, name("granted", i), got[i], want[i])
	}
	equal(t, "c1 counted", must(s.CountSends(ctx, "c1", "email", time.Time{})), 2)
	equal(t, "c2 counted", must(s.CountSends(ctx, "c2", "email", time.Time{})), 1)
	equal(t, "c3 counted", must(s.CountSends(ctx, "c3", "email", time.Time{})), 0)
	equal(t, "empty batch", len(must(s.ReserveCaps(ctx, nil))), 0)
}
