package lambdafn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"regexp"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// ExecutionEvent is the EventBridge event "Step Functions Execution Status
// Change" (source aws.states) that the template's ExecutionEndedRule sends
// to FailRun for the stack's executions that FAILED, TIMED_OUT or were
// ABORTED.
type ExecutionEvent struct {
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
	Detail     struct {
		ExecutionArn    string  `json:"executionArn"`
		StateMachineArn string  `json:"stateMachineArn"`
		Name            string  `json:"name"`
		Status          string  `json:"status"`
		Input           *string `json:"input"` // the execution input, null when too large
		Error           *string `json:"error"`
		Cause           *string `json:"cause"`
	} `json:"detail"`
}

// EndedStore is the part of the state store EndedRuns reads and writes.
type EndedStore interface {
	GetRun(ctx context.Context, id string) (state.Run, error)
	ListRuns(ctx context.Context, campaignID string, p state.Page) ([]state.Run, string, error)
	SetRunStatus(ctx context.Context, id string, from, to state.RunStatus, reason string, at time.Time) (state.Run, error)
}

// EndedRuns records the runs whose execution ended where no Catch could
// handle it (States.Runtime, a top-level States.Timeout, an execution
// stopped or timed out by Step Functions): the state machine never reached
// FailRun, so the run would stay running. Runs already ended are left alone.
type EndedRuns struct {
	Store EndedStore
	// StateMachinePrefix is STATE_MACHINE_PREFIX: the ARN of a campaign's
	// state machine is this prefix + the campaign id (+ "-test").
	StateMachinePrefix string
	Now                func() time.Time
}

// EndedResult says what EndedRuns did with an event.
type EndedResult struct {
	RunID  string `json:"runId,omitempty"`
	Status string `json:"status"` // the run's status after the event, or "unknown"
	Reason string `json:"reason,omitempty"`
}

// Or returns a handler that takes execution status events and passes every
// other input to next (FailRun's runner handler).
func (e *EndedRuns) Or(next func(context.Context, json.RawMessage) (json.RawMessage, error)) func(context.Context, json.RawMessage) (json.RawMessage, error) {
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		var probe struct {
			Source string `json:"source"`
		}
		if json.Unmarshal(in, &probe) != nil || probe.Source != "aws.states" {
			return next(ctx, in)
		}
		var ev ExecutionEvent
		if err := json.Unmarshal(in, &ev); err != nil {
			return nil, &activity.InvalidInput{Msg: "bad execution status event: " + err.Error()}
		}
		res, err := e.Handle(ctx, ev)
		if err != nil {
			log.Printf("execution %s: %v", ev.Detail.ExecutionArn, err)
			return nil, err
		}
		return json.Marshal(res)
	}
}

// Handle records the run of an ended execution failed (FAILED, TIMED_OUT)
// or stopped (ABORTED), with a reason that names the error and the state
// but holds no data.
func (e *EndedRuns) Handle(ctx context.Context, ev ExecutionEvent) (EndedResult, error) {
	to, reason, ok := endedReason(ev)
	if !ok {
		return EndedResult{Status: "unknown"}, &activity.InvalidInput{Msg: fmt.Sprintf("detail.status %q: want FAILED, TIMED_OUT or ABORTED", ev.Detail.Status)}
	}
	run, err := e.findRun(ctx, ev)
	if errors.Is(err, state.ErrNotFound) {
		// The execution ended before StartRun recorded a run.
		return EndedResult{Status: "unknown"}, nil
	}
	if err != nil {
		return EndedResult{}, &activity.Retryable{Msg: err.Error()}
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	for _, from := range []state.RunStatus{state.RunRunning, state.RunSuspended} {
		if run.Status != from {
			continue
		}
		got, err := e.Store.SetRunStatus(ctx, run.ID, from, to, reason, now())
		if errors.Is(err, state.ErrConflict) {
			// It ended meanwhile (FailRun, FinishRun, a stop): keep that.
			if got, err = e.Store.GetRun(ctx, run.ID); err != nil {
				return EndedResult{}, &activity.Retryable{Msg: err.Error()}
			}
		} else if err != nil {
			return EndedResult{}, &activity.Retryable{Msg: err.Error()}
		}
		return EndedResult{RunID: got.ID, Status: string(got.Status), Reason: got.Reason}, nil
	}
	return EndedResult{RunID: run.ID, Status: string(run.Status), Reason: run.Reason}, nil
}

// statePattern finds the state a Step Functions cause names ("... while
// executing the state 'Start run' (entered at the event id #3) ...").
var statePattern = regexp.MustCompile(`the state '([^']{1,80})'`)

// endedReason is the status and reason to record: the error name and the
// state the cause names, never the rest of the cause, which may quote the
// state's input (customer data).
func endedReason(ev ExecutionEvent) (state.RunStatus, string, bool) {
	name := deref(ev.Detail.Error)
	where := ""
	if m := statePattern.FindStringSubmatch(deref(ev.Detail.Cause)); m != nil {
		where = " in state '" + m[1] + "'"
	}
	switch ev.Detail.Status {
	case "FAILED":
		if name == "" {
			name = "States.Runtime"
		}
		return state.RunFailed, name + ": the execution failed" + where, true
	case "TIMED_OUT":
		// States.Timeout is transient: such a run may be resumed.
		return state.RunFailed, "States.Timeout: the execution timed out" + where, true
	case "ABORTED":
		return state.RunStopped, "the execution was stopped in Step Functions", true
	}
	return "", "", false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// maxRunPages bounds the search for a scheduled run by its idempotency key.
const maxRunPages = 5

// findRun is the run of the execution: the runId of its input (API and
// trigger runs, whose execution is also named by it), else the run of the
// campaign with the input's idempotency key (scheduled runs), else the run
// named like the execution.
func (e *EndedRuns) findRun(ctx context.Context, ev ExecutionEvent) (state.Run, error) {
	var in runner.ExecutionInput
	if s := deref(ev.Detail.Input); s != "" {
		d := json.NewDecoder(bytes.NewReader([]byte(s)))
		d.Decode(&in) // a malformed input leaves the execution name
	}
	if in.RunID != "" {
		return e.Store.GetRun(ctx, in.RunID)
	}
	for _, campaign := range e.campaignsOf(ev.Detail.StateMachineArn) {
		if in.IdempotencyKey == "" {
			break
		}
		after := ""
		for range maxRunPages {
			runs, next, err := e.Store.ListRuns(ctx, campaign, state.Page{Limit: 50, After: after})
			if err != nil {
				return state.Run{}, err
			}
			for _, r := range runs {
				if r.IdempotencyKey == in.IdempotencyKey {
					return r, nil
				}
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	if ev.Detail.Name == "" {
		return state.Run{}, state.ErrNotFound
	}
	return e.Store.GetRun(ctx, ev.Detail.Name)
}

// campaignsOf are the campaign ids one of the stack's state machine ARNs
// may belong to (a version or alias ARN has a further ":suffix"; a test
// state machine is named id + "-test").
func (e *EndedRuns) campaignsOf(arn string) []string {
	rest, ok := strings.CutPrefix(arn, e.StateMachinePrefix)
	if !ok || e.StateMachinePrefix == "" {
		return nil
	}
	rest, _, _ = strings.Cut(rest, ":")
	if id, ok := strings.CutSuffix(rest, "-test"); ok && id != "" {
		return []string{rest, id}
	}
	return []string{rest}
}
