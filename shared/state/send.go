package state

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SendStatus is the status of one ledger entry.
type SendStatus string

// Send statuses.
const (
	SendPending SendStatus = "pending"
	SendSent    SendStatus = "sent"
	SendFailed  SendStatus = "failed"
)

// SendKey identifies one message: at most one per run, activity, channel and recipient.
type SendKey struct {
	RunID    string `json:"runId"`
	Activity string `json:"activity"`
	Channel  string `json:"channel"`
	// Recipient is the recipient's key in the targeting dimension (not the address).
	Recipient string `json:"recipient"`
}

func (k SendKey) check() error {
	if k.RunID == "" || k.Activity == "" || k.Channel == "" || k.Recipient == "" {
		return fmt.Errorf("%w: send key needs run, activity, channel and recipient", ErrInvalid)
	}
	return nil
}

// Token returns the deterministic default provider token of the message: the same on
// every attempt and every machine.
func (k SendKey) Token() string {
	h := sha256.Sum256([]byte(k.RunID + "\x00" + k.Activity + "\x00" + k.Channel + "\x00" + k.Recipient))
	return "sw-" + hex.EncodeToString(h[:16])
}

// LedgerEntry is the send ledger's record of one message.
//
// The ledger makes each message leave at most once and makes a crash between claiming
// and sending visible. Per recipient:
//
//  1. ClaimSend(key, token, at, lease). When claimed, the entry is pending with
//     Attempts 1 and this worker holds it until LeaseUntil. When not, the stored entry
//     comes back: sent or failed means done; pending with LeaseUntil after now means
//     another worker holds it.
//  2. Call the provider, passing Token as its idempotency token where it takes one and
//     as a message tag or header always, so that provider events match the entry. Do not
//     call it if the lease has already passed; keep the lease well above the call timeout.
//  3. CompleteSend(held, messageID, variant) on success; FailSend(held, reason) when the
//     provider definitely refused.
//
// A crash between 1 and 3 leaves a pending entry whose lease runs out. Whoever resumes
// the activity lists its entries (ListSends) and re-examines the pending ones whose
// LeaseUntil has passed: when the provider shows a message with the token, complete the
// entry as whoever reclaims it; when it shows none, ReclaimSend and send again with the
// same token; when it cannot tell, reclaim and FailSend with reason "unknown outcome" to
// stay at most once. A failed entry may be reclaimed to retry it.
//
// Every write after the claim names the held entry; its Attempts is the fencing token:
// once an entry is reclaimed, the former holder's CompleteSend or FailSend gets
// ErrConflict.
type LedgerEntry struct {
	SendKey
	Status SendStatus `json:"status"`
	// Token is the provider idempotency token fixed at the claim and kept on reclaims.
	Token      string    `json:"token"`
	Attempts   int       `json:"attempts"`
	ClaimedAt  time.Time `json:"claimedAt"`
	LeaseUntil time.Time `json:"leaseUntil"`
	MessageID  string    `json:"messageId,omitempty"`
	Variant    string    `json:"variant,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// NewLedgerEntry returns the pending entry ClaimSend stores. An empty token becomes
// k.Token().
func NewLedgerEntry(k SendKey, token string, at time.Time, lease time.Duration) (LedgerEntry, error) {
	if err := k.check(); err != nil {
		return LedgerEntry{}, err
	}
	if lease <= 0 {
		return LedgerEntry{}, fmt.Errorf("%w: send lease must be positive", ErrInvalid)
	}
	if token == "" {
		token = k.Token()
	}
	at = Stamp(at)
	return LedgerEntry{SendKey: k, Status: SendPending, Token: token, Attempts: 1,
		ClaimedAt: at, LeaseUntil: at.Add(lease), UpdatedAt: at}, nil
}

func fence(cur, held LedgerEntry) error {
	if cur.Attempts != held.Attempts || cur.Status != held.Status {
		return fmt.Errorf("%w: send %s/%s/%s/%s is %s at attempt %d, not %s at %d", ErrConflict,
			cur.RunID, cur.Activity, cur.Channel, cur.Recipient, cur.Status, cur.Attempts, held.Status, held.Attempts)
	}
	return nil
}

// ReclaimEntry takes over the stored cur as seen in held: allowed when it is failed, or
// pending with its lease run out at at. Attempts grows; the token stays.
func ReclaimEntry(cur, held LedgerEntry, at time.Time, lease time.Duration) (LedgerEntry, error) {
	if lease <= 0 {
		return cur, fmt.Errorf("%w: send lease must be positive", ErrInvalid)
	}
	if err := fence(cur, held); err != nil {
		return cur, err
	}
	at = Stamp(at)
	switch {
	case cur.Status == SendFailed:
	case cur.Status == SendPending && !cur.LeaseUntil.After(at):
	default:
		return cur, fmt.Errorf("%w: send %s/%s/%s/%s is %s until %s", ErrConflict,
			cur.RunID, cur.Activity, cur.Channel, cur.Recipient, cur.Status, cur.LeaseUntil.Format(time.RFC3339Nano))
	}
	cur.Status = SendPending
	cur.Attempts++
	cur.ClaimedAt = at
	cur.LeaseUntil = at.Add(lease)
	cur.Reason = ""
	cur.UpdatedAt = at
	return cur, nil
}

// CompleteEntry marks the stored cur, held pending, as sent.
func CompleteEntry(cur, held LedgerEntry, messageID, variant string, at time.Time) (LedgerEntry, error) {
	if held.Status != SendPending {
		return cur, fmt.Errorf("%w: only a pending send completes", ErrConflict)
	}
	if err := fence(cur, held); err != nil {
		return cur, err
	}
	cur.Status = SendSent
	cur.MessageID = messageID
	cur.Variant = variant
	cur.UpdatedAt = Stamp(at)
	return cur, nil
}

// FailEntry marks the stored cur, held pending, as failed.
func FailEntry(cur, held LedgerEntry, reason string, at time.Time) (LedgerEntry, error) {
	if held.Status != SendPending {
		return cur, fmt.Errorf("%w: only a pending send fails", ErrConflict)
	}
	if err := fence(cur, held); err != nil {
		return cur, err
	}
	cur.Status = SendFailed
	cur.Reason = reason
	cur.UpdatedAt = Stamp(at)
	return cur, nil
}

// SendClaim is one claim of a batch (Ledger.ClaimSends).
type SendClaim struct {
	Key SendKey
	// Token is the provider token; "" means Key.Token().
	Token string
}

// SendCompletion is one completion of a batch (Ledger.CompleteSends).
type SendCompletion struct {
	Held      LedgerEntry
	MessageID string
	Variant   string
}

// SendResult answers one message of a batch: the stored entry, whether this call
// claimed it (ClaimSends), or the message's own error (CompleteSends: ErrConflict,
// ErrNotFound).
type SendResult struct {
	Entry   LedgerEntry
	Claimed bool
	Err     error
}

// CheckSendClaims checks every claim of a batch before anything is written.
func CheckSendClaims(cs []SendClaim, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("%w: send lease must be positive", ErrInvalid)
	}
	for i, c := range cs {
		if err := c.Key.check(); err != nil {
			return fmt.Errorf("claim %d: %w", i, err)
		}
	}
	return nil
}

// SuppressionReason tells why an address is suppressed.
type SuppressionReason string

// Suppression reasons.
const (
	SuppressHardBounce  SuppressionReason = "hard_bounce"
	SuppressComplaint   SuppressionReason = "complaint"
	SuppressUnsubscribe SuppressionReason = "unsubscribe"
	SuppressManual      SuppressionReason = "manual"
)

// Valid reports whether r is a known reason.
func (r SuppressionReason) Valid() bool {
	switch r {
	case SuppressHardBounce, SuppressComplaint, SuppressUnsubscribe, SuppressManual:
		return true
	}
	return false
}

// Suppression is an address that must not receive messages on a channel.
type Suppression struct {
	Channel string            `json:"channel"`
	Address string            `json:"address"`
	Reason  SuppressionReason `json:"reason"`
	At      time.Time         `json:"at"`
	// Source tells where it came from: a provider message id, a run id, a user.
	Source string `json:"source,omitempty"`
}

// NormalizeAddress returns the form addresses are stored and compared in: trimmed;
// email lower-cased; sms without spaces, dots, dashes or parentheses.
func NormalizeAddress(channel, address string) string {
	a := strings.TrimSpace(address)
	switch channel {
	case "email":
		a = strings.ToLower(a)
	case "sms":
		a = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '.', '-', '(', ')':
				return -1
			}
			return r
		}, a)
	}
	return a
}

// NewSuppression checks s and returns it normalized.
func NewSuppression(s Suppression) (Suppression, error) {
	s.Address = NormalizeAddress(s.Channel, s.Address)
	if s.Channel == "" || s.Address == "" {
		return s, fmt.Errorf("%w: suppression channel and address are required", ErrInvalid)
	}
	if !s.Reason.Valid() {
		return s, fmt.Errorf("%w: suppression reason %q", ErrInvalid, s.Reason)
	}
	s.At = Stamp(s.At)
	return s, nil
}

// Bounds of a recipient's frequency-capping log, per channel. Cap windows longer than
// CapRetention are not supported.
const (
	CapRetention  = 90 * 24 * time.Hour
	MaxCapEntries = 1000
)

// CapRequest asks to record a send at At for a recipient on a channel, if fewer than Max
// sends are recorded since Since.
type CapRequest struct {
	Recipient string
	Channel   string
	Max       int
	Since     time.Time
	At        time.Time
	// Ref, when set, makes the reservation idempotent: a second request with the same Ref
	// is granted without counting again. Use the send token.
	Ref string
}

// CapEntry is one recorded send.
type CapEntry struct {
	At  time.Time `json:"at"`
	Ref string    `json:"ref,omitempty"`
}

// CapLog is the sends recorded for one recipient on one channel, oldest first.
type CapLog []CapEntry

// Count returns the number of sends at or after since.
func (l CapLog) Count(since time.Time) int {
	n := 0
	for _, e := range l {
		if !e.At.Before(since) {
			n++
		}
	}
	return n
}

func (l CapLog) has(ref string) bool {
	return ref != "" && slices.ContainsFunc(l, func(e CapEntry) bool { return e.Ref == ref })
}

// Record returns l with a send at at, unless ref is already recorded. Entries older than
// CapRetention before at are forgotten.
func (l CapLog) Record(at time.Time, ref string) CapLog {
	at = Stamp(at)
	if l.has(ref) {
		return l
	}
	horizon := at.Add(-CapRetention)
	out := make(CapLog, 0, len(l)+1)
	for _, e := range l {
		if !e.At.Before(horizon) {
			out = append(out, e)
		}
	}
	i, _ := slices.BinarySearchFunc(out, at, func(e CapEntry, t time.Time) int { return e.At.Compare(t) })
	out = slices.Insert(out, i, CapEntry{At: at, Ref: ref})
	if n := len(out) - MaxCapEntries; n > 0 {
		out = out[n:]
	}
	return out
}

// Reserve records r when the cap allows it and tells whether it did.
func (l CapLog) Reserve(r CapRequest) (CapLog, bool) {
	if l.has(r.Ref) {
		return l, true
	}
	if l.Count(r.Since) >= r.Max {
		return l, false
	}
	return l.Record(r.At, r.Ref), true
}

// Release returns l without the send recorded with ref.
func (l CapLog) Release(ref string) CapLog {
	return slices.DeleteFunc(slices.Clone(l), func(e CapEntry) bool { return e.Ref == ref })
}

// CheckCapRequests checks every request of a batch before anything is written.
func CheckCapRequests(rs []CapRequest) error {
	for i, r := range rs {
		if err := CheckCapRequest(r); err != nil {
			return fmt.Errorf("cap request %d: %w", i, err)
		}
	}
	return nil
}

// CheckCapRequest checks r's fields.
func CheckCapRequest(r CapRequest) error {
	if r.Recipient == "" || r.Channel == "" {
		return fmt.Errorf("%w: cap recipient and channel are required", ErrInvalid)
	}
	if r.Max < 0 {
		return fmt.Errorf("%w: cap max is negative", ErrInvalid)
	}
	return nil
}
