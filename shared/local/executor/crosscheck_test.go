package executor_test

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/asl/sfnlocal"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/local/executor"
)

// arns fills the Resource placeholders as SAM would.
func arns(def []byte) []byte {
	return regexp.MustCompile(`\$\{([A-Za-z0-9]+)FunctionArn\}`).ReplaceAll(def, []byte("arn:aws:lambda:us-east-1:123456789012:function:stepwise-$1"))
}

// newInvoker returns a runner over a fresh local home with the program published.
func newInvoker(t *testing.T, p *compile.Program) func() interp.Invoker {
	return func() interp.Invoker {
		l, err := executor.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		if err := l.Bundles.Publish(context.Background(), p.Campaign.ID, p.Bundle); err != nil {
			t.Fatal(err)
		}
		return l.Runner
	}
}

// CrossCheckCampaign runs a compiled campaign with the Go interpreter and with
// aws-local-stepfunctions, both calling the same in-process handlers, and
// requires the same states entered and the same final output.
func CrossCheckCampaign(t *testing.T, p *compile.Program, params map[string]any) {
	t.Helper()
	input, _ := json.Marshal(map[string]any{"params": params, "runId": "0193a5b0-0000-7000-8000-000000000001"})
	goRes, nodeRes := sfnlocal.CrossCheck(t, arns(p.JSON), input, newInvoker(t, p))
	if goRes.Error != "" || nodeRes.Error != "" {
		t.Errorf("executions failed: go %s %s / node %s %s", goRes.Error, goRes.Cause, nodeRes.Error, nodeRes.Cause)
	}
	if len(goRes.Entered) < 3 {
		t.Errorf("too few states entered: %v", goRes.Entered)
	}
}

func TestCrossCheckFlow(t *testing.T) {
	p, diags := builtin.CompileFiles("testdata/flow.yaml", "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, params := range []map[string]any{{}, {"region": "DE"}} {
		CrossCheckCampaign(t, p, params)
	}
}
