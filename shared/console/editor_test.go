package console_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/docs"
)

// postJSON sends what editor.js sends: JSON with the CSRF token in a header.
func postJSON(t *testing.T, c *http.Client, u, origin, csrf string, body any) (int, map[string]any) {
	t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", u, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST %s: %d, not JSON: %s", u, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// apiCall calls the API with the server token, as another client would:
// the status and the body as JSON (nil when it is not).
func apiCall(t *testing.T, base, method, path string, body any) (int, map[string]any) {
	t.Helper()
	code, data := apiRaw(t, base, method, path, body)
	var out map[string]any
	json.Unmarshal(data, &out)
	return code, out
}

// The editor's pages, JSON and posts want a session; posts want this origin and
// the session's token.
func TestEditorAuth(t *testing.T) {
	hs := server(t)
	c := client()
	for _, p := range []string{"/campaigns/winback-q4/edit", "/campaigns/winback-q4/diff", "/assets/editor.js"} {
		resp, _ := do(t, c, "GET", hs.URL+p, "", nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Errorf("GET %s without a session: %d, want a redirect to /login", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/ui/schema/campaign.json", "/ui/campaigns/winback-q4"} {
		if resp, _ := do(t, c, "GET", hs.URL+p, "", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a session: %d, want 401", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/ui/validate", "/ui/draw", "/ui/campaigns/winback-q4/save"} {
		if st, _ := postJSON(t, c, hs.URL+p, hs.URL, "x", map[string]any{"source": "id: x"}); st != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %d, want 401", p, st)
		}
	}
	for _, p := range []string{"/campaigns/new", "/campaigns/winback-q4/edit"} {
		if resp, _ := do(t, c, "POST", hs.URL+p, hs.URL, url.Values{"id": {"x"}}); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %d, want 401", p, resp.StatusCode)
		}
	}

	csrf := login(t, c, hs.URL)
	for _, tc := range []struct{ origin, csrf string }{{"https://evil.example", csrf}, {"", csrf}, {hs.URL, ""}, {hs.URL, "forged"}} {
		for _, p := range []string{"/ui/validate", "/ui/draw", "/ui/campaigns/winback-q4/save"} {
			if st, body := postJSON(t, c, hs.URL+p, tc.origin, tc.csrf, map[string]any{"source": "id: x", "rev": 1}); st != http.StatusForbidden {
				t.Errorf("POST %s origin %q token %q: %d %v, want 403", p, tc.origin, tc.csrf, st, body)
			}
		}
		for _, p := range []string{"/campaigns/new", "/campaigns/winback-q4/edit"} {
			if resp, _ := do(t, c, "POST", hs.URL+p, tc.origin, url.Values{"csrf": {tc.csrf}, "id": {"x"}, "rev": {"1"}, "source": {"id: x"}}); resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s origin %q token %q: %d, want 403", p, tc.origin, tc.csrf, resp.StatusCode)
			}
		}
	}
	// A form post cannot pass for the script's JSON (no header token, and not JSON).
	if resp, _ := do(t, c, "POST", hs.URL+"/ui/validate", hs.URL, url.Values{"csrf": {csrf}, "source": {"id: x"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a form post to /ui/validate: %d, want 403", resp.StatusCode)
	}
	if resp, body := do(t, c, "GET", hs.URL+"/ui/schema/campaign.json", "", nil); resp.StatusCode != http.StatusOK || body != string(docs.CampaignSchema) {
		t.Errorf("schema: %d, not the committed one", resp.StatusCode)
	}
}

// Validation is the API's: the diagnostics `stepwise validate` prints, with
// lines and columns; drawing draws the text; saving wants the revision read.
func TestEditorValidateDrawSave(t *testing.T) {
	hs := server(t)
	c := client()
	csrf := login(t, c, hs.URL)
	_, cv := apiCall(t, hs.URL, "GET", "/v1/campaigns/winback-q4", nil)
	src := cv["source"].(string)
	bad := strings.Replace(src, "op: lt,", "op: ltt,", 1)
	st, got := postJSON(t, c, hs.URL+"/ui/validate", hs.URL, csrf, map[string]any{"source": bad})
	_, want := apiCall(t, hs.URL, "POST", "/v1/validate", map[string]any{"source": bad})
	if st != http.StatusOK || got["valid"] != false || !reflectEqual(got, want) {
		t.Fatalf("validate: %d %v, want the API's %v", st, got, want)
	}
	d := got["diagnostics"].([]any)[0].(map[string]any)
	if d["line"] != float64(16) || d["col"] != float64(40) || !strings.HasPrefix(d["text"].(string), "winback-q4.yaml:16:40 ") {
		t.Errorf("diagnostic: %v", d)
	}

	renamed := strings.ReplaceAll(src, "saveVips", "keepVips")
	if st, dr := postJSON(t, c, hs.URL+"/ui/draw", hs.URL, csrf, map[string]any{"source": renamed}); st != http.StatusOK ||
		!strings.Contains(dr["svg"].(string), `data-id="keepVips"`) || dr["activities"] != float64(7) {
		t.Errorf("draw: %d %v", st, dr)
	}

	rev := cv["rev"].(float64)
	if st, body := postJSON(t, c, hs.URL+"/ui/campaigns/winback-q4/save", hs.URL, csrf, map[string]any{"source": renamed}); st != http.StatusBadRequest {
		t.Errorf("save without a rev: %d %v, want 400", st, body)
	}
	st, saved := postJSON(t, c, hs.URL+"/ui/campaigns/winback-q4/save", hs.URL, csrf, map[string]any{"source": renamed, "rev": rev})
	if st != http.StatusOK || saved["rev"] != rev+1 || saved["valid"] != true {
		t.Fatalf("save: %d %v", st, saved)
	}
	st, stale := postJSON(t, c, hs.URL+"/ui/campaigns/winback-q4/save", hs.URL, csrf, map[string]any{"source": src, "rev": rev})
	if e, _ := stale["error"].(map[string]any); st != http.StatusConflict || e["code"] != "conflict" {
		t.Errorf("a stale save: %d %v, want 409 conflict", st, stale)
	}

	// Without script: the form saves, and a stale one shows the page again with the text sent.
	form := url.Values{"csrf": {csrf}, "rev": {"1"}, "source": {strings.ReplaceAll(src, "\n", "\r\n")}}
	resp, page := do(t, c, "POST", hs.URL+"/campaigns/winback-q4/edit", hs.URL, form)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "is at revision 2, not 1") || !strings.Contains(page, "id: saveVips") ||
		!strings.Contains(page, `id="conflict-form"`) {
		t.Errorf("a stale form save: %d, want 409 with the text kept:\n%s", resp.StatusCode, page)
	}
	form.Set("rev", "2")
	if resp, _ := do(t, c, "POST", hs.URL+"/campaigns/winback-q4/edit", hs.URL, form); resp.StatusCode != http.StatusSeeOther ||
		resp.Header.Get("Location") != "/campaigns/winback-q4/edit?saved=3" {
		t.Errorf("form save: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, now := apiCall(t, hs.URL, "GET", "/v1/campaigns/winback-q4", nil); now["source"] != src {
		t.Errorf("the form's CRLF text was not saved as LF text")
	}
	_, page = do(t, c, "GET", hs.URL+"/campaigns/winback-q4/edit?saved=3", "", nil)
	for _, want := range []string{`data-rev="3"`, `<textarea id="source"`, "Saved: revision 3.", `<script src="/assets/editor.js">`, `href="/campaigns/winback-q4/diff"`} {
		if !strings.Contains(page, want) {
			t.Errorf("edit page lacks %s", want)
		}
	}
	if strings.Contains(page, " style=") || strings.Contains(page, "<script>") {
		t.Errorf("edit page has inline style or script")
	}
}

func reflectEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

var diffRow = regexp.MustCompile(`<tr class="(add|del)"><td class="ln">(\d*)</td><td class="ln">(\d*)</td>.*?<td class="text">([^<]*)</td>`)

// The diff page compares the saved draft with the latest published version,
// or says there is none; then offers publish when the server allows it.
func TestDiffBeforePublish(t *testing.T) {
	hs := server(t)
	c := client()
	csrf := login(t, c, hs.URL)
	resp, page := do(t, c, "GET", hs.URL+"/campaigns/winback-q4/diff", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Not published yet") || !strings.Contains(page, `id="publish"`) || strings.Contains(page, `id="diff"`) {
		t.Fatalf("diff of a draft never published: %d\n%s", resp.StatusCode, page)
	}
	_, cv := apiCall(t, hs.URL, "GET", "/v1/campaigns/winback-q4", nil)
	src := cv["source"].(string)
	scheduled := strings.Replace(src, "timezone: Europe/Paris\n", "timezone: Europe/Paris\nschedule: { cron: \"0 8 * * 1\" }\n", 1)
	for _, step := range []struct {
		method, path string
		body         any
	}{{"PUT", "/v1/campaigns/winback-q4", map[string]any{"source": scheduled}}, {"POST", "/v1/campaigns/winback-q4/publish", nil},
		{"POST", "/v1/campaigns/winback-q4/back-to-draft", nil},
		{"PUT", "/v1/campaigns/winback-q4", map[string]any{"source": strings.ReplaceAll(scheduled, "saveVips", "keepVips")}}} {
		if st, body := apiCall(t, hs.URL, step.method, step.path, step.body); st != http.StatusOK {
			t.Fatalf("%s %s: %d %v", step.method, step.path, st, body)
		}
	}
	_, page = do(t, c, "GET", hs.URL+"/campaigns/winback-q4/diff", "", nil)
	rows := diffRow.FindAllStringSubmatch(page, -1)
	if len(rows) != 2 || rows[0][1] != "del" || rows[0][4] != "  - id: saveVips" || rows[1][1] != "add" || rows[1][4] != "  - id: keepVips" ||
		rows[0][2] != rows[1][3] || !strings.Contains(page, "against published version 1") || !strings.Contains(page, "1 lines added, 1 removed") {
		t.Errorf("diff rows %q in\n%s", rows, page)
	}
	if resp, _ := do(t, c, "POST", hs.URL+"/campaigns/winback-q4/actions/publish", hs.URL, url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("publish: %d", resp.StatusCode)
	}
	_, page = do(t, c, "GET", hs.URL+"/campaigns/winback-q4/diff", "", nil)
	if !strings.Contains(page, "same as version 2") || strings.Contains(page, `id="publish"`) || !strings.Contains(page, `id="no-publish"`) {
		t.Errorf("diff of a published campaign:\n%s", page)
	}
}

// "New campaign": from an id alone, from YAML, or as a duplicate; errors at
// their field, the document's at their line.
func TestCreateFromTheList(t *testing.T) {
	hs := server(t)
	c := client()
	csrf := login(t, c, hs.URL)
	post := func(form url.Values) (*http.Response, string) {
		form.Set("csrf", csrf)
		return do(t, c, "POST", hs.URL+"/campaigns/new", hs.URL, form)
	}
	resp, _ := post(url.Values{"id": {"spring-sale"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/campaigns/spring-sale/edit" {
		t.Fatalf("create from an id: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st, cv := apiCall(t, hs.URL, "GET", "/v1/campaigns/spring-sale", nil); st != http.StatusOK || !strings.Contains(cv["source"].(string), "id: spring-sale") {
		t.Errorf("created: %d %v", st, cv)
	}
	resp, page := post(url.Values{"id": {"spring-sale"}})
	if resp.StatusCode != http.StatusConflict || !regexp.MustCompile(`id="new-id"[^>]*aria-invalid="true"`).MatchString(page) ||
		!strings.Contains(page, `id="new-id-error">campaign spring-sale already exists`) || !strings.Contains(page, "<details id=\"new-campaign\" open>") {
		t.Errorf("an id taken: %d\n%s", resp.StatusCode, page)
	}
	resp, page = post(url.Values{"id": {"Bad Id"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `id="new-id-error"`) {
		t.Errorf("a bad id: %d", resp.StatusCode)
	}
	resp, page = post(url.Values{"id": {"other"}, "source": {"version: 1\nid: autumn\nactivities: []\n"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "The YAML&#39;s id is &#34;autumn&#34;") {
		t.Errorf("ids that differ: %d\n%s", resp.StatusCode, page)
	}
	resp, page = post(url.Values{"source": {"version: 1\nid: autumn\nactivities:\n  - id: a\n    type: email\n    from: [x\n"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="new-source-errors"`) ||
		!regexp.MustCompile(`<li>Line \d+, column \d+: `).MatchString(page) || !strings.Contains(page, "    from: [x") {
		t.Errorf("bad YAML: %d, want its errors at their lines and the text kept\n%s", resp.StatusCode, page)
	}
	resp, _ = post(url.Values{"source": {"version: 1\nid: autumn\nactivities:\n  - { id: a, type: build-audience }\n"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/campaigns/autumn/edit" {
		t.Errorf("create from YAML: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = post(url.Values{"from": {"winback-q4"}, "id": {"winback-q1"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/campaigns/winback-q1/edit" {
		t.Errorf("duplicate: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, page = post(url.Values{"from": {"winback-q4"}, "id": {"winback-q1"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, `id="dup-id-error"`) {
		t.Errorf("duplicate onto an id taken: %d\n%s", resp.StatusCode, page)
	}
	resp, page = post(url.Values{"from": {"nope"}})
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, `id="dup-from-error"`) {
		t.Errorf("duplicate of nothing: %d", resp.StatusCode)
	}
}
