package local_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/api/local"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/state"
)

// A run left running whose program is unknown (no record of its bundle)
// cannot resume: start-up recovery records it failed with the reason, and
// leaves finished runs alone.
func TestRecoverFailsWhatCannotResume(t *testing.T) {
	l, err := executor.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if _, err := l.State.CreateCampaign(ctx, state.Campaign{ID: "c1", Name: "c1"}); err != nil {
		t.Fatal(err)
	}
	orphan, _, err := l.State.StartRun(ctx, state.Run{CampaignID: "c1", IdempotencyKey: "run/1"})
	if err != nil {
		t.Fatal(err)
	}
	done, _, _ := l.State.StartRun(ctx, state.Run{CampaignID: "c1", IdempotencyKey: "run/2"})
	if _, err := l.State.SetRunStatus(ctx, done.ID, state.RunRunning, state.RunSucceeded, "", l.Env.Now()); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	b := &local.Backend{L: l, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	resumed, failed, err := b.Recover(ctx)
	if err != nil || resumed != 0 || failed != 1 {
		t.Fatalf("resumed %d, failed %d, %v", resumed, failed, err)
	}
	got, _ := l.State.GetRun(ctx, orphan.ID)
	if got.Status != state.RunFailed || !strings.Contains(got.Reason, "the server stopped while the run was executing, and it cannot resume") ||
		!strings.Contains(got.Reason, "no record of the campaign bundle") {
		t.Errorf("the orphan: %s %q", got.Status, got.Reason)
	}
	if got, _ := l.State.GetRun(ctx, done.ID); got.Status != state.RunSucceeded {
		t.Errorf("a finished run was touched: %s", got.Status)
	}
	if !strings.Contains(logs.String(), orphan.ID) {
		t.Errorf("the log does not name the run: %s", logs.String())
	}
}
