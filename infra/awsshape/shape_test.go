package awsshape_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// check compares one AWS-shaped execution with the local run of the same
// program and parameters: the execution output (FinishRun's summary) and
// the run read back from DynamoDB must both equal the local summary,
// activity by activity and port by port.
func (sh *shape) check(t *testing.T, r run, o lambdalocal.Outcome) {
	t.Helper()
	sh.checkAgainst(t, r, r, o)
}

// checkAgainst is check with a local run of its own (a program compiled
// against a local catalog, other parameters).
func (sh *shape) checkAgainst(t *testing.T, lr, r run, o lambdalocal.Outcome) {
	t.Helper()
	if o.Error != "" {
		t.Errorf("%s: execution failed: %s: %s", r.name, o.Error, o.Cause)
		return
	}
	var got runner.Summary
	if err := json.Unmarshal(o.Output, &got); err != nil {
		t.Errorf("%s: execution output is no run summary: %v\n%s", r.name, err, o.Output)
		return
	}
	if aws, err := sh.state.GetRun(context.Background(), r.runID); err == nil {
		lr.at = aws.StartedAt
	}
	want := runLocal(t, lr)
	sh.compare(t, r, want, &got)
	if got.Status != string(state.RunSucceeded) {
		t.Errorf("%s: run %s: %s", r.name, got.Status, got.Reason)
	}
	t.Logf("%s: %s, %d activities, counts %s", r.name, got.Status, len(got.Activities), countsLine(&got))
}

// compare requires the execution's summary (got) and the run recorded in
// DynamoDB to equal the local run's summary (want).
func (sh *shape) compare(t *testing.T, r run, want, got *runner.Summary) {
	t.Helper()
	if d := diffSummaries(want, got); d != "" {
		t.Errorf("%s: the AWS-shaped run differs from the local run:\n%s", r.name, d)
	}
	if d := diffSummaries(want, sh.storedSummary(t, r.runID)); d != "" {
		t.Errorf("%s: the run recorded in DynamoDB differs from the local run:\n%s", r.name, d)
	}
}

func countsLine(s *runner.Summary) string {
	var parts []string
	for id, a := range s.Activities {
		parts = append(parts, fmt.Sprintf("%s=%s%v", id, a.Status, a.Ports))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// logInvocations reports the router's calls per function.
func (sh *shape) logInvocations(t *testing.T) {
	t.Helper()
	type agg struct {
		n, errs int
		total   time.Duration
		kinds   map[string]int // error type: message → count
	}
	by := map[string]*agg{}
	for _, inv := range sh.fns.Router.Invocations() {
		a := by[inv.Function]
		if a == nil {
			a = &agg{}
			by[inv.Function] = a
		}
		a.n++
		a.total += inv.Duration
		if inv.ErrorType != "" {
			a.errs++
			if a.kinds == nil {
				a.kinds = map[string]int{}
			}
			a.kinds[inv.ErrorType+": "+inv.Message]++
		}
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := by[n]
		t.Logf("  %-16s %3d invocations, %d errors, mean %s", n, a.n, a.errs, (a.total / time.Duration(a.n)).Round(100*time.Microsecond))
		for _, k := range slices.Sorted(maps.Keys(a.kinds)) {
			t.Logf("    %d× %s", a.kinds[k], k)
		}
	}
}

// TestFlowCampaign runs a campaign of flow activities (test, fork, wait,
// and-join, end) AWS-style for two parameter values (two branches) and
// compares it with the local executor.
func TestFlowCampaign(t *testing.T) {
	p := compileFile(t, "testdata/flow.yaml", "testdata/catalog.yaml")
	sh := startShape(t, functionsOf(p.JSON)...)
	runs := []run{
		{name: "region eu", program: p, params: map[string]any{"region": "eu"}, runID: state.NewRunID()},
		{name: "region us", program: p, params: map[string]any{"region": "us"}, runID: state.NewRunID()},
	}
	start := time.Now()
	outs := sh.runAWS(t, runs)
	t.Logf("%d executions in %s", len(runs), time.Since(start).Round(time.Millisecond))
	for i, r := range runs {
		sh.check(t, r, outs[i])
	}
	sh.logInvocations(t)
}

// TestInjectedFailure makes the first StartRun fail before it runs and the
// first FinishRun fail after it ran (its result lost): Step Functions
// retries both per the emitted Retry (Retryable) and the counts do not
// change.
func TestInjectedFailure(t *testing.T) {
	p := compileFile(t, "testdata/flow.yaml", "testdata/catalog.yaml")
	sh := startShape(t, functionsOf(p.JSON)...)
	sh.fns.Router.Inject(lambdalocal.Fault{Function: "StartRun"})
	sh.fns.Router.Inject(lambdalocal.Fault{Function: "FinishRun", After: true})
	r := run{name: "with faults", program: p, params: map[string]any{"region": "eu"}, runID: state.NewRunID()}
	o := sh.runAWS(t, []run{r})[0]
	sh.check(t, r, o)
	retried := map[string]int{}
	for _, e := range o.Retries() {
		retried[e.State]++
	}
	if retried["Start run"] != 1 || retried["Finish run"] != 1 {
		t.Errorf("retried states %v, want Start run and Finish run once each", retried)
	}
	calls := map[string]int{}
	injected := 0
	for _, inv := range sh.fns.Router.Invocations() {
		calls[inv.Function]++
		if inv.Injected {
			injected++
		}
	}
	if calls["StartRun"] != 2 || calls["FinishRun"] != 2 || injected != 2 {
		t.Errorf("invocations %v (%d injected), want StartRun and FinishRun twice, 2 injected", calls, injected)
	}
	sh.logInvocations(t)
}
