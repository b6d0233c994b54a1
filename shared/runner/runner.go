// Package runner dispatches Task invocations to handlers by function name —
// the activity handlers of the registry and the run-level functions that
// record runs — the same way in a Lambda and in the local interpreter.
package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/failure"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Store is the part of the state store the runner uses.
type Store interface {
	state.Runs
}

// Runner serves every function of a compiled campaign.
type Runner struct {
	Registry *activity.Registry
	Env      *activity.Env
	Store    Store
	Loader   activity.Loader
}

// Func is a run-level function.
type Func func(ctx context.Context, r *Runner, input json.RawMessage) (any, error)

// runFuncs are the run-level functions by name (see compile.RunFunctions).
var runFuncs = map[string]Func{
	"StartRun":    startRun,
	"FinishRun":   finishRun,
	"FailRun":     failRun,
	"RecordError": recordError,
	"Suspend":     suspend,
	"CheckResume": checkResume,
}

// RunFunctions lists the run-level function names.
func RunFunctions() []string {
	return []string{"StartRun", "FinishRun", "FailRun", "RecordError", "Suspend", "CheckResume"}
}

var arnName = regexp.MustCompile(`^(?:\$\{([A-Za-z0-9]+)FunctionArn\}|arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:(?:stepwise-)?([A-Za-z0-9]+)(?::[^:]+)?)$`)

// FunctionName extracts the function name from a Task Resource: a
// placeholder `${NameFunctionArn}`, a Lambda ARN ending in `stepwise-Name`,
// or a bare name.
func FunctionName(resource string) string {
	if m := arnName.FindStringSubmatch(resource); m != nil {
		if m[1] != "" {
			return m[1]
		}
		return m[2]
	}
	return resource
}

// Invoke implements the interpreter's invoker: resource → function → handler.
func (r *Runner) Invoke(ctx context.Context, resource string, input json.RawMessage) (json.RawMessage, error) {
	return r.Handle(ctx, FunctionName(resource), input)
}

// Handle runs one function by name on a JSON input.
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
	if spec.Handler == nil {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("activity type %s has no handler", spec.Type)}
	}
	// The send phase of a fanned-out type is one slice of the task; only the
	// first phase starts the task and the last one ends it.
	first, last := req.Phase == "" || req.Phase == "plan", req.Phase == "" || req.Phase == "finish"
	if first {
		if _, err := r.Store.UpdateTask(ctx, req.Run.ID, req.Activity, state.TaskUpdate{Status: state.TaskRunning, At: r.Env.Now()}); err != nil {
			return nil, retryable(err)
		}
	}
	res, err := spec.Handler.Run(ctx, r.Env, &req)
	if err != nil {
		r.Store.UpdateTask(context.WithoutCancel(ctx), req.Run.ID, req.Activity, state.TaskUpdate{Status: state.TaskFailed, At: r.Env.Now(), Error: err.Error()})
		r.Store.AppendTaskLog(context.WithoutCancel(ctx), req.Run.ID, req.Activity, r.Env.Now(), "error: "+err.Error())
		return nil, err
	}
	if last {
		u := state.TaskUpdate{Status: taskStatus(res.Status), At: r.Env.Now(), Ports: activePorts(res), Outputs: outputs(res)}
		if _, err := r.Store.UpdateTask(ctx, req.Run.ID, req.Activity, u); err != nil {
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

// ParseRunTime parses a RunInfo time.
func ParseRunTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

var weekdays = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// weekday returns mon..sun.
func weekday(t time.Time) string { return weekdays[t.Weekday()] }
