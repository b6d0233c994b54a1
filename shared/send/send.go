// Package send is the port channel activities send messages through, with
// the typed errors every provider adapter maps its failures to, and the
// process-wide rate ceilings shared by all senders of one provider account.
//
// Adapters: outbox (local files), smtpsend (SMTP, mailpit), and in
// shared/aws: sessend (SES v2) and smssend (End User Messaging SMS, SNS).
package send

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Channels.
const (
	Email = "email"
	SMS   = "sms"
	Push  = "push"
)

// Message is one rendered message to one recipient.
type Message struct {
	Channel string `json:"channel"`
	// To is the address: an email address, an E.164 phone number, or a push
	// endpoint (an SNS endpoint ARN or a device token).
	To      string `json:"to"`
	From    string `json:"from,omitempty"`
	ReplyTo string `json:"replyTo,omitempty"`
	Subject string `json:"subject,omitempty"`
	HTML    string `json:"html,omitempty"`
	// Text is the email text part, the SMS text or the push body.
	Text  string            `json:"text,omitempty"`
	Title string            `json:"title,omitempty"` // push
	Data  map[string]string `json:"data,omitempty"`  // push
	// Sender is the SMS sender id or origination identity.
	Sender string `json:"sender,omitempty"`
	// Headers are extra email headers, in order (List-Unsubscribe...).
	Headers []Header `json:"headers,omitempty"`
	// Tags correlate provider events with the send: campaign, activity, run,
	// recipient and token (see Tag*).
	Tags map[string]string `json:"tags,omitempty"`
	// Marketing selects promotional routes (SMS message type) where it matters.
	Marketing bool `json:"marketing,omitempty"`
	// IdempotencyKey is the send ledger token: the same on every attempt.
	IdempotencyKey string `json:"idempotencyKey"`
}

// Header is one email header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Tag names set on every message.
const (
	TagCampaign  = "campaign"
	TagActivity  = "activity"
	TagRun       = "run"
	TagRecipient = "recipient"
	TagToken     = "token"
)

// Sender sends one message and returns the provider's message id.
// Failures are *Throttled, *Permanent or *Transient; anything else counts as
// transient. A Sender is safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m *Message) (messageID string, err error)
}

// Finder is implemented by senders that can tell whether a message with an
// idempotency key left (the local outbox). The channel activity uses it to
// settle a send that a crash interrupted between the provider call and the
// ledger update: exactly once instead of at most once.
type Finder interface {
	Find(ctx context.Context, channel, idempotencyKey string) (messageID string, found bool, err error)
}

// GroupSender is implemented by senders that take several messages in one
// call (the local outbox appends a group in one write). Each message has its
// own answer: ids[i] and errs[i] answer ms[i], as Send would have. A message
// that got no error left; one with an error did not, unless the error is
// KindCanceled (unknown, as for Send).
type GroupSender interface {
	SendGroup(ctx context.Context, ms []*Message) (ids []string, errs []error)
}

// GroupOf returns the GroupSender that sends channel's messages for s (s
// itself, or the sender its Router has for channel); nil when that sender
// sends one message at a time (or waits for a ceiling before each: Limited).
func GroupOf(s Sender, channel string) GroupSender {
	switch x := s.(type) {
	case Router:
		return GroupOf(x[channel], channel)
	case *Limited:
		return nil
	case GroupSender:
		return x
	}
	return nil
}

// Idempotent is implemented by senders whose provider drops a second message
// with the same idempotency key: an interrupted send may simply be retried.
type Idempotent interface {
	Idempotent() bool
}

// Throttled: the provider asks to slow down. Retried after a backoff.
type Throttled struct {
	Msg        string
	RetryAfter time.Duration // 0 when the provider does not say
}

func (e *Throttled) Error() string { return "throttled: " + e.Msg }

// Transient reports true: a throttle passes (failure.Classify).
func (e *Throttled) Transient() bool { return true }

// Permanent: the provider refused the message and will refuse it again.
// Account is true when the refusal is about the sending account or its
// configuration (suspended, unverified sender, quota spent) rather than the
// recipient: sending stops at once.
type Permanent struct {
	Msg     string
	Account bool
}

func (e *Permanent) Error() string {
	if e.Account {
		return "account: " + e.Msg
	}
	return "rejected: " + e.Msg
}

// Transient reports false: a refusal does not pass (failure.Classify).
func (e *Permanent) Transient() bool { return false }

// Transient: a failure that may pass (network, 5xx). Retried a few times.
type Transient struct{ Msg string }

func (e *Transient) Error() string { return "transient: " + e.Msg }

// Transient reports true (failure.Classify).
func (e *Transient) Transient() bool { return true }

// Kinds of send failures.
const (
	KindNone = iota
	KindThrottled
	KindTransient
	KindPermanent
	KindAccount
	KindCanceled
)

// Kind classifies err: a cancelled or expired context is KindCanceled (the
// outcome of the call is unknown); unknown errors are transient.
func Kind(err error) int {
	var th *Throttled
	var pe *Permanent
	switch {
	case err == nil:
		return KindNone
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return KindCanceled
	case errors.As(err, &th):
		return KindThrottled
	case errors.As(err, &pe):
		if pe.Account {
			return KindAccount
		}
		return KindPermanent
	}
	return KindTransient
}

// Router sends each message with the sender of its channel.
type Router map[string]Sender

// Send implements Sender.
func (r Router) Send(ctx context.Context, m *Message) (string, error) {
	s, ok := r[m.Channel]
	if !ok {
		return "", &Permanent{Msg: fmt.Sprintf("no sender configured for channel %q", m.Channel), Account: true}
	}
	return s.Send(ctx, m)
}

// Find implements Finder when the channel's sender does.
func (r Router) Find(ctx context.Context, channel, key string) (string, bool, error) {
	return FindSent(ctx, r[channel], channel, key)
}

// CanFind reports whether s (or the sender it routes or wraps for channel)
// can find messages by idempotency key.
func CanFind(s Sender, channel string) bool {
	switch x := s.(type) {
	case Router:
		return CanFind(x[channel], channel)
	case *Limited:
		return CanFind(x.Sender, channel)
	case Finder:
		return true
	}
	return false
}

// FindSent asks s (or the sender it routes or wraps) for a message by
// idempotency key; errors.ErrUnsupported when it cannot tell.
func FindSent(ctx context.Context, s Sender, channel, key string) (string, bool, error) {
	switch x := s.(type) {
	case Router:
		return FindSent(ctx, x[channel], channel, key)
	case *Limited:
		return FindSent(ctx, x.Sender, channel, key)
	case Finder:
		return x.Find(ctx, channel, key)
	}
	return "", false, errors.ErrUnsupported
}

// IsIdempotent reports whether s (or the sender of channel) is Idempotent.
func IsIdempotent(s Sender, channel string) bool {
	switch x := s.(type) {
	case Router:
		return IsIdempotent(x[channel], channel)
	case *Limited:
		return IsIdempotent(x.Sender, channel)
	case Idempotent:
		return x.Idempotent()
	}
	return false
}
