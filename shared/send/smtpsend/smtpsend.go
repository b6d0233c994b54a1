// Package smtpsend sends email over SMTP, for self-hosters and for local
// inspection in mailpit. Connections are pooled and reused (RSET between
// messages); replies map to send errors: 4xx transient (421, 450 and 4.7.x
// throttled), 5xx permanent (530/535 and 5.7.x on MAIL are account errors).
package smtpsend

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/stepwise-run/stepwise/shared/send"
)

// Options configure a Sender.
type Options struct {
	Addr string // host:port
	// TLS: "" (plain, as mailpit listens), "starttls" (required) or "tls"
	// (implicit TLS, port 465).
	TLS       string
	TLSConfig *tls.Config
	Username  string
	Password  string
	LocalName string // EHLO name; default "localhost"
	MaxConns  int    // pooled connections; default 4
	Timeout   time.Duration
	Clock     func() time.Time
}

// Sender is a send.Sender over SMTP.
type Sender struct {
	o    Options
	pool chan *smtp.Client
	sem  chan struct{}
	once sync.Once
}

var _ send.Sender = (*Sender)(nil)

// New returns a Sender; it connects on first use.
func New(o Options) *Sender {
	if o.MaxConns <= 0 {
		o.MaxConns = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.LocalName == "" {
		o.LocalName = "localhost"
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &Sender{o: o, pool: make(chan *smtp.Client, o.MaxConns), sem: make(chan struct{}, o.MaxConns)}
}

// Account names the server for the shared rate ceiling.
func (s *Sender) Account() string { return "smtp:" + s.o.Addr }

// Send implements send.Sender.
func (s *Sender) Send(ctx context.Context, m *send.Message) (string, error) {
	if m.Channel != "" && m.Channel != send.Email {
		return "", &send.Permanent{Msg: "SMTP sends email only", Account: true}
	}
	raw, err := send.MIME(m, s.o.Clock())
	if err != nil {
		return "", &send.Permanent{Msg: err.Error()}
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.sem }()
	c, err := s.client(ctx)
	if err != nil {
		return "", err
	}
	err = s.deliver(c, send.AddressOnly(m.From), send.AddressOnly(m.To), raw)
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code < 500 || !errors.As(err, &se) {
			c.Close() // connection state unknown
		} else {
			s.put(c)
		}
		return "", classify(err)
	}
	s.put(c)
	return strings.Trim(send.MessageIDHeader(m), "<>"), nil
}

func (s *Sender) deliver(c *smtp.Client, from, to string, raw []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		c.Reset()
		return err
	}
	w, err := c.Data()
	if err != nil {
		c.Reset()
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	return w.Close()
}

func (s *Sender) put(c *smtp.Client) {
	select {
	case s.pool <- c:
	default:
		c.Quit()
	}
}

// client takes a pooled connection (checked with RSET) or dials one.
func (s *Sender) client(ctx context.Context) (*smtp.Client, error) {
	for {
		select {
		case c := <-s.pool:
			if c.Reset() == nil {
				return c, nil
			}
			c.Close()
			continue
		default:
		}
		break
	}
	d := net.Dialer{Timeout: s.o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", s.o.Addr)
	if err != nil {
		return nil, &send.Transient{Msg: err.Error()}
	}
	host, _, _ := net.SplitHostPort(s.o.Addr)
	cfg := s.o.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{ServerName: host}
	}
	var c *smtp.Client
	switch s.o.TLS {
	case "tls":
		c = smtp.NewClient(tls.Client(conn, cfg))
	case "starttls":
		if c, err = smtp.NewClientStartTLS(conn, cfg); err != nil {
			conn.Close()
			return nil, &send.Permanent{Msg: "STARTTLS: " + err.Error(), Account: true}
		}
	default:
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout = s.o.Timeout
	c.SubmissionTimeout = s.o.Timeout
	if err := c.Hello(s.o.LocalName); err != nil {
		c.Close()
		return nil, classify(err)
	}
	if s.o.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.o.Username, s.o.Password)); err != nil {
			c.Close()
			return nil, &send.Permanent{Msg: "authentication: " + err.Error(), Account: true}
		}
	}
	return c, nil
}

// Close closes the pooled connections.
func (s *Sender) Close() error {
	for {
		select {
		case c := <-s.pool:
			c.Quit()
		default:
			return nil
		}
	}
}

// classify maps an SMTP reply to a send error.
func classify(err error) error {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return &send.Transient{Msg: err.Error()}
	}
	msg := fmt.Sprintf("%d %d.%d.%d %s", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2], se.Message)
	switch {
	case se.Code == 421 || se.Code == 450 && se.EnhancedCode[1] == 7 || se.Code == 451 && se.EnhancedCode[1] == 7 || se.Code == 452 && se.EnhancedCode[1] == 5:
		return &send.Throttled{Msg: msg}
	case se.Code < 500:
		return &send.Transient{Msg: msg}
	case se.Code == 530 || se.Code == 535 || se.Code == 554 && bytes.Contains([]byte(se.Message), []byte("relay")):
		return &send.Permanent{Msg: msg, Account: true}
	}
	return &send.Permanent{Msg: msg}
}
