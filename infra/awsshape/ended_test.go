package awsshape_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/state"
)

// TestExecutionEndedRule: the template sends the end of every execution of
// the stack's state machines that FAILED, TIMED_OUT or was ABORTED to
// FailRun, and only that rule may invoke it that way.
func TestExecutionEndedRule(t *testing.T) {
	tm := loadTemplate(t)
	rule := tm.resources["ExecutionEndedRule"]
	if scalar(get(rule, "Type")) != "AWS::Events::Rule" {
		t.Fatal("no ExecutionEndedRule (AWS::Events::Rule) in template.yaml")
	}
	pat := get(rule, "Properties", "EventPattern")
	values := func(n *yaml.Node) string {
		var out []string
		for _, c := range seq(n) {
			out = append(out, c.Value)
		}
		return strings.Join(out, ",")
	}
	if got := values(get(pat, "source")); got != "aws.states" {
		t.Errorf("source %q", got)
	}
	if got := values(get(pat, "detail-type")); got != "Step Functions Execution Status Change" {
		t.Errorf("detail-type %q", got)
	}
	if got := values(get(pat, "detail", "status")); got != "FAILED,TIMED_OUT,ABORTED" {
		t.Errorf("statuses %q, want FAILED,TIMED_OUT,ABORTED", got)
	}
	arns := seq(get(pat, "detail", "stateMachineArn"))
	want := get(tm.root, "Globals", "Function", "Environment", "Variables", "STATE_MACHINE_PREFIX")
	if len(arns) != 1 || want == nil || scalar(get(arns[0], "prefix")) != want.Value {
		t.Errorf("the rule must match the stack's state machines only (prefix %s)", scalar(want))
	}
	targets := seq(get(rule, "Properties", "Targets"))
	if len(targets) != 1 || get(targets[0], "Arn").Tag != "!GetAtt" || get(targets[0], "Arn").Value != "FailRunFunction.Arn" {
		t.Errorf("the rule must target FailRunFunction only")
	}
	n := 0
	for id, p := range tm.ofType("AWS::Lambda::Permission") {
		if scalar(get(p.n, "Properties", "Principal")) != "events.amazonaws.com" {
			continue
		}
		n++
		src := get(p.n, "Properties", "SourceArn")
		if fn := get(p.n, "Properties", "FunctionName"); fn == nil || fn.Tag != "!Ref" || fn.Value != "FailRunFunction" ||
			src == nil || src.Tag != "!GetAtt" || src.Value != "ExecutionEndedRule.Arn" {
			t.Errorf("%s: an EventBridge permission must be FailRunFunction's, for ExecutionEndedRule only", id)
		}
	}
	if n != 1 {
		t.Errorf("%d EventBridge invoke permissions, want 1", n)
	}
}

// TestExecutionEndedUnderRIE invokes the FailRun bootstrap under RIE with
// events/fail-run.execution-failed.json (a States.Runtime whose cause
// quotes customer data): the run recorded in DynamoDB becomes failed, with
// the error and the state only; a second delivery changes nothing.
func TestExecutionEndedUnderRIE(t *testing.T) {
	root := repoRoot(t)
	sh := startShape(t) // the emulators only
	built := bootstraps(t, "FailRun")
	payload, err := os.ReadFile(filepath.Join(root, "events", "fail-run.execution-failed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Detail struct{ Name, StateMachineArn string } `json:"detail"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	started := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, _, err := sh.state.StartRun(ctx, state.Run{ID: ev.Detail.Name, CampaignID: "winback-q4", StartedAt: started}); err != nil {
		t.Fatal(err)
	}
	fn := sh.templateFunction(t, "FailRun", built["FailRun"].Path)
	fn.Env["STATE_MACHINE_PREFIX"] = ev.Detail.StateMachineArn[:strings.LastIndex(ev.Detail.StateMachineArn, "-winback-q4")+1]
	r, err := lambdalocal.StartRIE(ctx, lambdalocal.RIEOptions{Bin: sh.rie, Bootstrap: fn.Bootstrap, Name: "FailRun",
		MemoryMB: fn.MemoryMB, Timeout: fn.Timeout, TmpSize: fn.TmpSize, Env: fn.Env, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const reason = "States.Runtime: the execution failed in state 'lapsed'"
	for i := 0; i < 2; i++ {
		res, err := r.Invoke(ctx, payload)
		if err != nil {
			t.Fatal(err)
		}
		if res.FunctionError != "" {
			t.Fatalf("FailRun answered the event with %s", res.Payload)
		}
		run, err := sh.state.GetRun(ctx, ev.Detail.Name)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != state.RunFailed || run.Reason != reason {
			t.Fatalf("delivery %d: run %s %q, want failed %q", i+1, run.Status, run.Reason, reason)
		}
		if i == 0 && !strings.Contains(string(res.Payload), `"status":"failed"`) {
			t.Errorf("result %s", res.Payload)
		}
	}
}
