package lambdalocal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
)

// Email is a message the fake SESv2 accepted.
type Email struct {
	MessageID        string
	From             string
	To, Cc, Bcc      []string
	Subject          string
	Text, HTML       string
	Headers          map[string]string
	Raw              []byte // Content.Raw, decoded
	Tags             map[string]string
	ConfigurationSet string
}

// SESv2 fakes the SESv2 sending API (SendEmail, SendBulkEmail) over HTTP:
// point AWS_ENDPOINT_URL_SESV2 at it. It keeps every message and, with
// SMTPAddr set, forwards it over SMTP (mailpit) for a browsable inbox.
type SESv2 struct {
	SMTPAddr string

	mu   sync.Mutex
	msgs []Email
	seq  int
}

// Messages returns the messages accepted so far.
func (s *SESv2) Messages() []Email {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Email(nil), s.msgs...)
}

type sesContent struct {
	Simple *sesSimple
	Raw    *struct{ Data string }
}

type sesData struct{ Data string }

type sesSimple struct {
	Subject sesData
	Body    struct {
		Text *sesData
		HTML *sesData `json:"Html"`
	}
	Headers []struct{ Name, Value string }
}

type sesDestination struct{ ToAddresses, CcAddresses, BccAddresses []string }

type sesTag struct{ Name, Value string }

func (s *SESv2) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v2/email/outbound-emails":
		var in struct {
			FromEmailAddress     string
			Destination          sesDestination
			Content              sesContent
			EmailTags            []sesTag
			ConfigurationSetName string
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			sesError(w, "BadRequestException", err.Error())
			return
		}
		id, err := s.accept(in.FromEmailAddress, in.Destination, in.Content, in.EmailTags, in.ConfigurationSetName)
		if err != nil {
			sesError(w, "BadRequestException", err.Error())
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"MessageId": id})
	case r.Method == http.MethodPost && r.URL.Path == "/v2/email/outbound-bulk-emails":
		var in struct {
			FromEmailAddress string
			DefaultContent   struct {
				Template struct{ TemplateContent *sesTemplate }
			}
			DefaultEmailTags []sesTag
			BulkEmailEntries []struct {
				Destination             sesDestination
				ReplacementTags         []sesTag
				ReplacementEmailContent *struct {
					ReplacementTemplate struct{ ReplacementTemplateData string }
				}
			}
			ConfigurationSetName string
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			sesError(w, "BadRequestException", err.Error())
			return
		}
		type result struct{ Status, MessageId string }
		var res []result
		for _, e := range in.BulkEmailEntries {
			var c sesContent
			if t := in.DefaultContent.Template.TemplateContent; t != nil {
				c.Simple = &sesSimple{Subject: sesData{t.Subject}}
				c.Simple.Body.Text, c.Simple.Body.HTML = &sesData{t.Text}, &sesData{t.HTML}
			}
			id, err := s.accept(in.FromEmailAddress, e.Destination, c, append(in.DefaultEmailTags, e.ReplacementTags...), in.ConfigurationSetName)
			if err != nil {
				res = append(res, result{Status: "FAILED"})
				continue
			}
			res = append(res, result{Status: "SUCCESS", MessageId: id})
		}
		json.NewEncoder(w).Encode(map[string]any{"BulkEmailEntryResults": res})
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"message":"fake SESv2 does not serve %s %s"}`, r.Method, r.URL.Path)
	}
}

type sesTemplate struct {
	Subject string
	Text    string
	HTML    string `json:"Html"`
}

func (s *SESv2) accept(from string, d sesDestination, c sesContent, tags []sesTag, cs string) (string, error) {
	e := Email{From: from, To: d.ToAddresses, Cc: d.CcAddresses, Bcc: d.BccAddresses, Tags: map[string]string{}, Headers: map[string]string{}, ConfigurationSet: cs}
	for _, t := range tags {
		e.Tags[t.Name] = t.Value
	}
	switch {
	case c.Simple != nil:
		e.Subject = c.Simple.Subject.Data
		if c.Simple.Body.Text != nil {
			e.Text = c.Simple.Body.Text.Data
		}
		if c.Simple.Body.HTML != nil {
			e.HTML = c.Simple.Body.HTML.Data
		}
		for _, h := range c.Simple.Headers {
			e.Headers[h.Name] = h.Value
		}
	case c.Raw != nil:
		raw, err := base64.StdEncoding.DecodeString(c.Raw.Data)
		if err != nil {
			return "", fmt.Errorf("raw content is not base64: %v", err)
		}
		e.Raw = raw
	default:
		return "", fmt.Errorf("no content")
	}
	if len(e.To)+len(e.Cc)+len(e.Bcc) == 0 && e.Raw == nil {
		return "", fmt.Errorf("no destination")
	}
	s.mu.Lock()
	s.seq++
	e.MessageID = fmt.Sprintf("local-%06d", s.seq)
	s.msgs = append(s.msgs, e)
	s.mu.Unlock()
	if s.SMTPAddr != "" {
		if err := s.forward(e); err != nil {
			return "", fmt.Errorf("forward to %s: %v", s.SMTPAddr, err)
		}
	}
	return e.MessageID, nil
}

// forward sends e over SMTP as a MIME message.
func (s *SESv2) forward(e Email) error {
	rcpt := append(append(append([]string(nil), e.To...), e.Cc...), e.Bcc...)
	msg := e.Raw
	if msg == nil {
		var b bytes.Buffer
		fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@sesv2.local>\r\nMIME-Version: 1.0\r\n", e.From, strings.Join(e.To, ", "), e.Subject, e.MessageID)
		for k, v := range e.Headers {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
		mw := multipart.NewWriter(&b)
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=%s\r\n\r\n", mw.Boundary())
		for _, part := range []struct{ typ, body string }{{"text/plain", e.Text}, {"text/html", e.HTML}} {
			if part.body == "" {
				continue
			}
			pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.typ + "; charset=UTF-8"}})
			pw.Write([]byte(part.body))
		}
		mw.Close()
		msg = b.Bytes()
	}
	if len(rcpt) == 0 {
		return nil
	}
	return smtp.SendMail(s.SMTPAddr, nil, bareAddress(e.From), rcpt, msg)
}

func bareAddress(a string) string {
	if i, j := strings.LastIndexByte(a, '<'), strings.LastIndexByte(a, '>'); i >= 0 && j > i {
		return a[i+1 : j]
	}
	return a
}

func sesError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}
