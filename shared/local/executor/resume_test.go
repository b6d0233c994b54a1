package executor_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/sampledata"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
)

// diskFills is the outbox on a disk that fills after `room` messages.
type diskFills struct {
	*outbox.Outbox
	room atomic.Int32
}

func (d *diskFills) Send(ctx context.Context, m *send.Message) (string, error) {
	if d.room.Add(-1) < 0 {
		return "", &send.Transient{Msg: "outbox: write: no space left on device"}
	}
	return d.Outbox.Send(ctx, m)
}

// SendGroup takes a group message by message, so that the disk fills
// after room messages whatever the groups (the embedded outbox's SendGroup
// would write past it).
func (d *diskFills) SendGroup(ctx context.Context, ms []*send.Message) ([]string, []error) {
	ids, errs := make([]string, len(ms)), make([]error, len(ms))
	for i, m := range ms {
		ids[i], errs[i] = d.Send(ctx, m)
	}
	return ids, errs
}

// mailRun compiles a campaign emailing 20 sample customers and opens a home;
// the sender comes from the environment (the outbox, or STEPWISE_SMTP_ADDR).
func mailRun(t *testing.T) (*compile.Program, *executor.Local, string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := sampledata.Generate(context.Background(), data, sampledata.Options{Customers: 20, Seed: 1, Today: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(data, "c.yaml")
	os.WriteFile(file, []byte(`version: 1
id: mail-run
dimension: customers
activities:
  - { id: all, type: build-audience }
  - id: mail
    type: email
    from: all
    purpose: transactional
    message: { from: "Shop <news@shop.example>", subject: "hi", text: "hello" }
`), 0o644)
	p, diags := builtin.CompileFiles(file, "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	home := filepath.Join(dir, "home")
	l, err := executor.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return p, l, home
}

// A run that fails for a transient reason (the disk filled after some
// messages) is resumable: once there is room, resuming it sends the rest,
// and nobody already reached is sent to again.
func TestTransientFailureResumes(t *testing.T) {
	p, l, home := mailRun(t)
	ob := outbox.New(executor.OutboxDir(home))
	full := &diskFills{Outbox: ob}
	full.room.Store(7)
	l.Families.Channel.Sender = full
	l.Families.Channel.Options = &channel.Options{Workers: 2, MaxAttempts: 2, Backoff: time.Millisecond}
	ctx := context.Background()
	sum, err := l.Run(ctx, p, executor.Options{Wait: interp.WaitSkip})
	if err == nil || sum == nil || sum.Status != "failed" {
		t.Fatalf("the run on a full disk: %v %+v", err, sum)
	}
	if !strings.HasPrefix(sum.Reason, "Retryable: ") || !strings.Contains(sum.Reason, "no space left on device") {
		t.Errorf("reason %q: want the transient cause", sum.Reason)
	}
	run, rp, err := l.Resumable(ctx, sum.RunID)
	if err != nil {
		t.Fatalf("a transient failure is not resumable: %v", err)
	}
	full.room.Store(1 << 20) // room again
	sum, err = l.Resume(ctx, run, rp, executor.Options{Wait: interp.WaitSkip})
	if err != nil || sum.Status != "succeeded" || sum.Activities["mail"].Ports["out"] != 20 {
		t.Fatalf("resumed: %v %+v", err, sum)
	}
	ob.Close()
	recs, err := outbox.ReadFile(outbox.Path(executor.OutboxDir(home), sum.RunID, "mail"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.Tags[send.TagRecipient]]++
	}
	if len(recs) != 20 || len(seen) != 20 {
		t.Errorf("%d messages to %d recipients, want 20 each once", len(recs), len(seen))
	}
	// A run that failed for a permanent reason is not resumable.
	if _, _, err := l.Resumable(ctx, sum.RunID); err == nil || !strings.Contains(err.Error(), "nothing to resume") {
		t.Errorf("a succeeded run: %v", err)
	}
}
