package executor_test

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/freeport"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/send/smtpsend"
)

// smtpServer is an in-process SMTP server that refuses the first `refuse`
// sessions (451, as a server that is starting or overloaded) and keeps the
// recipients of the messages it accepts.
type smtpServer struct {
	mu       sync.Mutex
	refuse   int
	sessions int
	to       map[string]int
}

func (s *smtpServer) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions++
	if s.sessions <= s.refuse {
		return nil, &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "not ready"}
	}
	return &smtpSession{s: s}, nil
}

type smtpSession struct {
	s  *smtpServer
	to []string
}

func (ss *smtpSession) Reset()                                 { ss.to = nil }
func (ss *smtpSession) Logout() error                          { return nil }
func (ss *smtpSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (ss *smtpSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}
func (ss *smtpSession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	ss.s.mu.Lock()
	for _, to := range ss.to {
		ss.s.to[to]++
	}
	ss.s.mu.Unlock()
	return nil
}

// messages counts the messages accepted (two customers may share an
// address: more messages than customers sent would be someone sent twice).
func (s *smtpServer) messages() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.to {
		n += c
	}
	return n
}

func startSMTP(t *testing.T, refuse int) (*smtpServer, string) {
	t.Helper()
	s := &smtpServer{refuse: refuse, to: map[string]int{}}
	srv := gosmtp.NewServer(s)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s, ln.Addr().String()
}

// closedPort is a port of 127.0.0.1 nothing listens on, until the test
// starts its server there (below the ephemeral range: no connection takes
// it as its source port meanwhile).
func closedPort(t *testing.T) string {
	p, err := freeport.Ports(1)
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(p[0])
}

// An unreachable SMTP server (a closed port): each message is tried a
// bounded number of times with growing delays, the slice is retried by the
// state machine, and the run fails naming the cause and what to do; it is
// resumable, and resumed once the server is up it sends everyone once.
func TestSMTPUnreachableFailsWithCauseAndRetries(t *testing.T) {
	addr := closedPort(t)
	t.Setenv(executor.EnvSMTPAddr, addr)
	p, l, _ := mailRun(t)
	var mu sync.Mutex
	sleeps := map[time.Duration]int{}
	l.Families.Channel.Options = &channel.Options{Workers: 2, MaxAttempts: 3, Backoff: time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			sleeps[d]++
			mu.Unlock()
			return nil
		}}
	ctx := context.Background()
	sum, err := l.Run(ctx, p, executor.Options{Wait: interp.WaitSkip})
	if err == nil || sum == nil || sum.Status != "failed" {
		t.Fatalf("a run against a closed port: %v %+v", err, sum)
	}
	for _, want := range []string{"connection refused", addr, "retried", "resuming it sends them"} {
		if !strings.Contains(sum.Reason, want) {
			t.Errorf("the reason does not say %q: %s", want, sum.Reason)
		}
	}
	run, rp, err := l.Resumable(ctx, sum.RunID)
	if err != nil {
		t.Fatalf("not resumable: %v", err)
	}
	srv, up := startSMTP(t, 0)
	l.Families.Channel.Sender = smtpsend.New(smtpsend.Options{Addr: up})
	sum, err = l.Resume(ctx, run, rp, executor.Options{Wait: interp.WaitSkip})
	if err != nil || sum.Status != "succeeded" {
		t.Fatalf("resumed: %v %+v", err, sum)
	}
	n := int(sum.Activities["mail"].Ports["out"])
	if got := srv.messages(); n == 0 || got != n {
		t.Fatalf("%d sent, the server got %d messages", n, got)
	}
	// Per message: MaxAttempts-1 backoffs, 1 ms then 2 ms; per slice: the
	// first attempt and the state machine's 3 retries.
	const attempts = 4
	if len(sleeps) != 2 || sleeps[time.Millisecond] != attempts*n || sleeps[2*time.Millisecond] != attempts*n {
		t.Errorf("backoffs %v, want %d of 1ms and of 2ms (%d recipients, %d slice attempts)", sleeps, attempts*n, n, attempts)
	}
}

// A server that refuses at first then accepts: the sends it refused are
// sent by the slice's retry, once each, and the run succeeds.
func TestSMTPRefusesThenAccepts(t *testing.T) {
	srv, addr := startSMTP(t, 1)
	t.Setenv(executor.EnvSMTPAddr, addr)
	p, l, _ := mailRun(t)
	// One attempt per message within a slice: the refused one is left to
	// the slice's retry.
	l.Families.Channel.Options = &channel.Options{Workers: 1, MaxAttempts: 1}
	sum, err := l.Run(context.Background(), p, executor.Options{Wait: interp.WaitSkip})
	if err != nil || sum.Status != "succeeded" {
		t.Fatalf("%v %+v", err, sum)
	}
	n := int(sum.Activities["mail"].Ports["out"])
	if got := srv.messages(); srv.sessions < 2 || n == 0 || got != n {
		t.Fatalf("%d sessions, %d sent, the server got %d messages (one each)", srv.sessions, n, got)
	}
}
