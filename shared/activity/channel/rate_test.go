package channel_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/send"
)

// stampSender records when each message left.
type stampSender struct {
	inner send.Sender
	mu    sync.Mutex
	at    []time.Time
}

func (s *stampSender) Send(ctx context.Context, m *send.Message) (string, error) {
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	return s.inner.Send(ctx, m)
}

// rateOver returns the messages per second over d from the first message.
func (s *stampSender) rateOver(d time.Duration) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.at) == 0 {
		return 0
	}
	end := s.at[0].Add(d)
	n := 0
	for _, t := range s.at {
		if t.Before(end) {
			n++
		}
	}
	return float64(n) / d.Seconds()
}

// The activity's `rate` (200/s) holds within 5% over 30 s, and a provider
// ceiling below it (100/s, shared by every sender of the account) holds
// over 10 s. Long: run with STEPWISE_RATE_TEST=1.
//
//	STEPWISE_RATE_TEST=1 go test -run TestRateLimit -v ./shared/activity/channel
func TestRateLimit(t *testing.T) {
	if os.Getenv("STEPWISE_RATE_TEST") == "" {
		t.Skip("set STEPWISE_RATE_TEST=1 to run the 40 s rate test")
	}
	for _, c := range []struct {
		name    string
		ceiling float64
		window  time.Duration
		want    float64
		n       int
	}{
		{"activity rate 200/s", 0, 30 * time.Second, 200, 6400},
		{"provider ceiling 100/s", 100, 10 * time.Second, 100, 1100},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.opts.Workers = 16
			// Real time: the pacing waits on the run's clock.
			h.env.Clock, h.opts.Sleep = nil, nil
			stamp := &stampSender{inner: h.outbox}
			var s send.Sender = stamp
			if c.ceiling > 0 {
				s = send.Limit(stamp, "test-account-"+c.name, c.ceiling)
			}
			h.deps.Sender = s
			in := h.syntheticPopulation("rate", c.n)
			res := h.plan("paced", "rate", false, in)
			ctx, cancel := context.WithTimeout(context.Background(), c.window+5*time.Second)
			defer cancel()
			for _, sl := range slices(res) {
				h.send(ctx, "paced", "rate", false, in, sl) // cut short by the timeout
			}
			got := stamp.rateOver(c.window)
			t.Logf("%.1f messages/s over %v (want %.0f ±5%%)", got, c.window, c.want)
			if got < c.want*0.95 || got > c.want*1.05 {
				t.Errorf("rate %.1f/s, want %.0f ±5%%", got, c.want)
			}
		})
	}
}

// clockSender records the injected clock's time of each provider call.
type clockSender struct {
	inner send.Sender
	now   func() time.Time
	mu    sync.Mutex
	at    []time.Time
}

func (s *clockSender) Send(ctx context.Context, m *send.Message) (string, error) {
	s.mu.Lock()
	s.at = append(s.at, s.now())
	s.mu.Unlock()
	return s.inner.Send(ctx, m)
}

// slowCeiling makes every call wait d on the clock before the limited sender.
type slowCeiling struct {
	inner send.Sender
	clock *clock
	d     time.Duration
}

func (s *slowCeiling) Send(ctx context.Context, m *send.Message) (string, error) {
	s.clock.Add(s.d)
	return s.inner.Send(ctx, m)
}

// The window is checked after the rate's wait, on the run's clock: at 10
// messages a second and a 5 s window, at most 50 of 100 recipients are sent
// (fewer when the provider's ceiling waits too), all
// before the window ends, and the rest are skipped "window ended" — none
// sent late because it passed the check before waiting its turn.
func TestWindowCheckedAfterRateWait(t *testing.T) {
	for _, c := range []struct {
		name    string
		ceiling bool // pace by the provider ceiling (send.Limit) too
	}{{"activity rate", false}, {"provider ceiling", true}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.opts.Workers = 1
			cs := &clockSender{inner: h.outbox, now: h.clock.Now}
			var s send.Sender = cs
			if c.ceiling {
				// The provider's ceiling waits 100 ms before each call (on
				// the clock) and then runs the still-due check.
				s = &slowCeiling{send.Limit(cs, "window-test", 0), h.clock, 100 * time.Millisecond}
			}
			h.deps.Sender = s
			start := h.clock.Now()
			in := h.syntheticPopulation("win", 100)
			res := h.run("pacedWindow", "win", false, in)
			end := start.Add(5 * time.Second)
			for _, at := range cs.at {
				if !at.Before(end) {
					t.Errorf("a message left at +%v, after the 5 s window", at.Sub(start))
				}
			}
			if res.Counts["out"] != int64(len(cs.at)) || res.Counts["out"]+res.Counts["skipped"] != 100 || res.Counts["out"] == 0 || res.Counts["out"] > 50 {
				t.Errorf("out %d, skipped %d, %d provider calls", res.Counts["out"], res.Counts["skipped"], len(cs.at))
			}
			for id, reason := range byID(h.rows(res, "skipped"), "reason") {
				if reason != channel.ReasonWindow {
					t.Errorf("%s skipped for %q, want %q", id, reason, channel.ReasonWindow)
				}
			}
		})
	}
}

// quoting fails every send transiently with a reply quoting the address, as
// an SMTP server's 4xx may.
type quoting struct{}

func (quoting) Send(ctx context.Context, m *send.Message) (string, error) {
	return "", &send.Transient{Msg: "451 4.7.1 <" + m.To + ">: greylisted, try again later"}
}

// The slice's error names the cause of the transient failures and what
// happens next, without any recipient's address.
func TestTransientErrorNamesCauseNotAddress(t *testing.T) {
	h := newHarness(t)
	h.opts.MaxAttempts = 2
	h.deps.Sender = quoting{}
	in := h.syntheticPopulation("q", 3)
	res := h.plan("paced", "q", false, in)
	_, err := h.send(context.Background(), "paced", "q", false, in, slices(res)[0])
	var re *activity.Retryable
	if !errors.As(err, &re) {
		t.Fatalf("want a retryable error, got %v", err)
	}
	for _, want := range []string{"3 sends failed transiently after 2 attempts each", "greylisted", "retried", "resuming"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "@example.com") || strings.Contains(err.Error(), "+336") {
		t.Errorf("the error holds an address: %v", err)
	}
}
