package outbox

import (
	"slices"
	"time"
	"unicode/utf8"
)

// appendRecord appends r as one JSON line, the bytes encoding/json writes
// with SetEscapeHTML(false) (TestAppendRecordIsJSON), without reflection:
// the outbox writes every message of a live run.
func appendRecord(b []byte, r *Record) []byte {
	m := &r.Message
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"at":"`...)
	b = r.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","channel":`...)
	b = appendString(b, m.Channel)
	b = append(b, `,"to":`...)
	b = appendString(b, m.To)
	b = field(b, "from", m.From)
	b = field(b, "replyTo", m.ReplyTo)
	b = field(b, "subject", m.Subject)
	b = field(b, "html", m.HTML)
	b = field(b, "text", m.Text)
	b = field(b, "title", m.Title)
	b = mapField(b, "data", m.Data)
	b = field(b, "sender", m.Sender)
	if len(m.Headers) > 0 {
		b = append(b, `,"headers":[`...)
		for i, h := range m.Headers {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendString(b, h.Name)
			b = append(b, `,"value":`...)
			b = appendString(b, h.Value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = mapField(b, "tags", m.Tags)
	if m.Marketing {
		b = append(b, `,"marketing":true`...)
	}
	b = append(b, `,"idempotencyKey":`...)
	b = appendString(b, m.IdempotencyKey)
	return append(b, "}\n"...)
}

// recordFits tells whether appendRecord writes r as encoding/json would:
// its time's year is one JSON can hold (else encoding/json fails).
func recordFits(r *Record) bool {
	y := r.At.Year()
	return y >= 0 && y <= 9999
}

// field appends an omitempty string field.
func field(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(append(append(b, `,"`...), name...), `":`...)
	return appendString(b, v)
}

// mapField appends an omitempty map field, keys sorted.
func mapField(b []byte, name string, m map[string]string) []byte {
	if len(m) == 0 {
		return b
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(append(append(b, `,"`...), name...), `":{`...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString is encoding/json's string encoding without HTML escaping.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
