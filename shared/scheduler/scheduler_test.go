package scheduler_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/scheduler"
	"github.com/stepwise-run/stepwise/shared/state"
)

var paris, _ = time.LoadLocation("Europe/Paris")

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, paris)
	if err != nil {
		panic(err)
	}
	return t
}

// publish records a published campaign with a schedule, as the API does.
func publish(t *testing.T, st state.Store, id string, sched state.Schedule, publishedAt time.Time) {
	t.Helper()
	ctx := context.Background()
	c, err := st.CreateCampaign(ctx, state.Campaign{ID: id, Draft: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	to := state.CampaignScheduled
	c, err = st.PublishVersion(ctx, state.Version{CampaignID: id, Number: 1, Document: []byte("x"), CreatedAt: publishedAt}, c.Status, to)
	if err != nil {
		t.Fatal(err)
	}
	c.Schedule = &sched
	if _, err := st.UpdateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
}

// firer starts runs like api.Server.Fire (run id of the firing, the slot as key) and
// counts the runs per slot.
type firer struct {
	mu    sync.Mutex
	st    state.Store
	runs  map[time.Time]int
	fail  int // fail this many calls after the claim (a crash before the run starts)
	calls int
}

func (f *firer) fire(ctx context.Context, fr state.Firing) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail > 0 {
		f.fail--
		return errors.New("crashed before starting the run")
	}
	_, existed, err := f.st.StartRun(ctx, state.Run{ID: fr.RunID, CampaignID: fr.CampaignID, Version: 1, IdempotencyKey: "schedule/" + fr.Slot.Format(time.RFC3339)})
	if err != nil {
		return err
	}
	if !existed {
		f.runs[fr.Slot.UTC()]++
	}
	return nil
}

func newScheduler(st state.Store, f *firer) *scheduler.Scheduler {
	return &scheduler.Scheduler{Store: st, Fire: f.fire, Grace: 15 * time.Minute, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func firings(t *testing.T, st state.Store, id string) map[time.Time]state.Firing {
	t.Helper()
	fs, _, err := st.ListFirings(context.Background(), id, state.Page{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[time.Time]state.Firing{}
	for _, f := range fs {
		out[f.Slot.UTC()] = f
	}
	return out
}

// A daily 09:00 Paris cron across restarts (fake clock): each slot fires once, none is
// lost, slots found too late are recorded expired, and a crash between the claim and
// the run's start is repaired within the grace period.
func TestRestartNoLossNoDoubleFire(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	st, err := boltstate.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	f := &firer{st: st, runs: map[time.Time]int{}}
	publish(t, st, "daily", state.Schedule{Cron: "0 9 * * *", Timezone: "Europe/Paris", From: "2026-03-01", Until: "2026-03-31"}, at("2026-02-27 12:00"))

	s := newScheduler(st, f)
	// Before the window: nothing; the next slot is the window's first 09:00.
	next, err := s.Tick(ctx, at("2026-02-28 10:00"))
	if err != nil || !next.Equal(at("2026-03-01 09:00")) || len(f.runs) != 0 {
		t.Fatalf("before the window: next %v err %v runs %v", next, err, f.runs)
	}
	// Day 1, a little late: fires; ticking again does not fire again.
	for _, now := range []string{"2026-03-01 09:00", "2026-03-01 09:05", "2026-03-01 09:05", "2026-03-01 12:00"} {
		if _, err := s.Tick(ctx, at(now)); err != nil {
			t.Fatal(err)
		}
	}
	if f.runs[at("2026-03-01 09:00").UTC()] != 1 || len(f.runs) != 1 {
		t.Fatalf("day 1: %v", f.runs)
	}
	// The campaign is live after its first run (set by the API's Fire; here by hand).

	// Crash: the process stops; it comes back on day 4 at 09:10 with a new scheduler.
	st.Close()
	st, err = boltstate.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f.st = st
	s = newScheduler(st, f)
	f.fail = 1 // and the first firing after the restart crashes before its run starts
	if _, err := s.Tick(ctx, at("2026-03-04 09:10")); err == nil {
		t.Fatal("the crashed firing should report its error")
	}
	if _, err := s.Tick(ctx, at("2026-03-04 09:12")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tick(ctx, at("2026-03-04 09:14")); err != nil {
		t.Fatal(err)
	}
	fs := firings(t, st, "daily")
	for _, day := range []string{"2026-03-02 09:00", "2026-03-03 09:00"} {
		if fr := fs[at(day).UTC()]; fr.Status != state.FiringExpired || fr.Reason == "" {
			t.Errorf("%s: want expired with a reason, got %+v", day, fr)
		}
		if f.runs[at(day).UTC()] != 0 {
			t.Errorf("%s: an expired slot fired", day)
		}
	}
	if fr := fs[at("2026-03-04 09:00").UTC()]; fr.Status != state.FiringFired || f.runs[at("2026-03-04 09:00").UTC()] != 1 {
		t.Fatalf("day 4: firing %+v, runs %d", fr, f.runs[at("2026-03-04 09:00").UTC()])
	}
	if _, err := st.GetRun(ctx, fs[at("2026-03-04 09:00").UTC()].RunID); err != nil {
		t.Fatalf("day 4: the run has the firing's id: %v", err)
	}

	// Two schedulers racing on the same store at the same slot: one run.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			newScheduler(st, f).Tick(ctx, at("2026-03-05 09:01"))
		}()
	}
	wg.Wait()
	if f.runs[at("2026-03-05 09:00").UTC()] != 1 {
		t.Fatalf("day 5: %d runs", f.runs[at("2026-03-05 09:00").UTC()])
	}
	for slot, n := range f.runs {
		if n != 1 {
			t.Errorf("slot %v ran %d times", slot, n)
		}
	}

	// After the window's last slot the campaign completes.
	if _, err := st.SetCampaignStatus(ctx, "daily", state.CampaignScheduled, state.CampaignLive, at("2026-03-05 10:00")); err != nil {
		t.Fatal(err)
	}
	runs, _, _ := st.ListRuns(ctx, "daily", state.Page{})
	for _, r := range runs {
		st.SetRunStatus(ctx, r.ID, state.RunRunning, state.RunSucceeded, "", time.Now())
	}
	next, err = s.Tick(ctx, at("2026-04-02 09:00"))
	if err != nil || !next.IsZero() {
		t.Fatalf("after the window: next %v err %v", next, err)
	}
	c, _ := st.GetCampaign(ctx, "daily")
	if c.Status != state.CampaignCompleted {
		t.Fatalf("after the window: %s", c.Status)
	}
	fs = firings(t, st, "daily")
	if fr := fs[at("2026-03-31 09:00").UTC()]; fr.Status != state.FiringExpired {
		t.Fatalf("the window's last slot, found late: %+v", fr)
	}
	if _, ok := fs[at("2026-04-01 09:00").UTC()]; ok {
		t.Fatal("a slot after until was claimed")
	}
}

func TestPlans(t *testing.T) {
	pub := at("2026-03-01 10:17").UTC()
	cases := []struct {
		name  string
		s     state.Schedule
		after time.Time
		want  []time.Time
	}{
		{"cron in the zone across DST", state.Schedule{Cron: "0 9 * * *", Timezone: "Europe/Paris"}, at("2026-03-28 10:00"),
			[]time.Time{time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC)}},
		{"weekdays", state.Schedule{Cron: "30 8 * * 1-5", Timezone: "UTC"}, time.Date(2026, 3, 6, 9, 0, 0, 0, time.UTC),
			[]time.Time{time.Date(2026, 3, 9, 8, 30, 0, 0, time.UTC)}},
		{"every from the publish time", state.Schedule{Every: "6h", Timezone: "Europe/Paris"}, pub.Add(-time.Nanosecond),
			[]time.Time{pub, pub.Add(6 * time.Hour), pub.Add(12 * time.Hour)}},
		{"every from the window", state.Schedule{Every: "12h", From: "2026-03-02", Timezone: "Europe/Paris"}, pub,
			[]time.Time{at("2026-03-02 00:00").UTC(), at("2026-03-02 12:00").UTC()}},
		{"every with a past from starts at the publish time", state.Schedule{Every: "12h", From: "2026-02-01", Timezone: "Europe/Paris"}, pub.Add(-time.Nanosecond),
			[]time.Time{pub, pub.Add(12 * time.Hour)}},
		{"at, once", state.Schedule{At: "2026-03-05T09:00:00", Timezone: "Europe/Paris"}, pub,
			[]time.Time{at("2026-03-05 09:00").UTC(), {}}},
		{"until is inclusive of its day", state.Schedule{Cron: "0 23 * * *", Until: "2026-03-02", Timezone: "Europe/Paris"}, pub,
			[]time.Time{at("2026-03-01 23:00").UTC(), at("2026-03-02 23:00").UTC(), {}}},
	}
	for _, c := range cases {
		p, err := scheduler.NewPlan(c.s, pub)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		after := c.after
		for i, w := range c.want {
			got := p.Next(after)
			if !got.Equal(w) {
				t.Errorf("%s: slot %d = %v, want %v", c.name, i, got, w)
				break
			}
			after = got
		}
	}
}

// A `from` already past when the campaign is published means from the publish time:
// the first `every` slot is the publish time itself, and no slot before it fires.
func TestPastFromStartsAtPublish(t *testing.T) {
	ctx := context.Background()
	st, err := boltstate.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := &firer{st: st, runs: map[time.Time]int{}}
	pub := at("2026-03-01 10:17")
	from := pub.AddDate(0, 0, -40).Format("2006-01-02")
	publish(t, st, "periodic", state.Schedule{Every: "6h", From: from, Timezone: "Europe/Paris"}, pub)
	s := newScheduler(st, f)
	next, err := s.Tick(ctx, pub)
	if err != nil {
		t.Fatal(err)
	}
	if f.runs[pub.UTC()] != 1 || len(f.runs) != 1 || !next.Equal(pub.Add(6*time.Hour)) {
		t.Fatalf("runs %v, next %v; want one run at the publish time %v, next 6h later", f.runs, next, pub.UTC())
	}
}

func TestCheckNotExpired(t *testing.T) {
	now := at("2026-03-01 10:17")
	day := func(d int) string { return now.AddDate(0, 0, d).Format("2006-01-02") }
	stamp := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	for _, c := range []struct {
		name string
		s    state.Schedule
		path string // "" when the schedule can still fire
	}{
		{"no window", state.Schedule{Cron: "0 9 * * *"}, ""},
		{"past from, future until", state.Schedule{Cron: "0 9 * * *", From: day(-30), Until: day(30), Timezone: "Europe/Paris"}, ""},
		{"until today covers the whole day", state.Schedule{Cron: "0 23 * * *", Until: day(0), Timezone: "Europe/Paris"}, ""},
		{"until passed", state.Schedule{Cron: "0 9 * * *", From: day(-30), Until: day(-1), Timezone: "Europe/Paris"}, "schedule.until"},
		{"until passed, every", state.Schedule{Every: "6h", Until: stamp(-time.Minute)}, "schedule.until"},
		{"no slot before until", state.Schedule{Cron: "0 9 * * *", Until: stamp(time.Hour), Timezone: "Europe/Paris"}, "schedule"},
		{"at to come", state.Schedule{At: stamp(time.Hour)}, ""},
		{"at passed", state.Schedule{At: stamp(-time.Hour)}, "schedule.at"},
	} {
		err := scheduler.CheckNotExpired(c.s, now)
		var ee *scheduler.ExpiredError
		switch {
		case c.path == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.path != "" && (!errors.As(err, &ee) || ee.Path != c.path):
			t.Errorf("%s: got %v, want an expiry at %s", c.name, err, c.path)
		}
	}
	// The same schedules, seen from ten years on: every dated window has passed.
	later := now.AddDate(10, 0, 0)
	if err := scheduler.CheckNotExpired(state.Schedule{Cron: "0 9 * * *", Until: day(30)}, later); err == nil {
		t.Error("a window ended ten years ago is expired")
	}
	if err := scheduler.CheckNotExpired(state.Schedule{Cron: "0 9 * * *", From: day(30)}, later); err != nil {
		t.Errorf("an open-ended window never expires: %v", err)
	}
}
