package feedback

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/send"
)

// Parse reads feedback events from a file or a message body: one JSON
// document, a JSON array, or JSON lines; each an SES event (event publishing
// or notification, raw, in an SNS envelope or an EventBridge event), an End
// User Messaging SMS event, or a Record as written by this package.
func Parse(data []byte) ([]Record, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	if data[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, err
		}
		return parseAll(items)
	}
	var one json.RawMessage
	if json.Unmarshal(data, &one) == nil {
		return ParseEvent(one)
	}
	var items []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !json.Valid(b) {
			return nil, fmt.Errorf("line %d: not JSON", line)
		}
		items = append(items, append(json.RawMessage(nil), b...))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return parseAll(items)
}

func parseAll(items []json.RawMessage) ([]Record, error) {
	var out []Record
	for i, it := range items {
		recs, err := ParseEvent(it)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i+1, err)
		}
		out = append(out, recs...)
	}
	return out, nil
}

// ParseEvent reads one event of any supported kind.
func ParseEvent(data []byte) ([]Record, error) {
	var probe struct {
		Type             string          `json:"Type"`
		Message          string          `json:"Message"`
		Detail           json.RawMessage `json:"detail"`
		EventType        string          `json:"eventType"`
		NotificationType string          `json:"notificationType"`
		EventID          string          `json:"eventId"`
		DestinationPhone string          `json:"destinationPhoneNumber"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, err
	}
	switch {
	case probe.Type == "Notification" && probe.Message != "":
		return ParseEvent([]byte(probe.Message))
	case probe.Type == "SubscriptionConfirmation":
		return nil, nil // the SNS subscription handshake, not an event
	case len(probe.Detail) > 0 && probe.Detail[0] == '{':
		// An EventBridge envelope; a Stepwise record's detail is a string.
		return ParseEvent(probe.Detail)
	case probe.DestinationPhone != "" || strings.HasPrefix(probe.EventType, "TEXT_"):
		return ParseSMSEvent(data)
	case probe.EventType != "" || probe.NotificationType != "":
		return ParseSESEvent(data)
	case probe.EventID != "":
		var r Record
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, err
		}
		return []Record{r}, nil
	}
	return nil, fmt.Errorf("not a feedback event (no eventType, notificationType or eventId)")
}

type sesRecipient struct {
	EmailAddress   string `json:"emailAddress"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

type sesEvent struct {
	EventType        string `json:"eventType"`
	NotificationType string `json:"notificationType"`
	Mail             struct {
		Timestamp   string              `json:"timestamp"`
		MessageID   string              `json:"messageId"`
		Destination []string            `json:"destination"`
		Tags        map[string][]string `json:"tags"`
		Headers     []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string         `json:"bounceType"`
		BounceSubType     string         `json:"bounceSubType"`
		BouncedRecipients []sesRecipient `json:"bouncedRecipients"`
		Timestamp         string         `json:"timestamp"`
		FeedbackID        string         `json:"feedbackId"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients  []sesRecipient `json:"complainedRecipients"`
		Timestamp             string         `json:"timestamp"`
		FeedbackID            string         `json:"feedbackId"`
		ComplaintFeedbackType string         `json:"complaintFeedbackType"`
		ComplaintSubType      string         `json:"complaintSubType"`
	} `json:"complaint"`
	Delivery *struct {
		Timestamp  string   `json:"timestamp"`
		Recipients []string `json:"recipients"`
	} `json:"delivery"`
	Open *struct {
		Timestamp string `json:"timestamp"`
		UserAgent string `json:"userAgent"`
		IPAddress string `json:"ipAddress"`
	} `json:"open"`
	Click *struct {
		Timestamp string `json:"timestamp"`
		Link      string `json:"link"`
		UserAgent string `json:"userAgent"`
	} `json:"click"`
	Reject *struct {
		Reason string `json:"reason"`
	} `json:"reject"`
	Failure *struct {
		ErrorMessage string `json:"errorMessage"`
	} `json:"failure"`
	DeliveryDelay *struct {
		Timestamp         string         `json:"timestamp"`
		DelayType         string         `json:"delayType"`
		DelayedRecipients []sesRecipient `json:"delayedRecipients"`
	} `json:"deliveryDelay"`
	Subscription *struct {
		Timestamp           string `json:"timestamp"`
		Source              string `json:"source"`
		NewTopicPreferences struct {
			UnsubscribeAll bool `json:"unsubscribeAll"`
		} `json:"newTopicPreferences"`
	} `json:"subscription"`
}

// ParseSESEvent reads one SES event (event publishing "eventType", or a
// feedback notification "notificationType") into one record per recipient
// concerned. Campaign, activity, run, recipient and token come from the
// message tags set by sessend, or failing that from the X-Stepwise-*
// headers when the configuration set includes original headers.
func ParseSESEvent(data []byte) ([]Record, error) {
	var e sesEvent
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	typ := e.EventType
	if typ == "" {
		typ = e.NotificationType
	}
	base := Record{Channel: send.Email, MessageID: e.Mail.MessageID, At: parseTime(e.Mail.Timestamp)}
	tag := func(k string) string {
		if v := e.Mail.Tags[k]; len(v) > 0 {
			return v[0]
		}
		for _, h := range e.Mail.Headers {
			if strings.EqualFold(h.Name, "X-Stepwise-"+k) {
				return h.Value
			}
		}
		return ""
	}
	base.Campaign, base.Activity, base.Run = tag(send.TagCampaign), tag(send.TagActivity), tag(send.TagRun)
	base.Recipient, base.Token = tag(send.TagRecipient), tag(send.TagToken)
	per := func(ev Event, at string, addrs []string, detail string, permanent bool) []Record {
		if len(addrs) == 0 {
			addrs = e.Mail.Destination
		}
		var out []Record
		for _, a := range addrs {
			r := base
			r.Event, r.Address, r.Detail, r.Permanent = ev, send.AddressOnly(a), detail, permanent
			if t := parseTime(at); !t.IsZero() {
				r.At = t
			}
			r.ID = EventID("ses", r.MessageID, string(ev), r.Address, at, detail)
			out = append(out, r)
		}
		return out
	}
	emails := func(rs []sesRecipient) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.EmailAddress
		}
		return out
	}
	switch typ {
	case "Send":
		return per(Sent, e.Mail.Timestamp, nil, "ses", false), nil
	case "Delivery":
		if e.Delivery == nil {
			return nil, fmt.Errorf("Delivery event without delivery")
		}
		return per(Delivered, e.Delivery.Timestamp, e.Delivery.Recipients, "", false), nil
	case "Bounce":
		if e.Bounce == nil {
			return nil, fmt.Errorf("Bounce event without bounce")
		}
		b := e.Bounce
		return per(Bounced, b.Timestamp, emails(b.BouncedRecipients), b.BounceType+"/"+b.BounceSubType, b.BounceType == "Permanent"), nil
	case "Complaint":
		if e.Complaint == nil {
			return nil, fmt.Errorf("Complaint event without complaint")
		}
		c := e.Complaint
		return per(Complained, c.Timestamp, emails(c.ComplainedRecipients), firstOf(c.ComplaintFeedbackType, c.ComplaintSubType), false), nil
	case "Open":
		at := ""
		if e.Open != nil {
			at = e.Open.Timestamp
		}
		return per(Opened, at, nil, "", false), nil
	case "Click":
		at, link := "", ""
		if e.Click != nil {
			at, link = e.Click.Timestamp, e.Click.Link
		}
		return per(Clicked, at, nil, link, false), nil
	case "Reject":
		reason := ""
		if e.Reject != nil {
			reason = e.Reject.Reason
		}
		return per(Rejected, e.Mail.Timestamp, nil, reason, false), nil
	case "Rendering Failure":
		msg := ""
		if e.Failure != nil {
			msg = e.Failure.ErrorMessage
		}
		return per(Failed, e.Mail.Timestamp, nil, msg, false), nil
	case "DeliveryDelay":
		if e.DeliveryDelay == nil {
			return nil, nil
		}
		d := e.DeliveryDelay
		return per(Delayed, d.Timestamp, emails(d.DelayedRecipients), d.DelayType, false), nil
	case "Subscription":
		if e.Subscription == nil || !e.Subscription.NewTopicPreferences.UnsubscribeAll {
			return nil, nil // topic preference changes are not modelled
		}
		return per(Unsubscribed, e.Subscription.Timestamp, nil, e.Subscription.Source, false), nil
	}
	return nil, fmt.Errorf("unknown SES event type %q", typ)
}

// ParseSMSEvent reads one End User Messaging SMS event.
func ParseSMSEvent(data []byte) ([]Record, error) {
	var e struct {
		EventType                string            `json:"eventType"`
		EventTimestamp           int64             `json:"eventTimestamp"`
		DestinationPhoneNumber   string            `json:"destinationPhoneNumber"`
		MessageID                string            `json:"messageId"`
		MessageStatus            string            `json:"messageStatus"`
		MessageStatusDescription string            `json:"messageStatusDescription"`
		Context                  map[string]string `json:"context"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	r := Record{Channel: send.SMS, Address: e.DestinationPhoneNumber, MessageID: e.MessageID,
		At: time.UnixMilli(e.EventTimestamp).UTC(), Detail: firstOf(e.MessageStatusDescription, e.MessageStatus),
		Campaign: e.Context[send.TagCampaign], Activity: e.Context[send.TagActivity], Run: e.Context[send.TagRun],
		Recipient: e.Context[send.TagRecipient], Token: e.Context[send.TagToken]}
	switch e.EventType {
	case "TEXT_SUCCESSFUL":
		r.Event = Sent
	case "TEXT_DELIVERED":
		r.Event = Delivered
	case "TEXT_INVALID", "TEXT_INVALID_MESSAGE":
		r.Event, r.Permanent = Bounced, e.EventType == "TEXT_INVALID"
	case "TEXT_UNREACHABLE", "TEXT_CARRIER_UNREACHABLE", "TEXT_TTL_EXPIRED", "TEXT_UNKNOWN":
		r.Event = Bounced
	case "TEXT_BLOCKED", "TEXT_CARRIER_BLOCKED", "TEXT_SPAM":
		r.Event = Rejected
	case "TEXT_PENDING", "TEXT_QUEUED":
		return nil, nil
	default:
		return nil, fmt.Errorf("unknown SMS event type %q", e.EventType)
	}
	r.ID = EventID("sms", r.MessageID, e.EventType, strconv.FormatInt(e.EventTimestamp, 10))
	return []Record{r}, nil
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func firstOf(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}
