package channel

import (
	"context"
	"fmt"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Phases of a channel task (activity.Request.Phase).
const (
	PhasePlan    = "plan"
	PhaseConfirm = "confirm"
	PhaseSend    = "send"
	PhaseFinish  = "finish"
)

// Deps are what the channel types need from their host. The state store
// parts are optional: a store without them cannot send live.
type Deps struct {
	Data         datatask.Deps
	Ledger       Ledger
	Caps         Caps
	Keys         Keys
	Suppressions Suppressions
	// Sender delivers messages (nil: live runs fail; test runs render only).
	Sender send.Sender
	// Links makes one-click unsubscribe URLs (nil: marketing email fails live).
	Links Links
	// Options tune sending (nil: the defaults).
	Options *Options
	// Signals delivers local out-of-band signals (`stepwise confirm`).
	Signals Signals
	// RunBucket locates the run store in S3 for a distributed Map over a
	// listed plan (see listSlices; zero: plans cannot list their slices).
	RunBucket RunBucket
	// Athena runs the plan's numbering under engine athena (nil: the plan
	// runs on DuckDB).
	Athena Athena
}

// Options tune sending; zero fields take the defaults.
type Options struct {
	// Lease is how long a claimed send is held before another attempt may
	// settle it; well above CallTimeout. Default 2 minutes.
	Lease time.Duration
	// CallTimeout bounds one provider call. Default 30 s.
	CallTimeout time.Duration
	// Workers send concurrently within one slice. Default 8.
	Workers int
	// Group is how many queued recipients a worker takes at once: their cap
	// reservations, ledger claims and completions are one write each, their
	// provider calls one after another. Default 25.
	Group int
	// MaxAttempts per message for throttling and transient errors. Default 6.
	MaxAttempts int
	// Backoff is the first retry delay, doubled per attempt up to 10 s. Default 200 ms.
	Backoff time.Duration
	// Sleep waits (tests make it advance a fake clock). Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Deadline is when the invocation must have returned, on the Env's
	// clock. Default: the context's deadline (aws-lambda-go sets the
	// function's; the interpreter the Task's TimeoutSeconds).
	Deadline func(ctx context.Context) (time.Time, bool)
}

func (o Options) withDefaults() Options {
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Group <= 0 {
		o.Group = 25
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.Backoff <= 0 {
		o.Backoff = 200 * time.Millisecond
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (d *Deps) options() Options {
	if d.Options != nil {
		return d.Options.withDefaults()
	}
	return Options{}.withDefaults()
}

// The state store, seen through the parts each phase uses.
type (
	// Ledger is the send ledger (see state.LedgerEntry for the protocol).
	Ledger interface {
		ClaimSend(ctx context.Context, k state.SendKey, token string, at time.Time, lease time.Duration) (state.LedgerEntry, bool, error)
		ReclaimSend(ctx context.Context, held state.LedgerEntry, at time.Time, lease time.Duration) (state.LedgerEntry, error)
		CompleteSend(ctx context.Context, held state.LedgerEntry, messageID, variant string, at time.Time) (state.LedgerEntry, error)
		FailSend(ctx context.Context, held state.LedgerEntry, reason string, at time.Time) (state.LedgerEntry, error)
		GetSend(ctx context.Context, k state.SendKey) (state.LedgerEntry, error)
		ClaimSends(ctx context.Context, cs []state.SendClaim, at time.Time, lease time.Duration) ([]state.SendResult, error)
		CompleteSends(ctx context.Context, cs []state.SendCompletion, at time.Time) ([]state.SendResult, error)
	}
	// Suppressions tells which addresses must not be messaged.
	Suppressions interface {
		CheckSuppressed(ctx context.Context, channel string, addresses ...string) (map[string]state.Suppression, error)
	}
	// Caps counts sends per recipient and channel across campaigns.
	Caps interface {
		CountSends(ctx context.Context, recipient, channel string, since time.Time) (int, error)
		ReserveCaps(ctx context.Context, rs []state.CapRequest) ([]bool, error)
		ReleaseCap(ctx context.Context, recipient, channel, ref string) error
	}
	// capClaimer is a store that reserves caps and claims sends in one write
	// (the embedded store: one group commit instead of two); cs[i] is claimed
	// only when rs[i] is granted.
	capClaimer interface {
		ReserveCapsAndClaimSends(ctx context.Context, rs []state.CapRequest, cs []state.SendClaim, at time.Time, lease time.Duration) ([]bool, []state.SendResult, error)
	}
	// Keys holds slice markers and confirmations.
	Keys interface {
		PutKey(ctx context.Context, k state.Key) (state.Key, bool, error)
		GetKey(ctx context.Context, key string, now time.Time) (state.Key, error)
	}
	// Signals delivers local out-of-band signals (see runner.Signals).
	Signals interface {
		Take(ctx context.Context, runID, name string) bool
	}
)

// run runs the phase a request names.
func run(ctx context.Context, d *Deps, call *activity.Call, kind *Kind, x *Config) (*activity.Result, error) {
	switch call.Req.Phase {
	case PhasePlan, PhaseConfirm:
		// confirm polls a held send: the plan's result again, held or not.
		return runPlan(ctx, d, call, kind, x)
	case PhaseUnload:
		return runUnload(ctx, d, call, kind, x)
	case PhaseSend:
		return runSend(ctx, d, call, kind, x)
	case PhaseFinish:
		return runFinish(ctx, d, call, kind, x)
	}
	return nil, &activity.InvalidInput{Msg: fmt.Sprintf("%s: unknown phase %q", kind.Type, call.Req.Phase)}
}

// ConfirmSignal is the local signal name that confirms a held send.
func ConfirmSignal(activityID string) string { return "confirm." + activityID }

// Refs of the datasets a channel activity writes besides its ports.
func planRef(run, act string) string { return "runs/" + run + "/" + act + "/_plan" }
func partRef(run, act string, index int) string {
	return fmt.Sprintf("runs/%s/%s/_parts/%06d", run, act, index)
}
func sliceMarker(run, act string, index int) string {
	return fmt.Sprintf("slice/%s/%s/%d", run, act, index)
}
