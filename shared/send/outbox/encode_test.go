package outbox

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/send"
)

// jsonLine is how the outbox wrote a record with encoding/json.
func jsonLine(t testing.TB, r *Record) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAppendRecordIsJSON(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 120000000, time.UTC)
	recs := []Record{
		{ID: "outbox-1", At: at, Message: send.Message{Channel: "email", To: "a@example.com", IdempotencyKey: "sw-1"}},
		{ID: "outbox-2", At: at.Add(time.Nanosecond), Message: send.Message{Channel: "email", To: `"Ann" <a@example.com>`, From: "news@shop.test",
			ReplyTo: "help@shop.test", Subject: "Hé \"you\" \\ <b>&</b>\u2028\u2029\x00\x1f\x7f\b\f\n\r\t", HTML: "<p>a & b</p>\xff\xfe", Text: "x",
			Headers: []send.Header{{Name: "List-Unsubscribe", Value: "<https://u.test/x?a=1&b=2>"}, {Name: "X", Value: ""}},
			Tags:    map[string]string{"run": "r", "activity": "a", "z": "", "\u00e9": "é"}, Marketing: true, IdempotencyKey: "sw-2"}},
		{ID: "", At: time.Time{}, Message: send.Message{Channel: "push", Title: "t", Data: map[string]string{"b": "2", "a": "1"}, Sender: "s"}},
	}
	for i := range recs {
		if got, want := appendRecord(nil, &recs[i]), jsonLine(t, &recs[i]); !bytes.Equal(got, want) {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func FuzzAppendRecordIsJSON(f *testing.F) {
	f.Add("a@example.com", "Hello <b>&</b>", "line\nbreak \u2028", "k", "v", int64(1765108800123456789))
	f.Add("", "\xff", "\x00\"\\", "", "", int64(0))
	f.Fuzz(func(t *testing.T, to, subject, html, k, v string, nanos int64) {
		r := Record{ID: "outbox-" + k, At: time.Unix(0, nanos).UTC(), Message: send.Message{Channel: "email", To: to, Subject: subject, HTML: html,
			Headers: []send.Header{{Name: k, Value: v}}, Tags: map[string]string{k: v, "run": subject}, IdempotencyKey: v}}
		if got, want := appendRecord(nil, &r), jsonLine(t, &r); !bytes.Equal(got, want) {
			t.Errorf("\n got %s\nwant %s", got, want)
		}
	})
}
