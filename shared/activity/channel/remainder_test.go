package channel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/send"
)

// A slice's expected duration at the rate it will get stays within the
// function's timeout: the provider ceiling (SEND_RATE) counts, not only the
// activity's rate.
func TestSliceSizing(t *testing.T) {
	const timeout = 900 * time.Second
	budget := channel.SliceBudget(timeout)
	if budget >= timeout {
		t.Fatalf("budget %v leaves no margin in %v", budget, timeout)
	}
	for _, c := range []struct {
		name     string
		x        channel.Config
		provider float64
		rate     float64 // per slice
	}{
		{"no rate, SEND_RATE=14", channel.Config{}, 14, 14.0 / channel.DefaultConcurrency},
		{"rate above the ceiling", channel.Config{Rate: 100}, 14, 14.0 / channel.DefaultConcurrency},
		{"rate below the ceiling", channel.Config{Rate: 8, Concurrency: 2}, 14, 4},
		{"concurrency shares the ceiling", channel.Config{Concurrency: 7}, 14, 2},
	} {
		s := channel.NewSizing(&c.x, c.provider, timeout)
		if s.Rate != c.rate {
			t.Errorf("%s: rate %v per slice, want %v", c.name, s.Rate, c.rate)
		}
		if d := time.Duration(float64(s.SliceSize) / s.Rate * float64(time.Second)); d > budget {
			t.Errorf("%s: %d rows take %v at %v/s, more than %v of %v", c.name, s.SliceSize, d, s.Rate, budget, timeout)
		}
		if s.SliceSize < int(s.Rate*budget.Seconds())-1 {
			t.Errorf("%s: %d rows is smaller than needed", c.name, s.SliceSize)
		}
	}
	// 14/s shared by 4 slices for 600 s of 900.
	if s := channel.NewSizing(&channel.Config{}, 14, timeout); s.SliceSize != 2100 {
		t.Errorf("SEND_RATE=14, 900 s: %d rows, want 2100", s.SliceSize)
	}
	// Nothing limits: the configured size; without a deadline, Lambda's 15 min.
	if s := channel.NewSizing(&channel.Config{}, 0, 0); s.SliceSize != channel.DefaultSliceSize || s.Timeout != channel.MaxFunctionTimeout {
		t.Errorf("no limits: %+v", s)
	}
	if s := channel.NewSizing(&channel.Config{SliceSize: 500}, 14, timeout); s.SliceSize != 500 {
		t.Errorf("sliceSize 500: %d", s.SliceSize)
	}
}

// The plan sizes its slices by the sender's provider ceiling and its own
// invocation's time, and stores the sizing: the finish and a later plan
// (after SEND_RATE changed) see the same slices.
func TestPlanSlicesByProviderRate(t *testing.T) {
	h := newHarness(t)
	var rows []cust
	for i := range 5000 {
		rows = append(rows, cust{ID: fmt.Sprintf("c%05d", i), Name: "N", Email: fmt.Sprintf("c%d@example.com", i), EmailOK: yes})
	}
	in := h.population("sized", rows)
	h.deps.Sender = send.Limit(h.outbox, "test:"+t.Name(), 14)
	h.opts.Deadline = func(context.Context) (time.Time, bool) { return h.clock.Now().Add(900 * time.Second), true }
	res := h.plan("long", "sized", false, in)
	sl := slices(res)
	if len(sl) != 3 || sl[0].Count != 2100 || sl[2].Count != 800 {
		t.Fatalf("slices %+v, want 2100, 2100, 800", sl)
	}
	h.deps.Sender = send.Limit(h.outbox, "test:"+t.Name()+":fast", 1000)
	if again := slices(h.plan("long", "sized", false, in)); len(again) != 3 || again[0] != sl[0] {
		t.Fatalf("the retried plan cut %+v", again)
	}
	// A test run renders without pacing: no rate sizes its slices.
	h.deps.Sender = send.Limit(h.outbox, "test:"+t.Name()+":test", 14)
	test := slices(h.plan("long", "sized-test", true, in))
	if len(test) != 1 || test[0].Count != 5000 {
		t.Fatalf("test-run slices %+v, want one of 5000", test)
	}
	for _, s := range test {
		if _, err := h.send(context.Background(), "long", "sized-test", true, in, s); err != nil {
			t.Fatal(err)
		}
	}
	fin, err := h.finish("long", "sized-test", true, in)
	if err != nil {
		t.Fatal(err)
	}
	if fin.Counts["out"] != 5000 {
		t.Fatalf("finish: %v", fin.Counts)
	}
}

// tickingSender takes a second of the harness clock per message.
type tickingSender struct {
	send.Sender
	c *clock
}

func (s tickingSender) Send(ctx context.Context, m *send.Message) (string, error) {
	s.c.Add(time.Second)
	return s.Sender.Send(ctx, m)
}

func (s tickingSender) Find(ctx context.Context, channel, key string) (string, bool, error) {
	return send.FindSent(ctx, s.Sender, channel, key)
}

// A slice that reaches its invocation's deadline stops at a message
// boundary and returns its remainder; the next invocations continue after
// it, and every recipient is sent exactly once. With a sender that cannot
// look messages up (SES) too: the messages a later worker had sent past the
// first unsettled row are reported by the ledger, not sent again.
func TestSliceHandsOnItsRemainder(t *testing.T) {
	for _, finder := range []bool{true, false} {
		t.Run(fmt.Sprintf("finder=%v", finder), func(t *testing.T) {
			h := newHarness(t)
			rows, eligible, skipped := crashPopulation(h, 120)
			in := h.population("rem", rows)
			var s send.Sender = tickingSender{h.outbox, h.clock}
			if !finder {
				s = plainSender{s}
			}
			h.deps.Sender = s
			// Each invocation has 20 s of the harness clock.
			h.opts.Deadline = func(context.Context) (time.Time, bool) { return h.clock.Now().Add(20 * time.Second), true }
			plan := slices(h.plan("long", "rem", false, in))
			if len(plan) != 1 {
				t.Fatalf("slices %+v", plan)
			}
			invocations := 0
			for {
				invocations++
				if invocations > 50 {
					t.Fatal("the slice does not end")
				}
				res, err := h.send(context.Background(), "long", "rem", false, in, plan[0])
				if err != nil {
					t.Fatalf("invocation %d: %v", invocations, err)
				}
				rem, ok := res.Extra["remainder"]
				if !ok {
					break
				}
				var r channel.Remainder
				b, _ := json.Marshal(rem)
				json.Unmarshal(b, &r)
				if r.Count <= 0 || r.Offset+r.Count != plan[0].Offset+plan[0].Count {
					t.Fatalf("invocation %d: remainder %+v of %+v", invocations, r, plan[0])
				}
			}
			// 96 messages at a second each, 15 s an invocation (a quarter of
			// 20 s is kept as the margin, 2 s at least).
			if invocations < 5 {
				t.Errorf("%d invocations: the deadline did not stop the slice", invocations)
			}
			fin, err := h.finish("long", "rem", false, in)
			if err != nil {
				t.Fatal(err)
			}
			checkExactlyOnceAct(t, h, "rem", "long", fin, eligible, skipped)
			t.Logf("%d recipients sent once in %d invocations", len(eligible), invocations)
		})
	}
}

// hangingSender's first call hangs until the invocation's bound for calls
// cuts it (it moves the harness clock there and fails as the cut call
// would); the others take a second each.
type hangingSender struct {
	tickingSender
	hung *atomic.Bool
}

func (s hangingSender) Send(ctx context.Context, m *send.Message) (string, error) {
	if s.hung.CompareAndSwap(false, true) {
		s.c.Add(18 * time.Second)
		return "", fmt.Errorf("send: %w", context.DeadlineExceeded)
	}
	return s.tickingSender.Send(ctx, m)
}

// A provider call cut by the invocation's deadline leaves its claim pending
// (the outcome is unknown): the next invocations hold that recipient until
// the lease ends, send the others, and then settle it by looking the
// message up. Nobody is sent twice or lost, and the slice never fails for
// want of progress meanwhile.
func TestSliceCallCutByDeadline(t *testing.T) {
	h := newHarness(t)
	h.opts.Workers = 1
	// Everyone eligible: the first invocation settles nobody.
	var rows []cust
	eligible := map[string]bool{}
	for i := range 30 {
		c := cust{ID: fmt.Sprintf("c%04d", i), Name: "N", Email: fmt.Sprintf("c%d@example.com", i), EmailOK: yes}
		rows, eligible[c.ID] = append(rows, c), true
	}
	in := h.population("cut", rows)
	h.deps.Sender = hangingSender{tickingSender{h.outbox, h.clock}, &atomic.Bool{}}
	h.opts.Deadline = func(context.Context) (time.Time, bool) { return h.clock.Now().Add(20 * time.Second), true }
	plan := slices(h.plan("long", "cut", false, in))
	invocations := 0
	for {
		invocations++
		if invocations > 50 {
			t.Fatal("the slice does not end")
		}
		res, err := h.send(context.Background(), "long", "cut", false, in, plan[0])
		if err != nil {
			t.Fatalf("invocation %d: %v", invocations, err)
		}
		if _, ok := res.Extra["remainder"]; !ok {
			break
		}
	}
	fin, err := h.finish("long", "cut", false, in)
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnceAct(t, h, "cut", "long", fin, eligible, map[string]string{})
	t.Logf("%d recipients sent once in %d invocations", len(eligible), invocations)
}

// A host whose clock is elsewhere in time than the wall (a test a year
// ahead, a replay) still gets the invocation's time: the context's deadline
// is wall time, carried over to the Env's clock.
func TestDeadlineOnTheEnvClock(t *testing.T) {
	for _, offset := range []time.Duration{-400 * 24 * time.Hour, 400 * 24 * time.Hour} {
		h := newHarness(t)
		h.clock.Set(time.Now().Add(offset))
		in := h.population("run1", basePopulation())
		res := h.plan("news", "run1", false, in)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for _, sl := range slices(res) {
			r, err := h.send(ctx, "news", "run1", false, in, sl)
			if err != nil || r.Extra["remainder"] != nil {
				t.Fatalf("clock %v from the wall: slice %d: %v %v", offset, sl.Index, r, err)
			}
		}
		cancel()
		if n := len(h.sentTo("run1", "news")); n == 0 {
			t.Fatalf("clock %v from the wall: nothing sent", offset)
		}
	}
}
