package channel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/stepwise-run/stepwise/shared/aws/sessend"
	"github.com/stepwise-run/stepwise/shared/send/smtpsend"
	"github.com/stepwise-run/stepwise/shared/state"
)

// smtpSink is an in-process SMTP server keeping what it receives.
type smtpSink struct {
	mu   sync.Mutex
	msgs []sinkMsg
}

type sinkMsg struct {
	from string
	to   []string
	data []byte
}

type sinkSession struct {
	s   *smtpSink
	msg sinkMsg
}

func (s *smtpSink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &sinkSession{s: s}, nil }
func (ss *sinkSession) Reset()                                      { ss.msg = sinkMsg{} }
func (ss *sinkSession) Logout() error                               { return nil }
func (ss *sinkSession) Mail(from string, _ *gosmtp.MailOptions) error {
	ss.msg.from = from
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if strings.HasPrefix(to, "bounce") {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.msg.to = append(ss.msg.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.msg.data = b
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.msg)
	ss.s.mu.Unlock()
	return nil
}

func startSink(t *testing.T) (*smtpSink, string) {
	sink := &smtpSink{}
	srv := gosmtp.NewServer(sink)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sink, l.Addr().String()
}

// Email through SMTP to an in-process sink: the exact recipients, rendered
// content with HTML escaping, RFC 8058 headers, a rejected recipient.
func TestEmailSMTPSink(t *testing.T) {
	sink, addr := startSink(t)
	h := newHarness(t)
	s := smtpsend.New(smtpsend.Options{Addr: addr, MaxConns: 2})
	defer s.Close()
	h.deps.Sender = s
	pop := basePopulation()
	pop = append(pop, cust{ID: "c11", Name: "Kim", Email: "bounce@example.com", EmailOK: yes})
	h.store.Suppress(context.Background(), state.Suppression{Channel: "email", Address: "gus@example.com", Reason: state.SuppressUnsubscribe})
	in := h.population("smtp1", pop)
	res := h.run("news", "smtp1", false, in)
	out := byID(h.rows(res, "out"), "messageId")
	skipped := byID(h.rows(res, "skipped"), "reason")
	if !strings.HasPrefix(skipped["c11"], "rejected: 550") {
		t.Errorf("c11: %q", skipped["c11"])
	}
	var got []string
	for _, m := range sink.msgs {
		got = append(got, m.to...)
		msg, err := mail.ReadMessage(bytes.NewReader(m.data))
		if err != nil {
			t.Fatal(err)
		}
		hd := msg.Header
		if hd.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.Contains(hd.Get("List-Unsubscribe"), "<https://api.shop.example/unsubscribe/") {
			t.Errorf("%s: unsubscribe headers %q %q", m.to, hd.Get("List-Unsubscribe"), hd.Get("List-Unsubscribe-Post"))
		}
		rcpt := hd.Get("X-Stepwise-Recipient")
		if id := strings.Trim(hd.Get("Message-Id"), "<>"); id != out[rcpt] {
			t.Errorf("%s: Message-ID %q, out %q", rcpt, id, out[rcpt])
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(hd.Get("Subject"))
		text, html := parts(t, msg)
		if rcpt == "c01" {
			if !strings.HasPrefix(subject, "Ann <b>&</b> Bob, 15% off this winter") && !strings.HasPrefix(subject, "Last chance, Ann <b>&</b> Bob") {
				t.Errorf("subject %q", subject)
			}
			if !strings.Contains(html, "<h1>Hello Ann &lt;b&gt;&amp;&lt;/b&gt; Bob</h1>") || !strings.Contains(text, "Hi Ann <b>&</b> Bob, 15% off.") {
				t.Errorf("content:\n%s\n%s", html, text)
			}
		}
		if !strings.Contains(html, `href="https://api.shop.example/unsubscribe/`) {
			t.Errorf("no unsubscribe link in html: %s", html)
		}
	}
	checkRecipients(t, got, out, skipped, true)
}

// eligibleNews are the recipients of basePopulation that `news` may send
// to, lower-cased, unless held out (which depends on the run id).
var eligibleNews = map[string]string{"c01": "ann@example.com", "c02": "ben@example.com", "c08": "hal2@example.com",
	"c09": "ivy@example.com", "c10": "joe@example.com"}

// checkRecipients compares what a provider received with the out port.
func checkRecipients(t *testing.T, got []string, out, skipped map[string]string, lower bool) {
	t.Helper()
	var want []string
	held := 0
	for id, addr := range eligibleNews {
		switch {
		case out[id] != "":
			want = append(want, addr)
		case skipped[id] == "holdout":
			held++
		default:
			t.Errorf("%s not sent, skipped %q", id, skipped[id])
		}
	}
	if held > 2 {
		t.Errorf("%d of 5 held out at 10%%", held)
	}
	for i := range got {
		got[i] = strings.ToLower(got[i])
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("recipients %v, want %v (out %v, skipped %v)", got, want, out, skipped)
	}
	for id, r := range map[string]string{"c03": "no address", "c04": "invalid address", "c05": "no consent", "c06": "no consent", "c07": "suppressed", "c08": "duplicate recipient"} {
		if skipped[id] != r {
			t.Errorf("%s: skipped %q, want %q", id, skipped[id], r)
		}
	}
}

// parts returns the text and html parts of a multipart/alternative message.
func parts(t *testing.T, msg *mail.Message) (text, html string) {
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(quotedprintable.NewReader(p))
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			html = string(b)
		} else {
			text = string(b)
		}
	}
}

// fakeSES is an SES v2 endpoint: it records SendEmail requests, throttles
// the first attempt for one address and rejects another.
type fakeSES struct {
	mu        sync.Mutex
	reqs      []map[string]any
	throttled map[string]bool
}

func (f *fakeSES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v2/email/outbound-emails" {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, 404)
		return
	}
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	to := body["Destination"].(map[string]any)["ToAddresses"].([]any)[0].(string)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case strings.HasPrefix(strings.ToLower(to), "ben@") && !f.throttled[to]:
		f.throttled[to] = true
		w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
		w.WriteHeader(429)
		io.WriteString(w, `{"message":"Maximum sending rate exceeded."}`)
		return
	case strings.HasPrefix(to, "bounce"):
		w.Header().Set("X-Amzn-ErrorType", "MessageRejected")
		w.WriteHeader(400)
		io.WriteString(w, `{"message":"Email address is not verified."}`)
		return
	}
	f.reqs = append(f.reqs, body)
	fmt.Fprintf(w, `{"MessageId":"ses-%d"}`, len(f.reqs))
}

// Email through the SES v2 API (SDK against an httptest endpoint): exact
// recipients, headers, tags, configuration set; throttling retried,
// MessageRejected skipped.
func TestEmailFakeSES(t *testing.T) {
	fake := &fakeSES{throttled: map[string]bool{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	client := sesv2.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", "")}, func(o *sesv2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	h := newHarness(t)
	h.deps.Sender = &sessend.Sender{Client: client, ConfigurationSet: "stepwise-events"}
	pop := append(basePopulation(), cust{ID: "c11", Name: "Kim", Email: "bounce@example.com", EmailOK: yes})
	h.store.Suppress(context.Background(), state.Suppression{Channel: "email", Address: "gus@example.com", Reason: state.SuppressHardBounce})
	in := h.population("ses1", pop)
	res := h.run("news", "ses1", false, in)
	out := byID(h.rows(res, "out"), "messageId")
	skipped := byID(h.rows(res, "skipped"), "reason")
	if !strings.HasPrefix(skipped["c11"], "rejected: MessageRejected") {
		t.Errorf("c11: %q", skipped["c11"])
	}
	var got []string
	for _, req := range fake.reqs {
		to := req["Destination"].(map[string]any)["ToAddresses"].([]any)[0].(string)
		got = append(got, to)
		if req["ConfigurationSetName"] != "stepwise-events" || req["FromEmailAddress"] != "Shop <news@shop.example>" {
			t.Errorf("request %v", req)
		}
		simple := req["Content"].(map[string]any)["Simple"].(map[string]any)
		headers := map[string]string{}
		for _, h := range simple["Headers"].([]any) {
			m := h.(map[string]any)
			headers[m["Name"].(string)] = m["Value"].(string)
		}
		if headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" || !strings.Contains(headers["List-Unsubscribe"], "https://api.shop.example/unsubscribe/") {
			t.Errorf("headers %v", headers)
		}
		tags := map[string]string{}
		for _, tg := range req["EmailTags"].([]any) {
			m := tg.(map[string]any)
			tags[m["Name"].(string)] = m["Value"].(string)
		}
		if tags["campaign"] != "channel-test" || tags["activity"] != "news" || tags["run"] != "ses1" || tags["recipient"] == "" || !strings.HasPrefix(tags["token"], "sw-") {
			t.Errorf("tags %v", tags)
		}
		html := simple["Body"].(map[string]any)["Html"].(map[string]any)["Data"].(string)
		if tags["recipient"] == "c01" && !strings.Contains(html, "Hello Ann &lt;b&gt;&amp;&lt;/b&gt; Bob") {
			t.Errorf("html %s", html)
		}
		if out[tags["recipient"]] == "" {
			t.Errorf("%s sent but not on out", tags["recipient"])
		}
	}
	checkRecipients(t, got, out, skipped, true)
	if !fake.throttled["BEN@Example.com"] && skipped["c02"] != "holdout" {
		t.Error("throttling not exercised")
	}
}
