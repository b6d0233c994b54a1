package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/failure"
	"github.com/stepwise-run/stepwise/shared/state"
)

// ExecutionInput is what starts an execution (StartExecution input, CLI, API).
type ExecutionInput struct {
	Params         map[string]any `json:"params,omitempty"`
	Test           bool           `json:"test,omitempty"`
	RunID          string         `json:"runId,omitempty"`
	IdempotencyKey string         `json:"idempotencyKey,omitempty"`
	Version        int            `json:"version,omitempty"`
	// Resume continues the recorded run RunID: one a dead process left
	// running, a suspended one, or one that failed for a transient reason
	// (see Resumable). The send ledger keeps it from sending anyone twice.
	Resume bool `json:"resume,omitempty"`
}

type runRef struct {
	Campaign string           `json:"campaign"`
	Plan     string           `json:"plan"`
	Activity string           `json:"activity,omitempty"`
	Run      activity.RunInfo `json:"run"`
}

// startRun validates the parameters, records the run (once per idempotency
// key) and computes the run facts every later state reads.
func startRun(ctx context.Context, r *Runner, input json.RawMessage) (any, error) {
	var in struct {
		Campaign string         `json:"campaign"`
		Plan     string         `json:"plan"`
		Input    ExecutionInput `json:"input"`
	}
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, &activity.InvalidInput{Msg: "bad start input: " + err.Error()}
	}
	comp, err := r.Plans.Load(ctx, in.Campaign, in.Plan)
	if err != nil {
		return nil, err
	}
	params, err := NormalizeParams(comp.Campaign, in.Input.Params)
	if err != nil {
		return nil, err
	}
	run, _, err := r.Store.StartRun(ctx, state.Run{ID: in.Input.RunID, CampaignID: in.Campaign, Version: in.Input.Version,
		Params: params, Test: in.Input.Test, IdempotencyKey: in.Input.IdempotencyKey, StartedAt: r.Env.Now()})
	if errors.Is(err, state.ErrExists) && in.Input.Resume {
		run, err = r.Store.GetRun(ctx, in.Input.RunID)
	}
	if err != nil {
		return nil, retryable(err)
	}
	if in.Input.Resume && run.Status == state.RunFailed {
		if err := Resumable(run); err != nil {
			return nil, &activity.InvalidInput{Msg: err.Error()}
		}
		if run, err = r.Store.SetRunStatus(ctx, run.ID, state.RunFailed, state.RunRunning, "resumed after: "+run.Reason, r.Env.Now()); err != nil {
			return nil, retryable(err)
		}
	}
	switch run.Status {
	case state.RunRunning:
		// New, or restarted after a crash with the same idempotency key: the
		// activities are idempotent, so the run re-executes and completes.
	case state.RunSuspended:
		if run, err = r.Store.SetRunStatus(ctx, run.ID, state.RunSuspended, state.RunRunning, "restarted", r.Env.Now()); err != nil {
			return nil, retryable(err)
		}
	default:
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("run %s already %s: %s", run.ID, run.Status, run.Reason)}
	}
	return RunInfo(comp.Campaign, run)
}

// TransientErrors are the error names of failures that may pass: a run that
// failed with one can be resumed. Paused is a channel that stopped itself.
var TransientErrors = append([]string{"Paused", "States.Timeout"}, activity.RetryableErrors...)

// Resumable reports why a recorded run cannot be resumed, or nil: a running
// run (its process died: the caller holds the store or knows), a suspended
// one, or one that failed with a transient error (the reason FailRun records
// starts with the error name).
func Resumable(run state.Run) error {
	switch run.Status {
	case state.RunRunning, state.RunSuspended:
		return nil
	case state.RunFailed:
		for _, name := range TransientErrors {
			if strings.HasPrefix(run.Reason, name+": ") {
				return nil
			}
		}
		return fmt.Errorf("run %s failed for a reason that resuming would not change (%s); start a new run", run.ID, run.Reason)
	}
	return fmt.Errorf("run %s is %s: there is nothing to resume", run.ID, run.Status)
}

// RunInfo computes the run facts from the stored run: the reference instant is
// the run's start, so a resumed run sees the same relative dates.
func RunInfo(c *campaign.Campaign, run state.Run) (activity.RunInfo, error) {
	loc, err := campaign.LoadLocation(c.Timezone)
	if err != nil {
		return activity.RunInfo{}, &activity.InvalidInput{Msg: err.Error()}
	}
	now := run.StartedAt.UTC()
	local := now.In(loc)
	tz := c.Timezone
	if tz == "" {
		tz = "UTC"
	}
	return activity.RunInfo{ID: run.ID, Test: run.Test, Params: run.Params, Now: now.Format(time.RFC3339Nano),
		Timezone: tz, Weekday: weekday(local), Hour: local.Hour()}, nil
}

// NormalizeParams checks run parameters against the declarations: unknown
// names, missing required ones, wrong types. Defaults fill the rest;
// timestamps become RFC 3339 UTC (Wait states compare them).
func NormalizeParams(c *campaign.Campaign, given map[string]any) (map[string]any, error) {
	loc, _ := campaign.LoadLocation(c.Timezone)
	if loc == nil {
		loc = time.UTC
	}
	out := map[string]any{}
	var problems []string
	names := campaign.SortedKeys(given)
	for _, name := range names {
		if _, ok := c.Parameters[name]; !ok {
			problems = append(problems, fmt.Sprintf("params.%s: unknown parameter%s", name, campaign.DidYouMean(name, campaign.SortedKeys(c.Parameters))))
		}
	}
	for _, name := range campaign.SortedKeys(c.Parameters) {
		decl := c.Parameters[name]
		v, ok := given[name]
		if !ok || v == nil {
			if decl.Default != nil {
				v = decl.Default
			} else if decl.Required {
				problems = append(problems, fmt.Sprintf("params.%s: required %s parameter is missing", name, decl.Type))
				continue
			} else {
				continue
			}
		}
		cv, err := campaign.CoerceParam(decl.Type, v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("params.%s: %v", name, err))
			continue
		}
		if decl.Type == campaign.TypeTimestamp {
			t, _, err := campaign.ParseTime(cv.(string), loc)
			if err != nil {
				problems = append(problems, fmt.Sprintf("params.%s: %v", name, err))
				continue
			}
			cv = t.UTC().Format(time.RFC3339)
		}
		out[name] = cv
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, &activity.InvalidInput{Msg: "invalid parameters: " + joinLines(problems)}
	}
	return out, nil
}

func joinLines(l []string) string {
	s := ""
	for i, x := range l {
		if i > 0 {
			s += "; "
		}
		s += x
	}
	return s
}

// Summary is the result of a run, as `stepwise run --json` prints it.
type Summary struct {
	RunID      string                     `json:"runId"`
	Campaign   string                     `json:"campaign"`
	Status     string                     `json:"status"`
	Test       bool                       `json:"test"`
	Reason     string                     `json:"reason,omitempty"`
	Activities map[string]ActivitySummary `json:"activities"`
}

// ActivitySummary is one activity of a Summary; ports lists activated ports only.
type ActivitySummary struct {
	Status string           `json:"status"`
	Ports  map[string]int64 `json:"ports"`
	Error  string           `json:"error,omitempty"`
}

// finishRun records the results of activities that ran as pure ASL (no
// handler recorded them) and marks the run succeeded.
func finishRun(ctx context.Context, r *Runner, input json.RawMessage) (any, error) {
	var in struct {
		runRef
		Results map[string]activity.Result `json:"results"`
	}
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, &activity.InvalidInput{Msg: "bad finish input: " + err.Error()}
	}
	tasks, err := r.Store.ListTasks(ctx, in.Run.ID)
	if err != nil {
		return nil, retryable(err)
	}
	recorded := map[string]state.Task{}
	for _, t := range tasks {
		recorded[t.Activity] = t
	}
	now := r.Env.Now()
	for _, id := range campaign.SortedKeys(in.Results) {
		res := in.Results[id]
		if t, ok := recorded[id]; ok && t.Status.Terminal() && res.Status != activity.StatusSkipped {
			continue
		}
		u := state.TaskUpdate{Status: taskStatus(res.Status), At: now, Ports: activePorts(&res), Outputs: outputs(&res)}
		if _, err := r.Store.UpdateTask(ctx, in.Run.ID, id, u); err != nil {
			return nil, retryable(err)
		}
	}
	run, err := r.Store.SetRunStatus(ctx, in.Run.ID, state.RunRunning, state.RunSucceeded, "", now)
	if err != nil && !errors.Is(err, state.ErrConflict) {
		return nil, retryable(err)
	}
	if errors.Is(err, state.ErrConflict) {
		if run, err = r.Store.GetRun(ctx, in.Run.ID); err != nil {
			return nil, retryable(err)
		}
	}
	return r.Summarize(ctx, run)
}

// Summarize builds the summary of a recorded run.
func (r *Runner) Summarize(ctx context.Context, run state.Run) (*Summary, error) {
	tasks, err := r.Store.ListTasks(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	s := &Summary{RunID: run.ID, Campaign: run.CampaignID, Status: string(run.Status), Test: run.Test, Reason: run.Reason, Activities: map[string]ActivitySummary{}}
	for _, t := range tasks {
		ports := t.Ports
		if ports == nil {
			ports = map[string]int64{}
		}
		a := ActivitySummary{Status: string(t.Status), Ports: ports, Error: t.Error}
		if t.Status == state.TaskRunning && (run.Status == state.RunFailed || run.Status == state.RunStopped) {
			// The run ended while the activity ran (an error no Catch can
			// handle, a stop): it will not finish.
			a.Status = string(run.Status)
			a.Error = "interrupted: the run " + string(run.Status)
		}
		s.Activities[t.Activity] = a
	}
	return s, nil
}

type errorInput struct {
	runRef
	Error struct {
		Error string `json:"Error"`
		Cause string `json:"Cause"`
	} `json:"error"`
}

func (e errorInput) message() string {
	cause := e.Error.Cause
	var lambdaErr struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &lambdaErr) == nil && lambdaErr.ErrorMessage != "" {
		cause = lambdaErr.ErrorMessage
	}
	if e.Error.Error != "" {
		return e.Error.Error + ": " + cause
	}
	return cause
}

// failRun records the run as failed with the error that ended it.
func failRun(ctx context.Context, r *Runner, input json.RawMessage) (any, error) {
	var in errorInput
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, &activity.InvalidInput{Msg: "bad fail input: " + err.Error()}
	}
	for _, from := range []state.RunStatus{state.RunRunning, state.RunSuspended} {
		_, err := r.Store.SetRunStatus(ctx, in.Run.ID, from, state.RunFailed, in.message(), r.Env.Now())
		if err == nil || !errors.Is(err, state.ErrConflict) {
			return map[string]any{}, err
		}
	}
	return map[string]any{}, nil
}

// TooManyErrors ends a run whose activities failed too many times in a row
// under onError: ignore.
type TooManyErrors = failure.TooManyErrors

// recordError counts the failures that ended last, in task end order; more
// than maxConsecutiveErrors ends the run.
func recordError(ctx context.Context, r *Runner, input json.RawMessage) (any, error) {
	var in errorInput
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, &activity.InvalidInput{Msg: "bad error input: " + err.Error()}
	}
	if _, err := r.Store.UpdateTask(ctx, in.Run.ID, in.Activity, state.TaskUpdate{Status: state.TaskFailed, At: r.Env.Now(), Error: in.message()}); err != nil {
		return nil, retryable(err)
	}
	comp, err := r.Plans.Load(ctx, in.Campaign, in.Plan)
	if err != nil {
		return nil, err
	}
	max := comp.Campaign.MaxConsecutiveErrors
	if max <= 0 {
		return map[string]any{}, nil
	}
	tasks, err := r.Store.ListTasks(ctx, in.Run.ID)
	if err != nil {
		return nil, retryable(err)
	}
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].EndedAt.Before(tasks[j].EndedAt) })
	n := 0
	for i := len(tasks) - 1; i >= 0; i-- {
		if !tasks[i].Status.Terminal() || tasks[i].Status == state.TaskSkipped {
			continue
		}
		if tasks[i].Status != state.TaskFailed {
			break
		}
		n++
	}
	if n >= max {
		return nil, &TooManyErrors{Msg: fmt.Sprintf("%d activities failed in a row (maxConsecutiveErrors: %d); last: %s", n, max, in.message())}
	}
	return map[string]any{}, nil
}

// suspend marks the run suspended after an activity failed (onError: suspend).
func suspend(ctx context.Context, r *Runner, input json.RawMessage) (any, error) {
	var in errorInput
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, &activity.InvalidInput{Msg: "bad suspend input: " + err.Error()}
	}
	r.Store.UpdateTask(ctx, in.Run.ID, in.Activity, state.TaskUpdate{Status: state.TaskSuspended, At: r.Env.Now(), Error: in.message()})
	_, err := r.Store.SetRunStatus(ctx, in.Run.ID, state.RunRunning, state.RunSuspended, fmt.Sprintf("%s failed: %s", in.Activity, in.message()), r.Env.Now())
	if err != nil && !errors.Is(err, state.ErrConflict) {
		return nil, retryable(err)
	}
	return map[string]any{}, nil
}

// checkResume tells a suspended run's poll loop whether it was resumed (the
// run is running again) or stopped.
func checkResume(ctx context.Context, r *Runner, input json.RawMessage) (any, error) {
	var in runRef
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, &activity.InvalidInput{Msg: "bad resume input: " + err.Error()}
	}
	run, err := r.Store.GetRun(ctx, in.Run.ID)
	if err != nil {
		return nil, retryable(err)
	}
	// Locally another process cannot open the store while the run holds it:
	// `stepwise resume` leaves a signal instead, taken here.
	if r.Signals != nil && run.Status == state.RunSuspended && r.Signals.Take(ctx, in.Run.ID, "resume") {
		if run, err = r.Store.SetRunStatus(ctx, in.Run.ID, state.RunSuspended, state.RunRunning, "resumed", r.Env.Now()); err != nil {
			return nil, retryable(err)
		}
	}
	return map[string]bool{"resumed": run.Status == state.RunRunning, "stopped": run.Status.Terminal()}, nil
}

// Signals delivers out-of-band signals to a run (local mode).
type Signals interface {
	// Take reports whether the named signal was sent to the run, consuming it.
	// It may wait a little for one, so that a poll loop does not spin.
	Take(ctx context.Context, runID, name string) bool
}
