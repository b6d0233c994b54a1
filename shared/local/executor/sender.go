package executor

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
	"github.com/stepwise-run/stepwise/shared/send/smtpsend"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

// Environment of the local sender.
const (
	// EnvSMTPAddr sends email over SMTP (mailpit: 127.0.0.1:1025) instead of
	// the outbox; SMS and push still go to the outbox.
	EnvSMTPAddr = "STEPWISE_SMTP_ADDR"
	EnvSMTPUser = "STEPWISE_SMTP_USER"
	EnvSMTPPass = "STEPWISE_SMTP_PASSWORD"
	EnvSMTPTLS  = "STEPWISE_SMTP_TLS"  // "", starttls or tls
	EnvSMTPRate = "STEPWISE_SMTP_RATE" // messages per second for the server, all runs
	// EnvPublicURL is the API's public URL, the base of unsubscribe links
	// (default http://127.0.0.1:8080, where `stepwise serve` listens).
	EnvPublicURL = "STEPWISE_PUBLIC_URL"
	// EnvUnsubscribeMailto adds a mailto: List-Unsubscribe address.
	EnvUnsubscribeMailto = "STEPWISE_UNSUBSCRIBE_MAILTO"
	// EnvSendLease is how long a send in flight is held (default 2m): a run
	// resumed after its process was killed waits this long before settling
	// the sends that process had under way. Provider calls are bounded by a
	// third of it (at most 30 s).
	EnvSendLease = "STEPWISE_SEND_LEASE"
)

// OutboxDir is where local runs leave their messages: <home>/outbox/<run>/<activity>.jsonl.
func OutboxDir(home string) string { return filepath.Join(home, "outbox") }

// UnsubscribeSecret returns the home's unsubscribe signing secret
// (<home>/unsubscribe.key), creating it on first use; `stepwise serve`
// verifies tokens with the same secret.
func UnsubscribeSecret(home string) ([]byte, error) {
	p := filepath.Join(home, "unsubscribe.key")
	b, err := os.ReadFile(p)
	if err == nil && len(b) >= unsubscribe.MinSecretLen {
		return b, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	rand.Read(b)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return nil, fmt.Errorf("write the unsubscribe secret: %w", err)
	}
	return b, nil
}

// configureSender adds the local sender and the unsubscribe links to the
// Env: the outbox, or SMTP for email when STEPWISE_SMTP_ADDR is set.
func configureSender(l *Local, h *builtin.Host) error {
	ob := outbox.New(OutboxDir(l.Home))
	var s send.Sender = ob
	l.closers = append(l.closers, ob.Close)
	if addr := os.Getenv(EnvSMTPAddr); addr != "" {
		smtp := smtpsend.New(smtpsend.Options{Addr: addr, Username: os.Getenv(EnvSMTPUser), Password: os.Getenv(EnvSMTPPass), TLS: os.Getenv(EnvSMTPTLS)})
		l.closers = append(l.closers, smtp.Close)
		rate, _ := strconv.ParseFloat(os.Getenv(EnvSMTPRate), 64)
		s = send.Router{send.Email: send.Limit(smtp, smtp.Account(), rate), send.SMS: ob, send.Push: ob}
	}
	secret, err := UnsubscribeSecret(l.Home)
	if err != nil {
		return err
	}
	base := os.Getenv(EnvPublicURL)
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	h.Sender = s
	// The embedded ledger commits each group's caps and claims in one write
	// and its completions in another (one fsync each), and concurrent groups
	// share a commit: few workers with large groups make few, large commits.
	// Measured with TestThroughputBolt (64×256 and 256×25 did less).
	opts := &channel.Options{Workers: 32, Group: 256}
	if v := os.Getenv(EnvSendLease); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 3*time.Second {
			return fmt.Errorf("%s=%q: want a duration of at least 3s, such as 2m", EnvSendLease, v)
		}
		opts.Lease, opts.CallTimeout = d, min(d/3, 30*time.Second)
	}
	h.Channel = opts
	h.Links = channel.SignedLinks{BaseURL: base, Secret: secret, Mailto: os.Getenv(EnvUnsubscribeMailto)}
	return nil
}
