package api_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	act "github.com/stepwise-run/stepwise/shared/activity"
)

// An end activity with trigger: starts the other campaign's published version under the
// API, with the parameters it passes (a param of its run, a literal).
func TestEndTriggersAnotherCampaign(t *testing.T) {
	e := newEnv(t, -1)
	src := source(t)
	target := strings.Replace(src, "id: flow-only", "id: flow-b", 1)
	caller := strings.Replace(src, "  - { id: done, type: end, from: join }",
		"  - { id: done, type: end, from: join, trigger: { campaign: flow-b, parameters: { region: { param: region }, limit: 7 } } }", 1)
	if caller == src {
		t.Fatal("fixture: no end activity to replace")
	}
	for _, doc := range []string{target, caller} {
		c := e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": doc}), 201, "create")
		e.expect(e.do("POST", "/v1/campaigns/"+c.str("id")+"/publish", nil), 200, "publish")
	}
	run := e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger?wait=30s", map[string]any{"params": map[string]any{"region": "FR"}}), 200, "trigger the caller")
	if run.str("status") != "succeeded" {
		logs := e.do("GET", "/v1/runs/"+run.str("id")+"/logs", nil)
		t.Fatalf("caller run %s: %s\nlogs: %s", run.str("status"), run.raw, logs.raw)
	}
	runs := e.expect(e.do("GET", "/v1/campaigns/flow-b/runs", nil), 200, "runs of the target")
	list := runs.body["runs"].([]any)
	if len(list) != 1 {
		t.Fatalf("target has %d runs, want 1: %s", len(list), runs.raw)
	}
	got := list[0].(map[string]any)
	params := got["params"].(map[string]any)
	if params["region"] != "FR" || params["limit"] != float64(7) || got["version"] != float64(1) || got["test"] != false {
		t.Fatalf("target run: %v", got)
	}

	// A retried end task (same key) is the same run; the key with other parameters, a
	// draft or an unknown campaign is an error the task does not retry.
	ctx := context.Background()
	id1, err := e.api.Trigger(ctx, "flow-b", map[string]any{"region": "DE"}, "run-x/done")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := e.api.Trigger(ctx, "flow-b", map[string]any{"region": "DE"}, "run-x/done")
	if err != nil || id2 != id1 {
		t.Fatalf("retried trigger: %s, %v; first %s", id2, err, id1)
	}
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": strings.Replace(src, "id: flow-only", "id: flow-draft", 1)}), 201, "create a draft")
	for _, c := range []struct{ campaign, key, want string }{
		{"flow-b", "run-x/done", "another request body"},
		{"flow-draft", "k", "publish it"},
		{"nope", "k", "not found"},
	} {
		_, err := e.api.Trigger(ctx, c.campaign, map[string]any{"region": "IT"}, c.key)
		var ii *act.InvalidInput
		if !errors.As(err, &ii) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("trigger %s: %v, want an InvalidInput saying %q", c.campaign, err, c.want)
		}
	}
}
