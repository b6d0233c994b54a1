package lambdafn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Executions starts state machine executions (Step Functions on AWS).
type Executions interface {
	// StartExecution starts stateMachine under name with input. An
	// execution of that name that already exists reports existed, no error.
	StartExecution(ctx context.Context, stateMachine, name string, input []byte) (arn string, existed bool, err error)
}

// TriggerStore is the part of the state store the trigger reads and writes.
type TriggerStore interface {
	GetCampaign(ctx context.Context, id string) (state.Campaign, error)
	GetVersion(ctx context.Context, campaignID string, number int) (state.Version, error)
	ClaimFiring(ctx context.Context, f state.Firing) (state.Firing, bool, error)
}

// TriggerEvent asks for a run of a published campaign: the target input of
// an EventBridge Scheduler schedule, or the signal of an End activity.
type TriggerEvent struct {
	Campaign string         `json:"campaign"`
	Params   map[string]any `json:"params,omitempty"`
	// IdempotencyKey makes repeated signals one run.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	// ScheduledTime is the slot of a schedule (the Scheduler's
	// <aws.scheduler.scheduled-time>); each slot fires at most once.
	ScheduledTime string `json:"scheduledTime,omitempty"`
}

// TriggerResult says what a trigger did.
type TriggerResult struct {
	Status    string `json:"status"` // started, duplicate, expired, ignored
	RunID     string `json:"runId,omitempty"`
	Execution string `json:"execution,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Trigger results.
const (
	TriggerStarted   = "started"
	TriggerDuplicate = "duplicate"
	TriggerExpired   = "expired"
	TriggerIgnored   = "ignored"
)

// Trigger starts runs of published campaigns.
type Trigger struct {
	Store      TriggerStore
	Executions Executions
	// StateMachinePrefix + campaign id is the state machine when the
	// published version records no ARN.
	StateMachinePrefix string
	// Grace: a slot found later than this is recorded expired, not fired.
	Grace time.Duration
	Now   func() time.Time
}

// NewTrigger returns the trigger of a stack's configuration.
func (s *Stack) NewTrigger(ex Executions) *Trigger {
	return &Trigger{Store: s.State, Executions: ex, StateMachinePrefix: s.Config.StateMachinePrefix, Grace: s.Config.TriggerGrace}
}

// runNamespace derives run ids from idempotency keys (UUID v5).
var runNamespace = uuid.MustParse("7b0e3a52-3f3c-4c4f-9a55-2f1d6f0c9e11")

// Handle starts the run an event asks for. Scheduled events for a campaign
// that is no longer scheduled or live are ignored, not failed, so the
// Scheduler does not retry them.
func (t *Trigger) Handle(ctx context.Context, ev TriggerEvent) (TriggerResult, error) {
	if !campaign.ValidCampaignID(ev.Campaign) {
		return TriggerResult{}, &activity.InvalidInput{Msg: fmt.Sprintf("trigger: bad campaign id %q", ev.Campaign)}
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	c, err := t.Store.GetCampaign(ctx, ev.Campaign)
	if errors.Is(err, state.ErrNotFound) {
		return TriggerResult{}, &activity.InvalidInput{Msg: fmt.Sprintf("trigger: no campaign %q", ev.Campaign)}
	} else if err != nil {
		return TriggerResult{}, &activity.Retryable{Msg: "trigger: " + err.Error()}
	}
	if c.PublishedVersion == 0 || (c.Status != state.CampaignScheduled && c.Status != state.CampaignLive) {
		reason := fmt.Sprintf("campaign %s is %s", c.ID, c.Status)
		if ev.ScheduledTime != "" {
			return TriggerResult{Status: TriggerIgnored, Reason: reason}, nil
		}
		return TriggerResult{}, &activity.InvalidInput{Msg: "trigger: " + reason}
	}
	v, err := t.Store.GetVersion(ctx, c.ID, c.PublishedVersion)
	if err != nil {
		return TriggerResult{}, &activity.Retryable{Msg: "trigger: " + err.Error()}
	}
	sm := v.ASLRef
	if !strings.HasPrefix(sm, "arn:") {
		if t.StateMachinePrefix == "" {
			return TriggerResult{}, &activity.InvalidInput{Msg: fmt.Sprintf("trigger: version %d of %s names no state machine", v.Number, c.ID)}
		}
		sm = t.StateMachinePrefix + c.ID
	}
	in := runner.ExecutionInput{Params: ev.Params, IdempotencyKey: ev.IdempotencyKey, Version: v.Number}
	switch {
	case ev.ScheduledTime != "":
		slot, err := time.Parse(time.RFC3339, ev.ScheduledTime)
		if err != nil {
			return TriggerResult{}, &activity.InvalidInput{Msg: fmt.Sprintf("trigger: scheduledTime %q is not RFC 3339", ev.ScheduledTime)}
		}
		f := state.Firing{CampaignID: c.ID, Slot: slot.UTC(), Status: state.FiringFired, RunID: state.NewRunID(), At: now().UTC()}
		if late := f.At.Sub(f.Slot); t.Grace > 0 && late > t.Grace {
			f.Status, f.RunID, f.Reason = state.FiringExpired, "", fmt.Sprintf("found %s after its slot", late.Round(time.Second))
		}
		held, _, err := t.Store.ClaimFiring(ctx, f)
		if err != nil {
			return TriggerResult{}, &activity.Retryable{Msg: "trigger: " + err.Error()}
		}
		if held.Status == state.FiringExpired {
			return TriggerResult{Status: TriggerExpired, Reason: held.Reason}, nil
		}
		// A slot claimed before (a retried delivery) starts the same
		// execution name again: Step Functions keeps it one execution.
		in.RunID = held.RunID
		if in.IdempotencyKey == "" {
			in.IdempotencyKey = "schedule:" + f.Slot.Format(time.RFC3339)
		}
	case ev.IdempotencyKey != "":
		in.RunID = uuid.NewSHA1(runNamespace, []byte(c.ID+"\x00"+ev.IdempotencyKey)).String()
	default:
		in.RunID = state.NewRunID()
	}
	body, err := json.Marshal(in)
	if err != nil {
		return TriggerResult{}, &activity.InvalidInput{Msg: "trigger: " + err.Error()}
	}
	arn, existed, err := t.Executions.StartExecution(ctx, sm, in.RunID, body)
	if err != nil {
		return TriggerResult{}, err
	}
	res := TriggerResult{Status: TriggerStarted, RunID: in.RunID, Execution: arn}
	if existed {
		res.Status = TriggerDuplicate
	}
	return res, nil
}

// Trigger starts a run of a published campaign and returns its run id: the
// End activity's trigger service (flow.Triggerer).
func (t *Trigger) Trigger(ctx context.Context, campaignID string, params map[string]any, idempotencyKey string) (string, error) {
	res, err := t.Handle(ctx, TriggerEvent{Campaign: campaignID, Params: params, IdempotencyKey: idempotencyKey})
	return res.RunID, err
}
