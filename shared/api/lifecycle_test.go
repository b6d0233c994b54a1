package api_test

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/state"
)

const apiDoc = "../../docs/api.md"

// The lifecycle table in docs/api.md is the one state.Lifecycle renders.
func TestLifecycleDocFresh(t *testing.T) {
	doc, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := api.ReplaceLifecycle(doc)
	if err != nil {
		t.Fatalf("docs/api.md: %v", err)
	}
	if *update {
		if err := os.WriteFile(apiDoc, fresh, 0o644); err != nil {
			t.Fatal(err)
		}
		doc = fresh
	}
	if !bytes.Equal(doc, fresh) {
		t.Fatal("docs/api.md's lifecycle table is stale: run go test ./shared/api -run TestLifecycleDocFresh -update")
	}
	for _, m := range state.Lifecycle {
		if !strings.Contains(api.LifecycleMarkdown(), m.Action) {
			t.Fatalf("action %s is not rendered", m.Action)
		}
	}
}

// allowedNow reads the actions a 409 lists as allowed.
func allowedNow(t *testing.T, r resp) []string {
	t.Helper()
	e, _ := r.body["error"].(map[string]any)
	ds, _ := e["details"].([]any)
	if len(ds) != 1 {
		t.Fatalf("details: %s", r.raw)
	}
	msg, _ := ds[0].(map[string]any)["message"].(string)
	list, ok := strings.CutPrefix(msg, "allowed now: ")
	if !ok {
		t.Fatalf("details: %s", r.raw)
	}
	if list == "" {
		return nil
	}
	return strings.Split(list, ", ")
}

// Every refusal lists exactly what the lifecycle table allows from the campaign's
// status (close only when recurring), never the action it refuses; the campaign's
// view lists the same.
func TestRefusalsListTheTable(t *testing.T) {
	e := newEnv(t, -1)
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": source(t)}), 201, "create")
	id := "/v1/campaigns/flow-only"
	check := func(status string, refusedActions ...string) {
		t.Helper()
		c := e.expect(e.do("GET", id, nil), 200, "get")
		if c.str("status") != status {
			t.Fatalf("status %s, want %s", c.str("status"), status)
		}
		var inView []string
		for _, a := range c.body["actions"].([]any) {
			inView = append(inView, a.(string))
		}
		want := state.Actions(state.CampaignStatus(status)) // flow-only recurs (every: 1d)
		if !slices.Equal(inView, want) {
			t.Fatalf("%s: view lists %v, the table %v", status, inView, want)
		}
		for _, a := range refusedActions {
			method := "POST"
			path := id + "/" + a
			switch a {
			case "update":
				method, path = "PUT", id
			case "delete":
				method, path = "DELETE", id
			}
			var body any
			if a == "update" {
				body = map[string]any{"source": source(t)}
			}
			r := e.do(method, path, body)
			e.refused(r, a+" from "+status)
			got := allowedNow(t, r)
			exp := slices.DeleteFunc(slices.Clone(want), func(x string) bool { return x == a })
			if !slices.Equal(got, exp) {
				t.Fatalf("%s from %s: details list %v, want %v", a, status, got, exp)
			}
		}
	}
	check("draft", "trigger", "stop", "close", "archive", "back-to-draft")
	e.expect(e.do("POST", id+"/publish", nil), 200, "publish")
	// back-to-draft is allowed from live by the table; a live campaign with a run that
	// succeeded is refused it, and the refusal does not list it.
	if r := e.expect(e.do("POST", id+"/trigger?wait=30s", map[string]any{}), 200, "trigger"); r.str("status") != "succeeded" {
		t.Fatalf("run: %s", r.raw)
	}
	check("live", "update", "delete", "publish", "test-run", "back-to-draft")
	e.expect(e.do("POST", id+"/stop", nil), 200, "stop")
	check("stopped", "update", "publish", "stop", "close", "back-to-draft", "trigger")
	e.expect(e.do("POST", id+"/archive", nil), 200, "archive")
	check("archived", "archive", "stop", "back-to-draft", "trigger")
}
