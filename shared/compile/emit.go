package compile

import (
	"fmt"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/plan"
)

// Task tuning shared by every activity Task.
const (
	taskTimeoutSeconds = 900 // the Lambda maximum
	suspendPollSeconds = 60
)

func retriers() []asl.Retrier {
	return []asl.Retrier{{ErrorEquals: append([]string(nil), activity.RetryableErrors...), IntervalSeconds: 2, MaxAttempts: asl.Int(3), BackoffRate: 2, MaxDelaySeconds: 30}}
}

type emitter struct {
	p       *Program
	results map[string]string // activity id → JSONPath of its Result
}

func emit(p *Program) error {
	e := &emitter{p: p, results: map[string]string{}}
	p.States = plan.States{Start: "Start run", Activities: map[string]plan.State{}}
	sm := &asl.StateMachine{Comment: fmt.Sprintf("Stepwise campaign %s, plan %s. Generated: do not edit.", p.Campaign.ID, p.Bundle.Digest), StartAt: "Init run"}
	top := &sm.States
	heads := make([]string, len(p.Levels)+1)
	for k, lv := range p.Levels {
		if len(lv) == 1 {
			heads[k] = e.entryName(lv[0])
		} else {
			heads[k] = fmt.Sprintf("Level %d", k+1)
		}
	}
	heads[len(p.Levels)] = "Finish run"

	top.Add("Init run", &asl.State{Type: "Pass", Comment: "keep the execution input and make room for results",
		Parameters: map[string]any{"input.$": "$", "r": map[string]any{}}, Next: "Start run"})
	top.Add("Start run", &asl.State{Type: "Task", Resource: plan.Placeholder(plan.FnStartRun), Parameters: e.base(map[string]any{"input.$": "$.input"}),
		ResultPath: "$.run", TimeoutSeconds: 60, Retry: retriers(), Catch: []asl.Catcher{{ErrorEquals: []string{"States.ALL"}, ResultPath: "$.error", Next: "Run failed"}}, Next: heads[0]})

	for k, lv := range p.Levels {
		next := heads[k+1]
		if len(lv) == 1 {
			e.results[lv[0]] = "$.r." + lv[0]
			if err := e.fragment(top, lv[0], next, false); err != nil {
				return err
			}
			continue
		}
		par := &asl.State{Type: "Parallel", ResultPath: asl.Path(fmt.Sprintf("$.p%d", k+1)), Next: next,
			Catch: []asl.Catcher{{ErrorEquals: []string{"States.ALL"}, ResultPath: "$.error", Next: "Record failure"}}}
		sel := map[string]any{}
		for i, id := range lv {
			b := asl.Branch{StartAt: e.entryName(id)}
			if err := e.fragment(&b.States, id, id+":out", true); err != nil {
				return err
			}
			b.States.Add(id+":out", &asl.State{Type: "Pass", OutputPath: asl.Path("$.r." + id), End: true})
			e.role(id+":out", id, plan.RoleWork)
			par.Branches = append(par.Branches, b)
			sel[id+".$"] = fmt.Sprintf("$[%d]", i)
		}
		par.ResultSelector = sel
		top.Add(heads[k], par)
		for _, id := range lv {
			e.results[id] = fmt.Sprintf("$.p%d.%s", k+1, id)
		}
	}

	results := map[string]any{}
	for _, id := range p.Order {
		results[id+".$"] = e.results[id]
	}
	top.Add("Finish run", &asl.State{Type: "Task", Resource: plan.Placeholder(plan.FnFinishRun),
		Parameters: e.base(map[string]any{"run.$": "$.run", "results": results}), TimeoutSeconds: 60, Retry: retriers(),
		Catch: []asl.Catcher{{ErrorEquals: []string{"States.ALL"}, ResultPath: "$.error", Next: "Record failure"}}, End: true})
	top.Add("Record failure", &asl.State{Type: "Task", Resource: plan.Placeholder(plan.FnFailRun),
		Parameters: e.base(map[string]any{"run.$": "$.run", "error.$": "$.error"}), TimeoutSeconds: 60, Retry: retriers(), ResultPath: asl.Null, Next: "Run failed"})
	top.Add("Run failed", &asl.State{Type: "Fail", Error: "CampaignFailed", Cause: "An activity failed; see the run's log."})

	data, err := asl.Marshal(sm)
	if err != nil {
		return err
	}
	p.Machine, p.JSON = sm, data
	return nil
}

// role records which activity a state belongs to, and as what.
func (e *emitter) role(state, id string, r plan.Role) {
	e.p.States.Activities[state] = plan.State{Activity: id, Role: r}
}

// base returns the Parameters every run-level task gets.
func (e *emitter) base(extra map[string]any) map[string]any {
	m := map[string]any{"campaign": e.p.Campaign.ID, "plan": e.p.Bundle.Digest}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func (e *emitter) entryName(id string) string {
	a, _ := e.p.Campaign.Activity(id)
	if len(a.From) > 0 {
		return id + "?"
	}
	return id
}

// fragment emits one activity: the skip check, its states and its error path.
func (e *emitter) fragment(states *asl.States, id, next string, inBranch bool) error {
	a, _ := e.p.Campaign.Activity(id)
	spec := e.p.Specs[id]
	l := &lowerer{e: e, a: a, spec: spec, states: states, next: next, inBranch: inBranch}
	if len(a.From) > 0 {
		check := &asl.State{Type: "Choice", Comment: "run only when an inbound transition was activated", Default: id + ":skip"}
		var rules []asl.ChoiceRule
		for _, in := range l.InputPaths() {
			rules = append(rules, activated(in.Ref))
		}
		if len(rules) == 1 {
			rules[0].Next = id
			check.Choices = rules
		} else {
			check.Choices = []asl.ChoiceRule{{Or: rules, Next: id}}
		}
		states.Add(id+"?", check)
		e.role(id+"?", id, plan.RoleGuard)
	}
	if lowered, err := spec.Lower(l, a.Config); err != nil {
		return fmt.Errorf("activity %s: %w", id, err)
	} else if !lowered {
		st := l.Task("", nil)
		st.Next = next
		l.Add(l.Name(""), st)
	}
	if len(a.From) > 0 {
		skipped := activity.NewResult(e.p.Ports[id])
		skipped.Status = activity.StatusSkipped
		states.Add(id+":skip", &asl.State{Type: "Pass", Result: resultJSON(skipped), ResultPath: asl.Path(l.ResultPath()), Next: next})
		e.role(id+":skip", id, plan.RoleSkip)
	}
	l.addErrorPath()
	return nil
}

// activated is a rule true when the port at ref was activated (not null).
// Written as Not(IsNull true): aws-local-stepfunctions never matches IsNull false.
func activated(ref string) asl.ChoiceRule { return activity.Activated(ref, "") }

func resultJSON(r *activity.Result) map[string]any {
	ports, counts := map[string]any{}, map[string]any{}
	for p, ref := range r.Ports {
		if ref == nil {
			ports[p] = nil
		} else {
			ports[p] = *ref
		}
		counts[p] = r.Counts[p]
	}
	return map[string]any{"status": r.Status, "ports": ports, "counts": counts}
}

// portPaths returns the JSONPaths of a port of an already emitted activity.
func (e *emitter) portPaths(t campaign.Transition) activity.PortPaths {
	base := e.results[t.Activity]
	return activity.PortPaths{Ref: base + ".ports." + t.PortOrOut(), Count: base + ".counts." + t.PortOrOut()}
}

// lowerer implements activity.Lowerer for one activity.
type lowerer struct {
	e        *emitter
	a        *campaign.Activity
	spec     *activity.Spec
	states   *asl.States
	next     string
	inBranch bool
	catchUse bool
}

func (l *lowerer) Activity() *campaign.Activity { return l.a }
func (l *lowerer) ResultPath() string           { return "$.r." + l.a.ID }
func (l *lowerer) Next() string                 { return l.next }
func (l *lowerer) RunPath() string              { return "$.run" }
func (l *lowerer) Campaign() *campaign.Campaign { return l.e.p.Campaign }
func (l *lowerer) Catalog() *campaign.Catalog   { return l.e.p.Catalog }
func (l *lowerer) Function(name string) string  { return plan.Placeholder(name) }
func (l *lowerer) Add(name string, st *asl.State) {
	l.states.Add(name, st)
	l.e.role(name, l.a.ID, plan.RoleWork)
}

func (l *lowerer) Name(suffix string) string {
	if suffix == "" {
		return l.a.ID
	}
	return l.a.ID + ":" + suffix
}

func (l *lowerer) InputPaths() []activity.PortPaths {
	out := make([]activity.PortPaths, len(l.a.From))
	for i, t := range l.a.From {
		out[i] = l.e.portPaths(t)
	}
	return out
}

func (l *lowerer) PortPaths(t campaign.Transition) activity.PortPaths { return l.e.portPaths(t) }

func (l *lowerer) Task(phase string, extra map[string]any) *asl.State {
	params := map[string]any{"campaign": l.e.p.Campaign.ID, "plan": l.e.p.Bundle.Digest, "activity": l.a.ID, "run.$": "$.run"}
	if len(l.a.From) > 0 {
		var inputs []any
		for i, in := range l.InputPaths() {
			t := l.a.From[i]
			inputs = append(inputs, map[string]any{"from": t.Activity, "port": t.PortOrOut(), "ref.$": in.Ref, "count.$": in.Count})
		}
		params["inputs"] = inputs
	}
	if phase != "" {
		params["phase"] = phase
	}
	for k, v := range extra {
		params[k] = v
	}
	return &asl.State{Type: "Task", Resource: plan.Placeholder(l.spec.Function), Parameters: params,
		ResultPath: asl.Path(l.ResultPath()), TimeoutSeconds: taskTimeoutSeconds, Retry: retriers(), Catch: l.Catch()}
}

// Catch routes failures by the campaign's onError policy.
func (l *lowerer) Catch() []asl.Catcher {
	l.catchUse = true
	switch l.e.p.Campaign.OnError {
	case "ignore":
		return []asl.Catcher{{ErrorEquals: []string{"States.ALL"}, ResultPath: "$.error", Next: l.Name("error")}}
	case "suspend":
		return []asl.Catcher{{ErrorEquals: []string{"States.ALL"}, ResultPath: "$.error", Next: l.Name("suspend")}}
	}
	return l.abortCatch()
}

func (l *lowerer) abortCatch() []asl.Catcher {
	if l.inBranch {
		return nil // the enclosing Parallel's catcher records the failure
	}
	return []asl.Catcher{{ErrorEquals: []string{"States.ALL"}, ResultPath: "$.error", Next: "Record failure"}}
}

// addErrorPath emits the states the catchers point to.
func (l *lowerer) addErrorPath() {
	if !l.catchUse {
		return
	}
	id := l.a.ID
	base := map[string]any{"campaign": l.e.p.Campaign.ID, "plan": l.e.p.Bundle.Digest, "activity": id, "run.$": "$.run", "error.$": "$.error"}
	switch l.e.p.Campaign.OnError {
	case "ignore":
		failed := activity.NewResult(l.e.p.Ports[id])
		failed.Status = activity.StatusFailed
		res := resultJSON(failed)
		res["error.$"] = "$.error.Cause"
		l.Add(l.Name("error"), &asl.State{Type: "Task", Comment: "onError ignore: record, then continue without this activity's output",
			Resource: plan.Placeholder(plan.FnRecordError), Parameters: base, ResultPath: asl.Null, TimeoutSeconds: 60, Retry: retriers(), Catch: l.abortCatch(), Next: l.Name("ignored")})
		l.Add(l.Name("ignored"), &asl.State{Type: "Pass", Parameters: res, ResultPath: asl.Path(l.ResultPath()), Next: l.next})
	case "suspend":
		l.Add(l.Name("suspend"), &asl.State{Type: "Task", Comment: "onError suspend: the run waits until it is resumed, then retries the activity",
			Resource: plan.Placeholder(plan.FnSuspend), Parameters: base, ResultPath: asl.Null, TimeoutSeconds: 60, Retry: retriers(), Catch: l.abortCatch(), Next: l.Name("wait")})
		l.Add(l.Name("wait"), &asl.State{Type: "Wait", Seconds: asl.Int(suspendPollSeconds), Next: l.Name("poll")})
		poll := map[string]any{"campaign": l.e.p.Campaign.ID, "plan": l.e.p.Bundle.Digest, "activity": id, "run.$": "$.run"}
		l.Add(l.Name("poll"), &asl.State{Type: "Task", Resource: plan.Placeholder(plan.FnCheckResume), Parameters: poll, ResultPath: "$.resume",
			TimeoutSeconds: 60, Retry: retriers(), Catch: l.abortCatch(), Next: l.Name("resumed")})
		l.Add(l.Name("resumed"), &asl.State{Type: "Choice", Choices: []asl.ChoiceRule{
			{Variable: "$.resume.stopped", BooleanEquals: asl.Bool(true), Next: l.Name("stopped")},
			{Variable: "$.resume.resumed", BooleanEquals: asl.Bool(true), Next: l.Name("")},
		}, Default: l.Name("wait")})
		l.Add(l.Name("stopped"), &asl.State{Type: "Fail", Error: "RunStopped", Cause: "The suspended run was stopped."})
	}
}

func (l *lowerer) ResultParameters(status string, ports map[string]activity.PortPaths) map[string]any {
	pm, cm := map[string]any{}, map[string]any{}
	for _, port := range l.e.p.Ports[l.a.ID] {
		if pp, ok := ports[port]; ok {
			pm[port+".$"] = pp.Ref
			cm[port+".$"] = pp.Count
		} else {
			pm[port] = nil
			cm[port] = 0
		}
	}
	return map[string]any{"status": status, "ports": pm, "counts": cm}
}

func (l *lowerer) TestRule(cond *condition.Condition) (asl.ChoiceRule, error) {
	checked, ok := l.e.p.checkedTests[cond]
	if l.e.p.Checkers.TestRule == nil || !ok {
		return asl.ChoiceRule{}, fmt.Errorf("no checked test condition to lower")
	}
	return l.e.p.Checkers.TestRule(checked, l.e.p, func(act, port string) (string, bool) {
		if _, ok := l.e.results[act]; !ok {
			return "", false
		}
		return l.e.portPaths(campaign.Transition{Activity: act, Port: port}).Count, true
	})
}
