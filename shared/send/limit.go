package send

import (
	"context"
	"math"
	"sync"

	"golang.org/x/time/rate"
)

// ceilings are the process-wide limiters by provider account.
var (
	ceilingsMu sync.Mutex
	ceilings   = map[string]*rate.Limiter{}
)

// Ceiling returns the process-wide limiter of a provider account (such as
// "ses:eu-west-1:123456789012" or "smtp:mail.example.com:587"), created with
// perSecond on first use and updated when perSecond changes. Every activity
// and slice that sends through the account in this process shares it; a
// fleet of Lambdas shares the account's quota by giving each a fraction.
func Ceiling(account string, perSecond float64) *rate.Limiter {
	ceilingsMu.Lock()
	defer ceilingsMu.Unlock()
	l, ok := ceilings[account]
	lim, burst := Rate(perSecond)
	if !ok {
		l = rate.NewLimiter(lim, burst)
		ceilings[account] = l
	} else if l.Limit() != lim {
		l.SetLimit(lim)
		l.SetBurst(burst)
	}
	return l
}

// Rate converts messages per second to a limiter rate and burst: the burst
// is one message, or 5% of a second's worth, so that sends stay even.
func Rate(perSecond float64) (rate.Limit, int) {
	if perSecond <= 0 || math.IsInf(perSecond, 1) {
		return rate.Inf, 1
	}
	return rate.Limit(perSecond), max(1, int(perSecond/20))
}

// Limited is a Sender that waits for the process-wide ceiling of its
// provider account before every message.
type Limited struct {
	Sender
	Account string
	limiter *rate.Limiter
}

// Limit wraps s with the ceiling of account at perSecond (no limit when
// perSecond <= 0).
func Limit(s Sender, account string, perSecond float64) *Limited {
	return &Limited{Sender: s, Account: account, limiter: Ceiling(account, perSecond)}
}

// Send implements Sender. After the wait, the caller's StillDue check (see
// WithStillDue) decides whether the message may still leave.
func (l *Limited) Send(ctx context.Context, m *Message) (string, error) {
	if err := l.limiter.Wait(ctx); err != nil {
		return "", err
	}
	if due, ok := ctx.Value(stillDueKey{}).(func() string); ok {
		if reason := due(); reason != "" {
			return "", &NotDue{Reason: reason}
		}
	}
	return l.Sender.Send(ctx, m)
}

type stillDueKey struct{}

// WithStillDue gives a send a check to run after any pacing wait, at the
// last moment before the provider call: it returns why the message may no
// longer leave (its window closed while it waited), or "".
func WithStillDue(ctx context.Context, due func() string) context.Context {
	return context.WithValue(ctx, stillDueKey{}, due)
}

// NotDue is a message not sent because its StillDue check failed after a
// wait; the provider was not called.
type NotDue struct{ Reason string }

func (e *NotDue) Error() string { return "not sent: " + e.Reason }

// CeilingOf is the messages per second the provider ceiling of s (or of
// the sender it routes or wraps for channel) allows one process; 0 when
// nothing limits it.
func CeilingOf(s Sender, channel string) float64 {
	switch x := s.(type) {
	case Router:
		return CeilingOf(x[channel], channel)
	case *Limited:
		own := 0.0
		if l := x.limiter.Limit(); l != rate.Inf && l > 0 {
			own = float64(l)
		}
		if in := CeilingOf(x.Sender, channel); in > 0 && (own == 0 || in < own) {
			return in
		}
		return own
	}
	return 0
}
