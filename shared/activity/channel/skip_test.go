package channel_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
	"github.com/stepwise-run/stepwise/shared/state"
)

func ids(n int, prefix string, fn func(i int, c *cust)) []cust {
	var out []cust
	for i := 0; i < n; i++ {
		c := cust{ID: prefix + string(rune('a'+i)), Name: "N" + string(rune('a'+i)), Email: prefix + string(rune('a'+i)) + "@example.com",
			Phone: "+3361234567" + string(rune('0'+i)), EmailOK: yes, SMSOK: yes}
		if fn != nil {
			fn(i, &c)
		}
		out = append(out, c)
	}
	return out
}

// Caps count across campaigns per recipient and channel; transactional
// messages are exempt and not counted; the window slides.
func TestCapsAcrossCampaigns(t *testing.T) {
	h := newHarness(t)
	other := newHarnessFor(t, compileTest(t, "testdata/other.yaml"))
	// Both campaigns share one state store, blob store and outbox.
	other.setState(h.store)
	other.deps.Data.Blob = h.deps.Data.Blob
	other.store = h.store
	other.clock = h.clock
	other.env.Clock = h.clock.Now
	pop := ids(3, "k", nil)
	// Campaign B, marketing without capping, mails ka and kb: counted.
	bin := other.population("b1", pop[:2])
	other.run("promo", "b1", false, bin)
	// Campaign A's `capped` allows 1 per 7 days: ka and kb are capped, kc is not.
	in := h.population("a1", pop)
	res := h.run("capped", "a1", false, in)
	sk := byID(h.rows(res, "skipped"), "reason")
	if sk["ka"] != "frequency cap" || sk["kb"] != "frequency cap" || len(sk) != 2 {
		t.Errorf("skipped %v", sk)
	}
	if got := h.sentTo("a1", "capped"); strings.Join(got, ",") != "kc" {
		t.Errorf("capped sent to %v", got)
	}
	// Transactional: exempt, and not counted.
	res = h.run("receipt", "a2", false, h.population("a2", pop))
	if n := res.Counts["out"]; n != 3 {
		t.Errorf("receipt sent %d, want 3", n)
	}
	for _, c := range pop {
		n, _ := h.store.CountSends(context.Background(), "customers:"+c.ID, "email", h.clock.Now().Add(-24*time.Hour))
		want := map[string]int{"ka": 1, "kb": 1, "kc": 1}[c.ID]
		if n != want {
			t.Errorf("%s: %d sends counted, want %d", c.ID, n, want)
		}
	}
	// Test mode reads the caps and counts nothing.
	res = h.run("capped", "a3", true, h.population("a3", pop))
	if res.Counts["out"] != 0 || res.Counts["skipped"] != 3 {
		t.Errorf("test run: %v", res.Counts)
	}
	// Eight days later the cap has room again.
	h.clock.Add(8 * 24 * time.Hour)
	res = h.run("capped", "a4", false, h.population("a4", pop))
	if res.Counts["out"] != 3 {
		t.Errorf("after the cap period: %v", res.Counts)
	}
}

// Quiet hours in each recipient's zone: sent now, held until the zone's
// quiet hours end (a later wave), or skipped when that is past the window.
func TestQuietHoursTimezones(t *testing.T) {
	h := newHarness(t)
	h.clock.Set(time.Date(2026, 6, 1, 20, 30, 0, 0, time.UTC))
	pop := []cust{
		{ID: "q1", Name: "Paris", Phone: "+33612345671", SMSOK: yes, TZ: "Europe/Paris"},       // 22:30: opens 06:00Z, past the 6 h window
		{ID: "q2", Name: "NewYork", Phone: "+12125550102", SMSOK: yes, TZ: "America/New_York"}, // 16:30: now
		{ID: "q3", Name: "Tokyo", Phone: "+81312345673", SMSOK: yes, TZ: "Asia/Tokyo"},         // 05:30: opens 23:00Z
		{ID: "q4", Name: "NoZone", Phone: "+33612345674", SMSOK: yes},                          // campaign zone (Paris)
		{ID: "q5", Name: "LA", Phone: "+13105550105", SMSOK: yes, TZ: "America/Los_Angeles"},   // 13:30: now
		{ID: "q6", Name: "Mars", Phone: "+33612345676", SMSOK: yes, TZ: "Mars/Olympus"},        // unknown: campaign zone
		{ID: "q7", Name: "Kolkata", Phone: "+919812345677", SMSOK: yes, TZ: "Asia/Kolkata"},    // 02:00: opens 02:30Z = window end
	}
	in := h.population("qh", pop)
	res := h.plan("quiet", "qh", false, in)
	var waves []channel.Wave
	for _, w := range res.Extra["waves"].([]channel.Wave) {
		waves = append(waves, w)
	}
	if len(waves) != 2 || waves[0].At != "2026-06-01T20:30:00Z" || waves[1].At != "2026-06-01T23:00:00Z" ||
		waves[0].Slices[0].Count != 2 || waves[1].Slices[0].Count != 1 {
		t.Fatalf("waves %+v", waves)
	}
	// Wave 1 now; wave 2 after its Wait (the clock moves to 23:00).
	if _, err := h.send(context.Background(), "quiet", "qh", false, in, waves[0].Slices[0]); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(time.Date(2026, 6, 1, 23, 0, 5, 0, time.UTC))
	if _, err := h.send(context.Background(), "quiet", "qh", false, in, waves[1].Slices[0]); err != nil {
		t.Fatal(err)
	}
	fin, err := h.finish("quiet", "qh", false, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.sentTo("qh", "quiet"), ","); got != "q2,q3,q5" {
		t.Errorf("sent to %s", got)
	}
	sk := byID(h.rows(fin, "skipped"), "reason")
	for _, id := range []string{"q1", "q4", "q6", "q7"} {
		if sk[id] != "quiet hours" {
			t.Errorf("%s: %q", id, sk[id])
		}
	}
	// Local runs with --wait skip do not wait: the wave's instant counts, so
	// Tokyo is not in quiet hours and is sent.
	h.clock.Set(time.Date(2026, 6, 1, 20, 30, 0, 0, time.UTC))
	res = h.run("quiet", "qh2", false, h.population("qh2", pop))
	if got := strings.Join(h.sentTo("qh2", "quiet"), ","); got != "q2,q3,q5" {
		t.Errorf("skipped waits: sent to %s", got)
	}
	// A wave that starts after the window ended skips its recipients.
	h.clock.Set(time.Date(2026, 6, 2, 1, 0, 0, 0, time.UTC))
	plan := h.plan("quiet", "qh3", false, h.population("qh3", pop))
	h.clock.Set(time.Date(2026, 6, 2, 9, 0, 0, 0, time.UTC)) // the window (6 h from 01:00) is over
	for _, sl := range slices(plan) {
		h.send(context.Background(), "quiet", "qh3", false, h.population("qh3", pop), sl)
	}
	fin, err = h.finish("quiet", "qh3", false, h.population("qh3", pop))
	if err != nil {
		t.Fatal(err)
	}
	sk = byID(h.rows(fin, "skipped"), "reason")
	if sk["q5"] != "window ended" || sk["q2"] != "quiet hours" || fin.Counts["out"] != 0 {
		t.Errorf("after the window: %v", sk)
	}
}

// Each remaining skip reason: render error (per recipient, never the slice),
// window ended, test mode sending nothing.
func TestRenderErrorsAndWindow(t *testing.T) {
	h := newHarness(t)
	pop := []cust{
		{ID: "r1", Name: "Ok", Push: "tok-1", Tier: "Z29sZA=="}, // base64 "gold"
		{ID: "r2", Name: "Bad", Push: "tok-2", Tier: "!!!"},     // not base64
		{ID: "r3", Name: "NoTier", Push: "tok-3"},               // renders an empty title, body stays
		{ID: "r4", Name: "NoToken"},
	}
	res := h.run("decode", "p1", false, h.population("p1", pop))
	sk := byID(h.rows(res, "skipped"), "reason")
	if !strings.HasPrefix(sk["r2"], "render error: ") || sk["r4"] != "no address" || len(sk) != 2 {
		t.Errorf("skipped %v", sk)
	}
	recs, _ := outbox.ReadFile(outbox.Path(h.outbox.Dir(), "p1", "decode"))
	if len(recs) != 2 || recs[0].Channel != "push" {
		t.Fatalf("push messages %+v", recs)
	}
	for _, r := range recs {
		if r.Tags["recipient"] == "r1" && (r.Title != "gold" || r.Text != "Hi Ok" || r.Data["link"] != "https://shop.example/r1") {
			t.Errorf("push %+v", r.Message)
		}
	}
	// window: 1h; the slice runs two hours after the plan.
	in := h.population("w1", ids(3, "w", nil))
	plan := h.plan("windowed", "w1", false, in)
	h.clock.Add(2 * time.Hour)
	for _, sl := range slices(plan) {
		if _, err := h.send(context.Background(), "windowed", "w1", false, in, sl); err != nil {
			t.Fatal(err)
		}
	}
	fin, err := h.finish("windowed", "w1", false, in)
	if err != nil {
		t.Fatal(err)
	}
	if sk := byID(h.rows(fin, "skipped"), "reason"); len(sk) != 3 || sk["wa"] != "window ended" {
		t.Errorf("window: %v", sk)
	}
}

// Test mode renders every message and counts, but sends nothing and writes
// no ledger, caps or slice markers.
func TestTestModeSendsNothing(t *testing.T) {
	ctx := context.Background()
	// news has an experiment (every send has a variant), crash none.
	for _, act := range []string{"news", "crash"} {
		h := newHarness(t)
		h.deps.Sender = failSender{}
		in := h.population("t1", basePopulation())
		var sent, skipped, kept, variants int64
		for _, sl := range slices(h.plan(act, "t1", true, in)) {
			r, err := h.send(ctx, act, "t1", true, in, sl)
			if err != nil {
				t.Fatal(err)
			}
			// A retried slice finds its part and reports the same counts.
			again, err := h.send(ctx, act, "t1", true, in, sl)
			if err != nil || again.Counts["out"] != r.Counts["out"] || again.Counts["skipped"] != r.Counts["skipped"] {
				t.Errorf("%s slice %d again: %v %v, first %v", act, sl.Index, again, err, r.Counts)
			}
			sent, skipped = sent+r.Counts["out"], skipped+r.Counts["skipped"]
			// A test part keeps what the finish cannot infer: skipped rows and
			// variants. A plain send is left out.
			part := dataset.Ref(fmt.Sprintf("runs/t1/%s/_parts/%06d", act, sl.Index))
			if _, err := h.engine().Stream(ctx, part, dataset.StreamOptions{}, func(b *dataset.Batch) error {
				for _, row := range b.Rows {
					kept++
					if v, _ := row[3].(string); row[1] == "sent" && v != "" {
						variants++
					} else if row[1] != "skipped" {
						t.Errorf("%s slice %d: test part row %v", act, sl.Index, row)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if kept != skipped+variants || (act == "crash" && variants != 0) || (act == "news" && variants == 0) {
			t.Errorf("%s: test parts keep %d rows: %d skipped, %d with a variant", act, kept, skipped, variants)
		}
		res, err := h.finish(act, "t1", true, in)
		if err != nil {
			t.Fatal(err)
		}
		live := newHarness(t)
		lres := live.run(act, "t1", false, live.population("t1", basePopulation()))
		if res.Counts["out"] != lres.Counts["out"] || res.Counts["skipped"] != lres.Counts["skipped"] || sent != res.Counts["out"] {
			t.Errorf("%s: test %v (slices: %d sent), live %v", act, res.Counts, sent, lres.Counts)
		}
		// The same recipients on each port, for the same reasons and variants.
		for _, c := range [][2]string{{"out", "variant"}, {"skipped", "reason"}} {
			got, want := byID(h.rows(res, c[0]), c[1]), byID(live.rows(lres, c[0]), c[1])
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s %s: test %v, live %v", act, c[0], got, want)
			}
		}
		if skipped == 0 || sent == 0 {
			t.Fatalf("%s: the population should have sent and skipped rows in its slices: %d, %d", act, sent, skipped)
		}
		for _, r := range h.rows(res, "out") {
			if r["messageId"] != nil {
				t.Errorf("test mode message id %v", r["messageId"])
			}
		}
		if len(h.sentTo("t1", act)) != 0 || len(h.store.sends) != 0 || len(h.store.caps) != 0 || len(h.store.keys) != 0 {
			t.Errorf("test mode wrote: outbox %v, ledger %d, caps %d, keys %d", h.sentTo("t1", act), len(h.store.sends), len(h.store.caps), len(h.store.keys))
		}
	}
}

type failSender struct{}

func (failSender) Send(context.Context, *send.Message) (string, error) {
	return "", errors.New("test mode must not send")
}

// rejectSender rejects every address starting with "x".
type rejectSender struct{ inner send.Sender }

func (r rejectSender) Send(ctx context.Context, m *send.Message) (string, error) {
	if strings.HasPrefix(m.To, "x") {
		return "", &send.Permanent{Msg: "550 mailbox unavailable"}
	}
	return r.inner.Send(ctx, m)
}

// Past maxErrors failed sends the activity pauses (activity.Paused); the
// resumed slice sends the rest, keeps the rejected ones rejected, and sends
// nobody twice.
func TestPauseAndResume(t *testing.T) {
	h := newHarnessFor(t, compileTest(t, "testdata/other.yaml"))
	h.opts.Workers = 1
	pop := ids(10, "x", func(i int, c *cust) {
		if i >= 5 {
			c.ID, c.Email = "ok"+c.ID, "ok"+c.Email
		}
	})
	in := h.population("pz", pop)
	h.deps.Sender = rejectSender{h.outbox}
	plan := h.plan("pausing", "pz", false, in)
	sl := slices(plan)[0]
	_, err := h.send(context.Background(), "pausing", "pz", false, in, sl)
	var paused *activity.Paused
	if !errors.As(err, &paused) {
		t.Fatalf("want Paused, got %v", err)
	}
	// Resume: the provider now accepts everyone but the rejected stay rejected.
	h.deps.Sender = h.outbox
	if _, err := h.send(context.Background(), "pausing", "pz", false, in, sl); err != nil {
		t.Fatal(err)
	}
	fin, err := h.finish("pausing", "pz", false, in)
	if err != nil {
		t.Fatal(err)
	}
	sk := byID(h.rows(fin, "skipped"), "reason")
	var rejected []string
	for id, r := range sk {
		if strings.HasPrefix(r, "rejected: ") {
			rejected = append(rejected, id)
		}
	}
	sort.Strings(rejected)
	sent := h.sentTo("pz", "pausing")
	if len(rejected) != 3 || len(sent)+len(rejected) != 10 {
		t.Errorf("rejected %v, sent %v", rejected, sent)
	}
	seen := map[string]bool{}
	for _, s := range sent {
		if seen[s] {
			t.Errorf("%s sent twice", s)
		}
		seen[s] = true
	}
}

type signals map[string]bool

func (s signals) Take(_ context.Context, run, name string) bool {
	ok := s[run+"/"+name]
	delete(s, run+"/"+name)
	return ok
}

// confirm: true holds live sends until the run is confirmed (a state key
// from the API, or a local signal); test runs are never held.
func TestConfirmHold(t *testing.T) {
	h := newHarness(t)
	in := h.population("cf", ids(2, "f", nil))
	res := h.plan("confirmed", "cf", false, in)
	if res.Extra["held"] != true {
		t.Fatalf("not held: %v", res.Extra)
	}
	conf := func() *activity.Result {
		r, err := h.do(context.Background(), h.request("confirmed", "cf", false, in, channel.PhaseConfirm))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := conf(); r.Extra["held"] != true || len(r.Slices) != 1 {
		t.Fatalf("confirm poll: %+v", r)
	}
	h.store.PutKey(context.Background(), state.Key{Key: state.ConfirmKey("cf", "confirmed"), CreatedAt: h.clock.Now()})
	if r := conf(); r.Extra["held"] != false || len(r.Slices) != 1 {
		t.Fatalf("after confirmation: %+v", r)
	}
	// A local signal confirms, and is recorded as the key.
	in2 := h.population("cf2", ids(2, "f", nil))
	if r := h.plan("confirmed", "cf2", false, in2); r.Extra["held"] != true {
		t.Fatal("cf2 not held")
	}
	h.deps.Signals = signals{"cf2/" + channel.ConfirmSignal("confirmed"): true}
	r, err := h.do(context.Background(), h.request("confirmed", "cf2", false, in2, channel.PhaseConfirm))
	if err != nil || r.Extra["held"] != false {
		t.Fatalf("signal: %+v %v", r, err)
	}
	if _, err := h.store.GetKey(context.Background(), state.ConfirmKey("cf2", "confirmed"), h.clock.Now()); err != nil {
		t.Errorf("signal not recorded: %v", err)
	}
	if r := h.plan("confirmed", "cf3", true, h.population("cf3", ids(1, "f", nil))); r.Extra["held"] != false {
		t.Errorf("test run held")
	}
}

// An empty population, and one where nobody is eligible, end with empty ports.
func TestEmptyPopulations(t *testing.T) {
	h := newHarness(t)
	res := h.run("news", "e0", false, h.population("e0", nil))
	if res.Counts["out"] != 0 || res.Counts["skipped"] != 0 || res.Ports["out"] == nil || res.Ports["skipped"] == nil {
		t.Errorf("empty: %+v", res)
	}
	res = h.run("quiet", "e1", false, h.population("e1", []cust{{ID: "z", Name: "Z"}}))
	if res.Counts["out"] != 0 || res.Counts["skipped"] != 1 {
		t.Errorf("none eligible: %+v", res.Counts)
	}
}

type panicSender struct{}

func (panicSender) Send(context.Context, *send.Message) (string, error) {
	panic("broken provider adapter")
}

// A sender that always panics fails the slice with an error; the process and
// the workers survive, and nothing hangs.
func TestPanickingSender(t *testing.T) {
	h := newHarness(t)
	h.deps.Sender = panicSender{}
	in := h.population("ps", ids(20, "p", nil))
	plan := h.plan("receipt", "ps", false, in)
	_, err := h.send(context.Background(), "receipt", "ps", false, in, slices(plan)[0])
	if err == nil || !strings.Contains(err.Error(), "panic while sending") {
		t.Fatalf("got %v", err)
	}
	h.deps.Sender = h.outbox
	h.clock.Add(5 * time.Minute)
	if res := h.run("receipt", "ps", false, in); res.Counts["out"] != 20 {
		t.Errorf("after the fix: %v", res.Counts)
	}
	if got := h.sentTo("ps", "receipt"); len(got) != 20 {
		t.Errorf("sent %d", len(got))
	}
}

// With a unique key the plan numbers the send order over the keys and sorts the rows
// once; otherwise it sorts them twice. Both write the same bytes (part files are named
// by their content), waves and skips included.
func TestPlanPathsAgree(t *testing.T) {
	h := newHarness(t)
	h.clock.Set(time.Date(2026, 6, 1, 20, 30, 0, 0, time.UTC))
	pop := []cust{
		{ID: "q1", Name: "Paris", Phone: "+33612345671", SMSOK: yes, TZ: "Europe/Paris"},
		{ID: "q2", Name: "NewYork", Phone: "+12125550102", SMSOK: yes, TZ: "America/New_York"},
		{ID: "q3", Name: "Tokyo", Phone: "+81312345673", SMSOK: yes, TZ: "Asia/Tokyo"},
		{ID: "q4", Name: "NoZone", Phone: "+33612345674", SMSOK: yes},
		{ID: "q5", Name: "LA", Phone: "+13105550105", SMSOK: yes, TZ: "America/Los_Angeles"},
		{ID: "q6", Name: "NoConsent", Phone: "+33612345676", SMSOK: no, TZ: "Europe/Paris"},
		{ID: "q7", Name: "NoPhone", SMSOK: yes, TZ: "Asia/Kolkata"},
		{ID: "q8", Name: "Kolkata", Phone: "+919812345677", SMSOK: yes, TZ: "Asia/Kolkata"},
	}
	planFiles := func(run string) []string {
		h.plan("quiet", run, false, h.population(run, pop))
		m, err := dataset.ReadManifest(context.Background(), h.engine().Store(), dataset.Ref("runs/"+run+"/quiet/_plan"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Rows != int64(len(pop)) {
			t.Fatalf("plan of %s: %d rows", run, m.Rows)
		}
		return m.Files
	}
	keyed := planFiles("keyed")
	*channel.PlanByKey = false
	defer func() { *channel.PlanByKey = true }()
	if copied := planFiles("sorted-twice"); strings.Join(keyed, ",") != strings.Join(copied, ",") {
		t.Fatalf("the plans differ: %v and %v", keyed, copied)
	}
}

// A plan without quiet hours (every row in the default wave, or skipped past
// its window) is the same bytes whether or not it joins the zones.
func TestPlanConstantWavesAgree(t *testing.T) {
	h := newHarness(t)
	h.clock.Set(time.Date(2026, 6, 1, 20, 30, 0, 0, time.UTC))
	pop := []cust{
		{ID: "w1", Name: "Paris", Phone: "+33612345671", SMSOK: yes, TZ: "Europe/Paris"},
		{ID: "w2", Name: "NoZone", Phone: "+33612345674", SMSOK: yes},
		{ID: "w3", Name: "NoConsent", Phone: "+33612345676", SMSOK: no, TZ: "Asia/Tokyo"},
		{ID: "w4", Name: "NoPhone", SMSOK: yes, TZ: "Asia/Kolkata"},
	}
	for _, act := range []string{"windowed", "receipt"} {
		planFiles := func(run string) []string {
			h.plan(act, run, false, h.population(run, pop))
			m, err := dataset.ReadManifest(context.Background(), h.engine().Store(), dataset.Ref("runs/"+run+"/"+act+"/_plan"))
			if err != nil {
				t.Fatal(err)
			}
			if m.Rows != int64(len(pop)) {
				t.Fatalf("plan of %s: %d rows", run, m.Rows)
			}
			return m.Files
		}
		constant := planFiles("const-" + act)
		*channel.PlanConstWaves = false
		joined := planFiles("zones-" + act)
		*channel.PlanConstWaves = true
		if strings.Join(constant, ",") != strings.Join(joined, ",") {
			t.Fatalf("%s: the plans differ: %v and %v", act, constant, joined)
		}
	}
}

// A plan of a narrow input without quiet hours numbers the key in the
// input's own files; its bytes are those of the window over the joined rows,
// in one wave or with every row skipped past its window.
func TestPlanOwnKeysAgree(t *testing.T) {
	h := newHarness(t)
	h.clock.Set(time.Date(2026, 6, 1, 20, 30, 0, 0, time.UTC))
	pop := []cust{
		{ID: "k3", Name: "C", Email: "c@example.com", Phone: "+33612345673", EmailOK: yes, SMSOK: yes, TZ: "Europe/Paris"},
		{ID: "k1", Name: "A", Email: "a@example.com", Phone: "+33612345671", EmailOK: yes, SMSOK: no},
		{ID: "k10", Name: "J", Email: "j@example.com", EmailOK: no, SMSOK: yes, TZ: "Asia/Tokyo"},
		{ID: "k2", Name: "B", Phone: "+33612345672", EmailOK: yes, SMSOK: yes},
		{ID: "K4", Name: "D", Email: "d@example.com", Phone: "+33612345674", EmailOK: yes, SMSOK: yes, TZ: "America/New_York"},
		{ID: "k5", Email: "e@example.com", EmailOK: yes},
	}
	for _, act := range []string{"receipt", "windowed"} {
		planFiles := func(run string) []string {
			t.Helper()
			h.plan(act, run, false, h.narrowPopulation(run, pop))
			m, err := dataset.ReadManifest(context.Background(), h.engine().Store(), dataset.Ref("runs/"+run+"/"+act+"/_plan"))
			if err != nil {
				t.Fatal(err)
			}
			if m.Rows != int64(len(pop)) || m.Base == nil {
				t.Fatalf("plan of %s: %d rows, base %v", run, m.Rows, m.Base)
			}
			return m.Files
		}
		own := planFiles("own-" + act)
		*channel.PlanOwnKeys = false
		window := planFiles("window-" + act)
		*channel.PlanOwnKeys = true
		if strings.Join(own, ",") != strings.Join(window, ",") {
			t.Fatalf("%s: the plans differ: %v and %v", act, own, window)
		}
	}
}

// narrowPopulation writes rows as a wide keyed dataset and, over it, the
// output of `everyone` in run, narrow (its files hold the key alone, in
// descending key order), and returns that input.
func (h *harness) narrowPopulation(run string, rows []cust) activity.Input {
	h.t.Helper()
	ctx := context.Background()
	wide := h.population(run+"-base", rows)
	view := "narrow_" + strings.ReplaceAll(run, "-", "_")
	if _, err := h.engine().StageInput(ctx, view, dataset.Ref(*wide.Ref)); err != nil {
		h.t.Fatal(err)
	}
	cols := []string{"firstName", "email", "phone", "pushToken", "tier", "emailOptIn", "smsOptIn", "timezone"}
	ref := dataset.PortRef(run, "everyone", "out")
	m, err := h.engine().Write(ctx, dataset.Output{Ref: ref, Dimension: "customers", Key: []string{"customerId"},
		Base: &dataset.Base{Ref: dataset.Ref(*wide.Ref), Columns: cols}}, "SELECT * FROM "+dataset.QuoteIdent(view)+` ORDER BY "customerId" DESC`)
	if err != nil {
		h.t.Fatal(err)
	}
	if m.Base == nil || len(m.Base.Columns) != len(cols) {
		h.t.Fatalf("population of %s is not narrow: %+v", run, m.Base)
	}
	s := string(ref)
	return activity.Input{From: "everyone", Port: "out", Ref: &s, Count: m.Rows}
}
