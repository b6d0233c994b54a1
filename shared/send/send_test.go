package send_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/send"
)

func TestKind(t *testing.T) {
	for err, want := range map[error]int{
		nil:                                   send.KindNone,
		&send.Throttled{}:                     send.KindThrottled,
		&send.Permanent{}:                     send.KindPermanent,
		&send.Permanent{Account: true}:        send.KindAccount,
		errors.New("boom"):                    send.KindTransient,
		fmt.Errorf("x: %w", context.Canceled): send.KindCanceled,
	} {
		if got := send.Kind(err); got != want {
			t.Errorf("%v: %d, want %d", err, got, want)
		}
	}
}

func TestMIME(t *testing.T) {
	m := &send.Message{From: "Shöp <news@shop.example>", To: "ann@example.com", Subject: "Hello Ann\r\nBcc: evil@example.com, 15% off",
		HTML: "<p>Hi</p>", Text: "Hi é", IdempotencyKey: "sw-abc",
		Headers: []send.Header{{Name: "List-Unsubscribe", Value: "<https://x/u/t>"}, {Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"}},
		Tags:    map[string]string{send.TagRun: "r1", send.TagRecipient: "c01"}}
	raw, err := send.MIME(m, time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subj != "Hello Ann Bcc: evil@example.com, 15% off" || msg.Header.Get("Bcc") != "" {
		t.Errorf("subject %q (header injection?)", subj)
	}
	if msg.Header.Get("Message-Id") != "<sw-abc@shop.example>" || msg.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" ||
		msg.Header.Get("X-Stepwise-Recipient") != "c01" {
		t.Errorf("headers %v", msg.Header)
	}
	body, _ := io.ReadAll(msg.Body)
	if !strings.Contains(string(body), "text/html") || !strings.Contains(string(body), "Hi =C3=A9") {
		t.Errorf("body %s", body)
	}
	if _, err := send.MIME(&send.Message{From: "x", To: "y@example.com"}, time.Now()); err == nil {
		t.Error("invalid From accepted")
	}
}

type okSender struct{ n int }

func (s *okSender) Send(context.Context, *send.Message) (string, error) { s.n++; return "id", nil }

func TestRouterAndCeiling(t *testing.T) {
	email := &okSender{}
	r := send.Router{send.Email: email}
	if _, err := r.Send(context.Background(), &send.Message{Channel: send.SMS}); send.Kind(err) != send.KindAccount {
		t.Errorf("no sms sender: %v", err)
	}
	l := send.Limit(r, "acct-test", 50)
	for range 3 {
		if _, err := l.Send(context.Background(), &send.Message{Channel: send.Email}); err != nil {
			t.Fatal(err)
		}
	}
	if email.n != 3 {
		t.Errorf("%d messages reached the provider, want 3", email.n)
	}
	// 50/s with a burst of 2, on a clock of the test's own (no wall time):
	// 26 messages reserved at once, the last may leave 24/50 s later.
	lim := send.Ceiling("acct-test-pace", 50)
	t0 := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	var last time.Duration
	for range 26 {
		last = lim.ReserveN(t0, 1).DelayFrom(t0)
	}
	if want := 480 * time.Millisecond; last != want {
		t.Errorf("the 26th message at 50/s waits %v, want %v", last, want)
	}
	if send.Ceiling("acct-test", 50) != send.Ceiling("acct-test", 50) {
		t.Error("ceilings are not shared")
	}
}

// CeilingOf finds the provider ceiling through a Router and nested Limited
// senders: the lowest one a message passes.
func TestCeilingOf(t *testing.T) {
	var plain send.Sender = send.Router{}
	email := send.Limit(send.Limit(plain, "test:ceiling-outer", 50), "test:ceiling-inner", 14)
	r := send.Router{send.Email: email, send.SMS: send.Limit(plain, "test:ceiling-none", 0), send.Push: plain}
	for ch, want := range map[string]float64{send.Email: 14, send.SMS: 0, send.Push: 0, "other": 0} {
		if got := send.CeilingOf(r, ch); got != want {
			t.Errorf("%s: %v, want %v", ch, got, want)
		}
	}
	if got := send.CeilingOf(send.Limit(send.Limit(plain, "test:ceiling-a", 3), "test:ceiling-b", 9), send.Email); got != 3 {
		t.Errorf("nested: %v, want the inner 3", got)
	}
}
