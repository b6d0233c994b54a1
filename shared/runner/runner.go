// Package runner dispatches Task invocations to handlers by function name —
// the activity handlers of the registry and the run-level functions that
// record runs — the same way in a Lambda and in the local interpreter.
package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/failure"
	"github.com/stepwise-run/stepwise/shared/plan"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Store is the part of the state store the runner uses.
type Store interface {
	state.Runs
}

// PlanLoader loads the runtime plan a request names, checked against its digest.
type PlanLoader interface {
	Load(ctx context.Context, campaignID, digest string) (*activity.Compiled, error)
}

// Runner serves every function of a compiled campaign.
type Runner struct {
	Registry *activity.Registry
	// Env is the scope invocations run in (Lambda: one per invocation).
	Env   *activity.Env
	Store Store
	Plans PlanLoader
	// Signals carries out-of-band signals (local `stepwise resume`); may be nil.
	Signals Signals
}

// Func is a run-level function.
type Func func(ctx context.Context, r *Runner, input json.RawMessage) (any, error)

// runFuncs are the run-level functions by name.
var runFuncs = map[string]Func{
	plan.FnStartRun:    startRun,
	plan.FnFinishRun:   finishRun,
	plan.FnFailRun:     failRun,
	plan.FnRecordError: recordError,
	plan.FnSuspend:     suspend,
	plan.FnCheckResume: checkResume,
}

// Invoke implements the interpreter's invoker: the Resource names a
// function by its placeholder or its Lambda ARN.
func (r *Runner) Invoke(ctx context.Context, resource string, input json.RawMessage) (json.RawMessage, error) {
	name, ok := plan.ResourceFunction(resource)
	if !ok {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("resource %q names no function", resource)}
	}
	return r.Handle(ctx, name, input)
}

// Handle runs one function by name on a JSON input. A failure is returned
// classified: its type names it for the state machine's Retry and Catch.
func (r *Runner) Handle(ctx context.Context, fn string, input json.RawMessage) (json.RawMessage, error) {
	var out any
	var err error
	if f, ok := runFuncs[fn]; ok {
		out, err = f(ctx, r, input)
	} else if spec, ok := r.Registry.ByFunction(fn); ok {
		out, err = r.activity(ctx, spec, input)
	} else {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("no function %q", fn)}
	}
	if err != nil {
		// The one classification: the error Step Functions (or the
		// interpreter) sees is named, whatever the handler returned.
		return nil, failure.Classify(err)
	}
	return json.Marshal(out)
}

// activity runs an activity handler and records its task.
func (r *Runner) activity(ctx context.Context, spec *activity.Spec, input json.RawMessage) (*activity.Result, error) {
	var req activity.Request
	if err := json.Unmarshal(input, &req); err != nil {
		return nil, &activity.InvalidInput{Msg: "bad request: " + err.Error()}
	}
	comp, err := r.Plans.Load(ctx, req.Campaign, req.Plan)
	if err != nil {
		return nil, err
	}
	a, cfg, err := comp.Decoded(req.Activity)
	if err != nil {
		return nil, &activity.InvalidInput{Msg: err.Error()}
	}
	if cfg == nil || a.Type != spec.Type {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("plan %s of %s has no %s activity %q", req.Plan, req.Campaign, spec.Type, req.Activity)}
	}
	// The send phase of a fanned-out type is one slice of the task; only the
	// first phase starts the task and the last one ends it.
	first, last := req.Phase == "" || req.Phase == "plan", req.Phase == "" || req.Phase == "finish"
	if first {
		if _, err := r.Store.UpdateTask(ctx, req.Run.ID, req.Activity, state.TaskUpdate{Status: state.TaskRunning, At: r.Env.Now()}); err != nil {
			return nil, retryable(err)
		}
	}
	// The task's lines go with its final update when they can (see LogHold).
	log := newHeldLog(ctx, r.Store, r.Env.Now, req.Run.ID, req.Activity)
	call := &activity.Call{Env: r.Env, Req: &req, Plan: comp, Activity: a, Log: log}
	res, err := spec.Run(ctx, call, cfg)
	if err != nil {
		lines := append(log.take(), "error: "+err.Error())
		r.Store.UpdateTask(context.WithoutCancel(ctx), req.Run.ID, req.Activity, state.TaskUpdate{Status: state.TaskFailed, At: r.Env.Now(), Error: err.Error(), Log: lines})
		return nil, err
	}
	if done, _ := res.Extra[activity.ExtraFinished].(bool); done {
		last = true
	}
	if !last {
		log.flush()
	}
	if held, ok := res.Extra[activity.ExtraHeld].(bool); ok && !last {
		// The task notes its hold, so that readers (runs, the API) can say why it waits.
		var w *state.TaskWait
		if held {
			w = &state.TaskWait{Reason: state.WaitHeld}
		}
		if _, err := r.Store.UpdateTask(ctx, req.Run.ID, req.Activity, state.TaskUpdate{At: r.Env.Now(), Waiting: w}); err != nil {
			return nil, retryable(err)
		}
	}
	if last {
		u := state.TaskUpdate{Status: taskStatus(res.Status), At: r.Env.Now(), Ports: activePorts(res), Outputs: outputs(res), Log: log.take()}
		if _, err := r.Store.UpdateTask(ctx, req.Run.ID, req.Activity, u); err != nil {
			if len(u.Log) > 0 { // the retry does not repeat them
				r.Store.AppendTaskLog(context.WithoutCancel(ctx), req.Run.ID, req.Activity, u.At, u.Log...)
			}
			return nil, retryable(err)
		}
	}
	return res, nil
}

func taskStatus(s string) state.TaskStatus {
	switch s {
	case activity.StatusSkipped:
		return state.TaskSkipped
	case activity.StatusFailed:
		return state.TaskFailed
	}
	return state.TaskSucceeded
}

// activePorts returns the counts of activated ports only: a port that was not
// activated is absent (spec section 4).
func activePorts(res *activity.Result) map[string]int64 {
	out := map[string]int64{}
	for p, ref := range res.Ports {
		if ref != nil {
			out[p] = res.Counts[p]
		}
	}
	return out
}

func outputs(res *activity.Result) map[string]string {
	out := map[string]string{}
	for p, ref := range res.Ports {
		if ref != nil && *ref != "" {
			out[p] = *ref
		}
	}
	return out
}

// retryable classifies a store failure: the adapters mark transient ones
// (throttling, 5xx, a lost connection); a missing record is invalid input,
// a lost race a conflict (failure.Classify).
func retryable(err error) error { return failure.Classify(err) }

var weekdays = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// weekday returns mon..sun.
func weekday(t time.Time) string { return weekdays[t.Weekday()] }
