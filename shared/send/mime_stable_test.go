package send_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/send"
)

// The same message gives the same bytes (a proof's .eml is reproducible):
// the multipart boundary derives from the parts.
func TestMIMEStable(t *testing.T) {
	m := &send.Message{Channel: send.Email, From: "Shop <news@shop.example>", To: "a@example.com", Subject: "Hi",
		HTML: "<p>Hi</p>", Text: "Hi", IdempotencyKey: "k"}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := send.MIME(m, at)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := send.MIME(m, at)
	if !bytes.Equal(a, b) || !bytes.Contains(a, []byte(`multipart/alternative; boundary="sw-`)) {
		t.Fatalf("not stable:\n%s\n---\n%s", a, b)
	}
	m.Text = "Hello"
	c, _ := send.MIME(m, at)
	if bytes.Equal(a[:bytes.Index(a, []byte("\r\n\r\n"))], c[:bytes.Index(c, []byte("\r\n\r\n"))]) {
		t.Fatal("another text, the same boundary")
	}
}
