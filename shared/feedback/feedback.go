// Package feedback records what happened to messages — sent, delivered,
// bounced, complained, opened, clicked, unsubscribed — as rows of the
// catalog table message_feedback, and keeps the suppression list in step:
// a hard bounce, a complaint or an unsubscribe suppresses the address at once.
//
// Records come from the channel activities (sent), from SES and End User
// Messaging SMS event notifications (ParseSESEvent, ParseSMSEvent; the AWS
// feedback function and `stepwise feedback import FILE`), and from the
// unsubscribe endpoint (FromUnsubscribe). A catalog that declares the table
// (see Columns and docs/channels.md) can retarget with conditions such as
// "received sendVip but did not open".
package feedback

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/state"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

// Table is the catalog table of feedback records.
const Table = "message_feedback"

// Event is what happened to a message.
type Event string

// Events.
const (
	Sent         Event = "sent"
	Delivered    Event = "delivered"
	Bounced      Event = "bounced"
	Complained   Event = "complained"
	Opened       Event = "opened"
	Clicked      Event = "clicked"
	Unsubscribed Event = "unsubscribed"
	Rejected     Event = "rejected" // refused by the provider before sending
	Delayed      Event = "delayed"
	Failed       Event = "failed" // rendering or delivery failure reported by the provider
)

// Record is one row of message_feedback.
type Record struct {
	ID        string    `json:"eventId"`
	Event     Event     `json:"event"`
	Channel   string    `json:"channel"`
	Campaign  string    `json:"campaign"`
	Activity  string    `json:"activity"`
	Run       string    `json:"run"`
	Recipient string    `json:"recipient"` // key in the targeting dimension
	Address   string    `json:"address"`
	MessageID string    `json:"messageId"`
	Token     string    `json:"token"` // send ledger token
	At        time.Time `json:"at"`
	// Detail: bounce type/subtype, complaint type, clicked link, reason.
	Detail string `json:"detail"`
	// Permanent marks a hard bounce (suppresses the address).
	Permanent bool `json:"permanent"`
	// Machine marks opens and clicks by machines (Apple MPP, scanners) when
	// the provider says so; they are kept, flagged.
	Machine bool `json:"machine"`
}

// Columns are the columns of message_feedback, as a catalog declares them:
//
//   - name: message_feedback
//     key: [eventId]
//     columns: [ ...Columns ]
//     links: [{ name: customer, table: customers, on: { recipient: customerId }, cardinality: one }]
var Columns = []campaign.Column{
	{Name: "eventId", Type: campaign.TypeString},
	{Name: "event", Type: campaign.TypeString},
	{Name: "channel", Type: campaign.TypeString},
	{Name: "campaign", Type: campaign.TypeString},
	{Name: "activity", Type: campaign.TypeString},
	{Name: "run", Type: campaign.TypeString},
	{Name: "recipient", Type: campaign.TypeString},
	{Name: "address", Type: campaign.TypeString},
	{Name: "messageId", Type: campaign.TypeString},
	{Name: "token", Type: campaign.TypeString},
	{Name: "at", Type: campaign.TypeTimestamp},
	{Name: "detail", Type: campaign.TypeString},
	{Name: "permanent", Type: campaign.TypeBoolean},
	{Name: "machine", Type: campaign.TypeBoolean},
}

// Key is the table key.
var Key = []string{"eventId"}

// EventID derives a stable record id from the parts that identify an event,
// so that an event imported twice is stored once.
func EventID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

// FromUnsubscribe is the record of a one-click unsubscribe.
func FromUnsubscribe(c unsubscribe.Claims, at time.Time) Record {
	return Record{ID: EventID("unsubscribe", c.Channel, c.Address, c.Run, c.Activity, c.Recipient), Event: Unsubscribed,
		Channel: c.Channel, Campaign: c.Campaign, Activity: c.Activity, Run: c.Run, Recipient: c.Recipient,
		Address: c.Address, At: at.UTC(), Detail: "one-click"}
}

// Suppressor is the part of the state store Apply writes to.
type Suppressor interface {
	Suppress(ctx context.Context, s state.Suppression) (state.Suppression, error)
	CheckSuppressed(ctx context.Context, channel string, addresses ...string) (map[string]state.Suppression, error)
}

// SuppressionOf returns the suppression a record causes, if any: hard
// bounces, complaints and unsubscribes suppress the address on its channel.
func SuppressionOf(r Record) (state.Suppression, bool) {
	var reason state.SuppressionReason
	switch {
	case r.Event == Bounced && r.Permanent:
		reason = state.SuppressHardBounce
	case r.Event == Complained:
		reason = state.SuppressComplaint
	case r.Event == Unsubscribed:
		reason = state.SuppressUnsubscribe
	default:
		return state.Suppression{}, false
	}
	if r.Address == "" || r.Channel == "" {
		return state.Suppression{}, false
	}
	src := r.MessageID
	if src == "" {
		src = r.Run
	}
	return state.Suppression{Channel: r.Channel, Address: r.Address, Reason: reason, At: r.At, Source: src}, true
}

// Apply updates the suppression list from records and returns how many
// addresses it newly suppressed (importing the same events again adds none).
func Apply(ctx context.Context, sup Suppressor, recs []Record) (int, error) {
	n := 0
	for _, r := range recs {
		s, ok := SuppressionOf(r)
		if !ok {
			continue
		}
		was, err := sup.CheckSuppressed(ctx, s.Channel, s.Address)
		if err != nil {
			return n, fmt.Errorf("suppress %s %s: %w", s.Channel, s.Address, err)
		}
		if _, err := sup.Suppress(ctx, s); err != nil {
			return n, fmt.Errorf("suppress %s %s: %w", s.Channel, s.Address, err)
		}
		if len(was) == 0 {
			n++
		}
	}
	return n, nil
}
