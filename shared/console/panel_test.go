package console_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// An activity's panel: its settings in words from its type's describer, or
// its keys as written for a type without one; 404 for an unknown activity.
func TestActivitySettings(t *testing.T) {
	hs := server(t)
	c := client()
	login(t, c, hs.URL)
	get := func(id string) (int, map[string]any) {
		resp, body := do(t, c, "GET", hs.URL+"/ui/campaigns/winback-q4/activities/"+id, "", nil)
		var v map[string]any
		json.Unmarshal([]byte(body), &v)
		return resp.StatusCode, v
	}
	code, v := get("onePerEmail")
	words, _ := json.Marshal(v["words"])
	if code != 200 || v["type"] != "deduplication" || string(words) != `["Keep one per email, the highest spend365.","The other rows go to duplicates."]` {
		t.Errorf("onePerEmail: %d %v", code, v)
	}
	code, v = get("sendVip")
	if code != 200 || !strings.Contains(toJSON(v["words"]), `"Email '{{ recipient.firstName | default: 'Hello' }}, {{ params.discount }}% off this {{ variables.season }}' to the input."`) {
		t.Errorf("sendVip: %d %v", code, v)
	}
	code, v = get("enriched")
	if s := toJSON(v["words"]); code != 200 || v["settings"] != nil || v["of"] != "draft" ||
		!strings.Contains(s, `"Add to each row: store.city, as city."`) {
		t.Errorf("enriched: %d %v", code, v)
	}
	if code, _ := get("nothing"); code != 404 {
		t.Errorf("unknown activity: %d", code)
	}
}

// A run's panel shows the settings of the version the run ran, not the
// draft changed since; a test run of the draft shows the draft's.
func TestRunPanelSettingsOfItsVersion(t *testing.T) {
	hs := server(t)
	c := client()
	login(t, c, hs.URL)
	_, cv := apiCall(t, hs.URL, "GET", "/v1/campaigns/winback-q4", nil)
	src := cv["source"].(string)
	held := strings.Replace(src, "    purpose: marketing\n", "    purpose: marketing\n    confirm: true\n", 1)
	// Version 1 runs (held at its send, then stopped), then the draft changes.
	var rv struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	if st, body := apiCall(t, hs.URL, "PUT", "/v1/campaigns/winback-q4", map[string]any{"source": held}); st != http.StatusOK {
		t.Fatalf("put: %d %v", st, body)
	}
	if st, body := apiCall(t, hs.URL, "POST", "/v1/campaigns/winback-q4/publish", nil); st != http.StatusOK {
		t.Fatalf("publish: %d %v", st, body)
	}
	if st := apiDo(t, hs.URL, "POST", "/v1/campaigns/winback-q4/trigger", map[string]any{}, &rv); st/100 != 2 || rv.Version != 1 {
		t.Fatalf("trigger: %d %+v", st, rv)
	}
	if st, body := apiCall(t, hs.URL, "POST", "/v1/runs/"+rv.ID+"/stop", nil); st != http.StatusOK {
		t.Fatalf("stop: %d %v", st, body)
	}
	changed := strings.Replace(held, "    keep: 1\n", "    keep: 2\n", 1)
	for _, step := range []struct {
		method, path string
		body         any
	}{{"POST", "/v1/campaigns/winback-q4/back-to-draft", nil}, {"PUT", "/v1/campaigns/winback-q4", map[string]any{"source": changed}}} {
		if st, body := apiCall(t, hs.URL, step.method, step.path, step.body); st != http.StatusOK {
			t.Fatalf("%s %s: %d %v", step.method, step.path, st, body)
		}
	}
	panel := func(path string) map[string]any {
		resp, body := do(t, c, "GET", hs.URL+path, "", nil)
		var v map[string]any
		json.Unmarshal([]byte(body), &v)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		return v
	}
	v := panel("/ui/runs/" + rv.ID + "/activities/onePerEmail")
	if w := toJSON(v["words"]); v["of"] != "version 1" || !strings.Contains(w, `"Keep one per email, the highest spend365."`) {
		t.Errorf("the run's panel: %v", v)
	}
	v = panel("/ui/campaigns/winback-q4/activities/onePerEmail")
	if w := toJSON(v["words"]); v["of"] != "draft" || !strings.Contains(w, `"Keep two per email, the highest spend365."`) {
		t.Errorf("the campaign's panel: %v", v)
	}
	// A test run of the draft (version 0) shows the draft.
	var tr struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	if st := apiDo(t, hs.URL, "POST", "/v1/campaigns/winback-q4/test-run?wait=30s", map[string]any{}, &tr); st/100 != 2 || tr.Version != 0 {
		t.Fatalf("test run: %d %+v", st, tr)
	}
	v = panel("/ui/runs/" + tr.ID + "/activities/onePerEmail")
	if w := toJSON(v["words"]); v["of"] != "draft" || !strings.Contains(w, `"Keep two per email, the highest spend365."`) {
		t.Errorf("the test run's panel: %v", v)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
