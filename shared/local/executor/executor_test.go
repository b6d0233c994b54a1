package executor_test

import (
	"context"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/local/executor"
)

// A flow-only campaign runs end to end: choice by parameter, fork, waits
// (skipped), alert, and-join, end; the branch not taken is skipped.
func TestFlowCampaign(t *testing.T) {
	p, diags := builtin.CompileFiles("testdata/flow.yaml", "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l, err := executor.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var events []executor.Progress
	sum, err := l.Run(context.Background(), p, executor.Options{Wait: interp.WaitSkip, Progress: func(e executor.Progress) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != "succeeded" {
		t.Fatalf("status %s: %+v", sum.Status, sum)
	}
	want := map[string]string{"start": "succeeded", "check": "succeeded", "fan": "succeeded", "pause": "succeeded", "until": "succeeded",
		"note": "succeeded", "join": "succeeded", "other": "skipped", "done": "succeeded"}
	for id, st := range want {
		if got := sum.Activities[id].Status; got != st {
			t.Errorf("%s: status %q, want %q", id, got, st)
		}
	}
	if _, ok := sum.Activities["check"].Ports["fr"]; !ok {
		t.Errorf("check.fr should be activated: %+v", sum.Activities["check"])
	}
	if _, ok := sum.Activities["check"].Ports["else"]; ok {
		t.Errorf("check.else should not be activated")
	}
	if len(events) == 0 {
		t.Error("no progress events")
	}
	// Another region takes the else branch.
	sum, err = l.Run(context.Background(), p, executor.Options{Wait: interp.WaitSkip, Params: map[string]any{"region": "DE"}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Activities["check"].Ports["winter"] != 0 || sum.Activities["fan"].Status != "skipped" || sum.Activities["other"].Status != "skipped" {
		// variable season == winter is the second condition: taken before else.
		t.Errorf("DE run: %+v", sum.Activities)
	}
	if _, ok := sum.Activities["check"].Ports["winter"]; !ok {
		t.Errorf("DE run should take check.winter: %+v", sum.Activities["check"])
	}
	// A wrong parameter type fails the run before any activity.
	_, err = l.Run(context.Background(), p, executor.Options{Wait: interp.WaitSkip, Params: map[string]any{"sendAt": "not a time"}})
	if err == nil {
		t.Fatal("expected a parameter error")
	}
}
