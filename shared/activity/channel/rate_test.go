package channel_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
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
			stamp := &stampSender{inner: h.outbox}
			var s send.Sender = stamp
			if c.ceiling > 0 {
				s = send.Limit(stamp, "test-account-"+c.name, c.ceiling)
			}
			h.env.Services[activity.ServiceSender] = s
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
