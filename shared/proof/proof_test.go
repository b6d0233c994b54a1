package proof_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/proof"
	"github.com/stepwise-run/stepwise/shared/sampledata"
	"github.com/stepwise-run/stepwise/shared/send"
)

// countingSender counts the messages handed to it.
type countingSender struct{ n atomic.Int64 }

func (s *countingSender) Send(context.Context, *send.Message) (string, error) {
	s.n.Add(1)
	return "sent", nil
}

// Render renders from a run's send plan and never sends, even when the host
// binds a sender and the run is recorded live; the plan a run executes is
// recorded once and read back.
func TestRenderNeverSends(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := sampledata.Generate(ctx, dir, sampledata.Options{Customers: 10, Seed: 1, Today: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Threads: 1}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte(`version: 1
id: p
dimension: customers
activities:
  - { id: all, type: build-audience }
  - id: mail
    type: email
    from: all
    message: { from: "Shop <news@shop.example>", subject: "Hi {{ recipient.firstName }}", html: "<p>Hi</p>", text: "Hi" }
`), 0o644)
	p, diags := builtin.CompileFiles(file, "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l, err := executor.Open(filepath.Join(dir, "home"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sum, err := l.Run(ctx, p, executor.Options{Test: true, Wait: interp.WaitSkip})
	if err != nil || sum.Status != "succeeded" {
		t.Fatalf("run: %v %+v", err, sum)
	}
	run, err := l.State.GetRun(ctx, sum.RunID)
	if err != nil {
		t.Fatal(err)
	}
	run.Test = false // as if live: the render still sends nothing
	sender := &countingSender{}
	deps := l.Families.Channel
	deps.Sender = sender
	ps, err := proof.Render(ctx, proof.Host{Plans: l.Plans, Env: l.Env, Channel: &deps}, run, p.Bundle.Digest, "mail", channel.Selection{Sample: 3})
	if err != nil || len(ps) != 3 || !strings.HasPrefix(ps[0].Subject, "Hi ") {
		t.Fatalf("render: %v %+v", err, ps)
	}
	if n := sender.n.Load(); n != 0 {
		t.Errorf("the render sent %d messages", n)
	}
	if _, err := proof.Render(ctx, proof.Host{Plans: l.Plans, Env: l.Env, Channel: &deps}, run, p.Bundle.Digest, "all", channel.Selection{Sample: 1}); err == nil {
		t.Error("a targeting activity rendered")
	}

	if _, err := proof.PlanOf(ctx, l.State, run.ID, time.Now()); err == nil || !strings.Contains(err.Error(), "no record of the plan") {
		t.Errorf("no plan recorded: %v", err)
	}
	if err := proof.RememberPlan(ctx, l.State, run.ID, p.Bundle.Digest, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := proof.RememberPlan(ctx, l.State, run.ID, "other", time.Now()); err == nil {
		t.Error("a run's plan was recorded twice")
	}
	if d, err := proof.PlanOf(ctx, l.State, run.ID, time.Now()); err != nil || d != p.Bundle.Digest {
		t.Errorf("plan of the run: %q %v", d, err)
	}
}
