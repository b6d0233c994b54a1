package send

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// MessageIDHeader returns the RFC 5322 Message-ID of a message, derived from
// its idempotency key so that every attempt carries the same id:
// "<sw-…@domain>" with the domain of the From address.
func MessageIDHeader(m *Message) string {
	domain := "stepwise.invalid"
	if a, err := mail.ParseAddress(m.From); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok && d != "" {
			domain = d
		}
	}
	key := m.IdempotencyKey
	if key == "" {
		h := sha256.Sum256([]byte(m.To + "\x00" + m.Subject + "\x00" + m.Text + "\x00" + m.HTML))
		key = "sw-" + hex.EncodeToString(h[:12])
	}
	return "<" + key + "@" + domain + ">"
}

// MIME returns an email message as RFC 5322 bytes with CRLF line ends:
// headers (From, To, Subject with RFC 2047 encoding, Date, Message-ID, the
// message's extra headers, X-Stepwise-* tags), then text/plain,
// text/html, or multipart/alternative with both, quoted-printable.
func MIME(m *Message, date time.Time) ([]byte, error) {
	var b bytes.Buffer
	h := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	from, err := formatAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	to, err := formatAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	h("From", from)
	h("To", to)
	if m.ReplyTo != "" {
		rt, err := formatAddress(m.ReplyTo)
		if err != nil {
			return nil, fmt.Errorf("reply-to: %w", err)
		}
		h("Reply-To", rt)
	}
	h("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject)))
	h("Date", date.UTC().Format(time.RFC1123Z))
	h("Message-ID", MessageIDHeader(m))
	h("MIME-Version", "1.0")
	for _, x := range m.Headers {
		if !validHeaderName(x.Name) {
			return nil, fmt.Errorf("invalid header name %q", x.Name)
		}
		h(x.Name, oneLine(x.Value))
	}
	for _, k := range []string{TagCampaign, TagActivity, TagRun, TagRecipient, TagToken} {
		if v := m.Tags[k]; v != "" {
			h("X-Stepwise-"+textproto.CanonicalMIMEHeaderKey(k), mime.QEncoding.Encode("utf-8", oneLine(v)))
		}
	}
	switch {
	case m.HTML != "" && m.Text != "":
		mw := multipart.NewWriter(&b)
		// A boundary derived from the parts: the same message, the same bytes.
		sum := sha256.Sum256([]byte(m.Text + "\x00" + m.HTML))
		if err := mw.SetBoundary("sw-" + hex.EncodeToString(sum[:16])); err != nil {
			return nil, err
		}
		h("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
		b.WriteString("\r\n")
		for _, p := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
			w, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {p.typ + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"}})
			if err != nil {
				return nil, err
			}
			if err := writeQP(w, p.body); err != nil {
				return nil, err
			}
		}
		if err := mw.Close(); err != nil {
			return nil, err
		}
	default:
		typ, body := "text/plain", m.Text
		if m.HTML != "" {
			typ, body = "text/html", m.HTML
		}
		h("Content-Type", typ+"; charset=utf-8")
		h("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, body); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func writeQP(w interface{ Write([]byte) (int, error) }, body string) error {
	qp := quotedprintable.NewWriter(w)
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return err
	}
	if err := qp.Close(); err != nil {
		return err
	}
	_, err := w.Write([]byte("\r\n"))
	return err
}

// formatAddress parses "Name <addr>" or "addr" and formats it with RFC 2047
// encoding of the name.
func formatAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// AddressOnly returns the bare address of "Name <addr>".
func AddressOnly(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return strings.TrimSpace(s)
}

// oneLine removes CR and LF so that a value cannot inject headers.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 127 || c == ':' {
			return false
		}
	}
	return true
}
