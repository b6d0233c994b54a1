package lambdalocal_test

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/emersion/go-smtp"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
)

// sink is an in-process SMTP server keeping what it receives.
type sink struct {
	mu   sync.Mutex
	msgs []string
	rcpt []string
}

type session struct{ s *sink }

func (s session) Reset()                               {}
func (s session) Logout() error                        { return nil }
func (s session) Mail(string, *smtp.MailOptions) error { return nil }
func (s session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.s.mu.Lock()
	defer s.s.mu.Unlock()
	s.s.rcpt = append(s.s.rcpt, to)
	return nil
}
func (s session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.s.mu.Lock()
	defer s.s.mu.Unlock()
	s.s.msgs = append(s.s.msgs, string(b))
	return err
}

// TestSESv2 sends through the SDK's SESv2 client to the fake, which keeps
// the message and forwards it over SMTP.
func TestSESv2(t *testing.T) {
	sk := &sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return session{sk}, nil }))
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	fake := &lambdalocal.SESv2{SMTPAddr: l.Addr().String()}
	hs := httptest.NewServer(fake)
	defer hs.Close()
	c := sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(hs.URL), Credentials: aws.AnonymousCredentials{}})
	out, err := c.SendEmail(context.Background(), &sesv2.SendEmailInput{
		FromEmailAddress:     aws.String("Shop <news@shop.example>"),
		Destination:          &types.Destination{ToAddresses: []string{"ann@example.com"}},
		ConfigurationSetName: aws.String("stepwise-dev"),
		EmailTags:            []types.MessageTag{{Name: aws.String("campaign"), Value: aws.String("winback-q4")}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("Ann, 15% off")},
			Body:    &types.Body{Text: &types.Content{Data: aws.String("Come back")}, Html: &types.Content{Data: aws.String("<p>Come back</p>")}},
			Headers: []types.MessageHeader{{Name: aws.String("List-Unsubscribe-Post"), Value: aws.String("List-Unsubscribe=One-Click")}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 || aws.ToString(out.MessageId) != msgs[0].MessageID {
		t.Fatalf("messages %+v, id %s", msgs, aws.ToString(out.MessageId))
	}
	m := msgs[0]
	if m.Subject != "Ann, 15% off" || m.Text != "Come back" || m.HTML != "<p>Come back</p>" || m.Tags["campaign"] != "winback-q4" ||
		m.ConfigurationSet != "stepwise-dev" || m.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
		t.Errorf("message %+v", m)
	}
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if len(sk.msgs) != 1 || len(sk.rcpt) != 1 || sk.rcpt[0] != "ann@example.com" {
		t.Fatalf("SMTP got %d messages for %v", len(sk.msgs), sk.rcpt)
	}
	for _, want := range []string{"Subject: Ann, 15% off", "List-Unsubscribe-Post: List-Unsubscribe=One-Click", "text/html", "<p>Come back</p>"} {
		if !strings.Contains(sk.msgs[0], want) {
			t.Errorf("forwarded message lacks %q:\n%s", want, sk.msgs[0])
		}
	}
}
