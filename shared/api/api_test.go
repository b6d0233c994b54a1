package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/local"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/feedback"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/state"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

const token = "test-token-0123456789"

var secret = []byte("unsubscribe-secret-for-tests")

type env struct {
	t   *testing.T
	srv *httptest.Server
	l   *executor.Local
	b   *local.Backend
	api *api.Server
}

// newEnv serves the API over a fresh local home with the real executor and bbolt.
func newEnv(t *testing.T, interval time.Duration) *env {
	t.Helper()
	return newEnvWith(t, interval, nil)
}

// newEnvLogger is newEnv logging to logger (runs and the server).
func newEnvLogger(t *testing.T, logger *slog.Logger) *env {
	t.Helper()
	return newEnvWith(t, time.Hour, func(o *api.Options) { o.Logger = logger })
}

// newEnvWith is newEnv with options changed by edit (a store wrapper, missing sources, a logger).
func newEnvWith(t *testing.T, interval time.Duration, edit func(*api.Options)) *env {
	t.Helper()
	l, err := executor.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := &local.Backend{L: l, WaitMode: interp.WaitSkip, Concurrency: 2}
	o := api.Options{
		Store: l.State, Sources: api.DirSources{Dir: "testdata"}, Schemas: l.Compiler.Schemas, Bundles: l.Bundles, Executor: b, Previewer: b, Uploads: b, Feedback: b,
		Authorize: api.BearerToken(token), UnsubscribeSecret: secret, TriggerInterval: interval, MaxBody: 64 << 10,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if edit != nil {
		edit(&o)
	}
	b.Logger = o.Logger
	as := api.NewServer(o)
	b.SetTriggerer(as) // as serve does
	srv := httptest.NewServer(as)
	t.Cleanup(func() {
		srv.Close()
		b.StopAll()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Wait(ctx)
		b.Close()
		l.Close()
	})
	return &env{t: t, srv: srv, l: l, b: b, api: as}
}

type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (r resp) errPath() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["path"].(string)
	return s
}

func (r resp) str(k string) string { s, _ := r.body[k].(string); return s }

// do sends a request; body is JSON-encoded unless it is a string or []byte.
func (e *env) do(method, path string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	json.Unmarshal(raw, &out.body)
	return out
}

func (e *env) expect(r resp, status int, what string) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.raw)
	}
	return r
}

// refused checks a 409 lifecycle refusal with its reason.
func (e *env) refused(r resp, what string) {
	e.t.Helper()
	e.expect(r, http.StatusConflict, what)
	if r.errCode() != "lifecycle_refused" || !strings.Contains(r.raw2(), "cannot") {
		e.t.Fatalf("%s: want lifecycle_refused with a reason, got %s", what, r.raw)
	}
}

func (r resp) raw2() string { return string(r.raw) }

func source(t *testing.T) string {
	data, err := os.ReadFile("testdata/flow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func activity(r resp, id string) map[string]any {
	acts, _ := r.body["activities"].([]any)
	for _, a := range acts {
		m := a.(map[string]any)
		if m["id"] == id {
			return m
		}
	}
	return nil
}

func transition(r resp, from, port string) map[string]any {
	trs, _ := r.body["transitions"].([]any)
	for _, x := range trs {
		m := x.(map[string]any)
		if m["from"] == from && m["port"] == port {
			return m
		}
	}
	return nil
}

// The whole lifecycle through the API, on the real local executor and store:
// create → validate → test-run (counts) → publish → trigger with parameters → run
// succeeds → counts visible → close/stop/archive, each refused transition a 409.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t, time.Hour)
	src := source(t)

	c := e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": src}), 201, "create")
	if c.str("status") != "draft" || c.body["valid"] != true || c.header.Get("Location") != "/v1/campaigns/flow-only" {
		t.Fatalf("create: %s", c.raw)
	}
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": src}), 409, "create twice")

	v := e.expect(e.do("POST", "/v1/campaigns/flow-only/validate", nil), 200, "validate")
	if v.body["valid"] != true {
		t.Fatalf("validate: %s", v.raw)
	}

	// Draft: what the lifecycle refuses.
	e.refused(e.do("POST", "/v1/campaigns/flow-only/trigger", map[string]any{}), "trigger a draft")
	e.refused(e.do("POST", "/v1/campaigns/flow-only/close", nil), "close a draft")
	e.refused(e.do("POST", "/v1/campaigns/flow-only/stop", nil), "stop a draft")
	e.refused(e.do("POST", "/v1/campaigns/flow-only/archive", nil), "archive a draft")
	e.refused(e.do("POST", "/v1/campaigns/flow-only/back-to-draft", nil), "back-to-draft a draft")

	// Test run: every activity runs, counts on the transitions.
	tr := e.expect(e.do("POST", "/v1/campaigns/flow-only/test-run?wait=30s", map[string]any{"params": map[string]any{"region": "FR"}}), 200, "test-run")
	if tr.str("status") != "succeeded" || tr.body["test"] != true || tr.body["version"].(float64) != 0 {
		t.Fatalf("test-run: %s", tr.raw)
	}
	if a := activity(tr, "other"); a == nil || a["status"] != "skipped" {
		t.Fatalf("test-run: other should be skipped: %s", tr.raw)
	}
	if x := transition(tr, "check", "fr"); x == nil || x["activated"] != true || x["count"].(float64) != 0 || x["to"].([]any)[0] != "fan" {
		t.Fatalf("test-run: transition check.fr: %s", tr.raw)
	}
	if x := transition(tr, "check", "winter"); x == nil || x["activated"] != false {
		t.Fatalf("test-run: check.winter should not be activated: %s", tr.raw)
	}

	// Publish: draft → scheduled (the campaign has a schedule), version 1.
	p := e.expect(e.do("POST", "/v1/campaigns/flow-only/publish", nil), 200, "publish")
	if p.str("status") != "scheduled" || p.body["publishedVersion"].(float64) != 1 {
		t.Fatalf("publish: %s", p.raw)
	}
	sched, _ := p.body["schedule"].(map[string]any)
	if sched["every"] != "1d" || sched["timezone"] != "Europe/Paris" {
		t.Fatalf("publish: schedule %v", sched)
	}
	// Published versions are immutable.
	e.refused(e.do("PUT", "/v1/campaigns/flow-only", map[string]any{"source": src}), "update a published campaign")
	e.refused(e.do("DELETE", "/v1/campaigns/flow-only", nil), "delete a published campaign")
	e.refused(e.do("POST", "/v1/campaigns/flow-only/publish", nil), "publish twice")
	e.refused(e.do("POST", "/v1/campaigns/flow-only/test-run", nil), "test-run a published campaign")
	e.refused(e.do("POST", "/v1/campaigns/flow-only/close", nil), "close a scheduled campaign")

	// Trigger with parameters: the run is pinned to version 1 and succeeds.
	run := e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger?wait=30s", map[string]any{"params": map[string]any{"region": "DE", "limit": 5}},
		"Idempotency-Key", "order-42"), 200, "trigger")
	runID := run.str("id")
	if run.str("status") != "succeeded" || run.body["version"].(float64) != 1 || run.body["test"] != false || runID == "" {
		t.Fatalf("trigger: %s", run.raw)
	}
	if params := run.body["params"].(map[string]any); params["region"] != "DE" || params["limit"].(float64) != 5 {
		t.Fatalf("trigger: params %v", params)
	}
	// Counts visible on the run.
	g := e.expect(e.do("GET", "/v1/runs/"+runID, nil), 200, "get run")
	if x := transition(g, "check", "winter"); x == nil || x["activated"] != true {
		t.Fatalf("run: check.winter should be activated for DE: %s", g.raw)
	}
	if a := activity(g, "other"); a["status"] != "succeeded" {
		t.Fatalf("run: other: %v", a)
	}
	if a := activity(g, "fan"); a["status"] != "skipped" {
		t.Fatalf("run: fan: %v", a)
	}
	logs := e.expect(e.do("GET", "/v1/runs/"+runID+"/logs?activity=other", nil), 200, "logs")
	if !strings.Contains(string(logs.raw), "ALERT Winter") {
		t.Fatalf("logs: %s", logs.raw)
	}
	pv := e.expect(e.do("GET", "/v1/runs/"+runID+"/transitions/start/out/preview?limit=5", nil), 200, "preview")
	if pv.body["total"].(float64) != 0 {
		t.Fatalf("preview: %s", pv.raw)
	}
	e.expect(e.do("GET", "/v1/runs/"+runID+"/transitions/check/fr/preview", nil), 404, "preview of a transition not activated")
	runs := e.expect(e.do("GET", "/v1/campaigns/flow-only/runs?limit=10", nil), 200, "list runs")
	if n := len(runs.body["runs"].([]any)); n != 2 {
		t.Fatalf("runs: %d, want 2 (test + live): %s", n, runs.raw)
	}
	cg := e.expect(e.do("GET", "/v1/campaigns/flow-only", nil), 200, "get campaign")
	if cg.str("status") != "live" {
		t.Fatalf("after the first run the campaign is live: %s", cg.raw)
	}
	e.refused(e.do("POST", "/v1/campaigns/flow-only/back-to-draft", nil), "back-to-draft after a completed run")
	e.expect(e.do("POST", "/v1/runs/"+runID+"/resume", nil), 409, "resume a run that is not suspended")

	// Close (live, recurring) → closed; then stop and trigger are refused, archive works.
	cl := e.expect(e.do("POST", "/v1/campaigns/flow-only/close", nil), 200, "close")
	if cl.str("status") != "closed" {
		t.Fatalf("close: %s", cl.raw)
	}
	e.refused(e.do("POST", "/v1/campaigns/flow-only/stop", nil), "stop a closed campaign")
	e.refused(e.do("POST", "/v1/campaigns/flow-only/trigger", map[string]any{}), "trigger a closed campaign")
	e.expect(e.do("POST", "/v1/campaigns/flow-only/archive", nil), 200, "archive")
	e.refused(e.do("POST", "/v1/campaigns/flow-only/archive", nil), "archive twice")
	// The replayed key still answers its run.
	rp := e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger", map[string]any{"params": map[string]any{"limit": 5, "region": "DE"}},
		"Idempotency-Key", "order-42"), 200, "replay after archive")
	if rp.str("id") != runID || rp.body["replayed"] != true {
		t.Fatalf("replay: %s", rp.raw)
	}

	// Duplicate (from any status) gives a new draft; publish it, trigger, stop.
	d := e.expect(e.do("POST", "/v1/campaigns/flow-only/duplicate", map[string]any{"id": "flow-two"}), 201, "duplicate")
	if d.str("status") != "draft" || !strings.Contains(d.str("source"), "id: flow-two") || !strings.Contains(d.str("source"), "# A flow-only campaign") {
		t.Fatalf("duplicate: %s", d.raw)
	}
	e.expect(e.do("POST", "/v1/campaigns/flow-two/publish", nil), 200, "publish the copy")
	e.expect(e.do("POST", "/v1/campaigns/flow-two/trigger?wait=30s", map[string]any{}), 200, "trigger the copy")
	st := e.expect(e.do("POST", "/v1/campaigns/flow-two/stop", nil), 200, "stop")
	if st.str("status") != "stopped" {
		t.Fatalf("stop: %s", st.raw)
	}
	e.refused(e.do("POST", "/v1/campaigns/flow-two/close", nil), "close a stopped campaign")
	e.refused(e.do("POST", "/v1/campaigns/flow-two/publish", nil), "publish a stopped campaign")
	e.expect(e.do("POST", "/v1/campaigns/flow-two/archive", nil), 200, "archive the stopped copy")

	// A draft is deleted.
	e.expect(e.do("POST", "/v1/campaigns/flow-only/duplicate", nil), 201, "duplicate with the default id")
	e.expect(e.do("DELETE", "/v1/campaigns/flow-only-copy", nil), 204, "delete a draft")
	e.expect(e.do("GET", "/v1/campaigns/flow-only-copy", nil), 404, "deleted")

	list := e.expect(e.do("GET", "/v1/campaigns?status=archived", nil), 200, "list")
	if n := len(list.body["campaigns"].([]any)); n != 2 {
		t.Fatalf("archived campaigns: %d: %s", n, list.raw)
	}
}

// A stopped campaign stops its runs: a run held in a real 2-hour wait is recorded
// stopped with the reason.
func TestStopInterruptsRuns(t *testing.T) {
	e := newEnv(t, -1)
	e.b.WaitMode = interp.WaitReal
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": source(t)}), 201, "create")
	e.expect(e.do("POST", "/v1/campaigns/flow-only/publish", nil), 200, "publish")
	run := e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger", map[string]any{}), 202, "trigger")
	id := run.str("id")
	e.expect(e.do("POST", "/v1/campaigns/flow-only/stop", nil), 200, "stop")
	deadline := time.Now().Add(10 * time.Second)
	for {
		g := e.expect(e.do("GET", "/v1/runs/"+id, nil), 200, "get run")
		if g.str("status") == "stopped" && g.str("reason") == "campaign stopped" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not stopped: %s", g.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.expect(e.do("POST", "/v1/runs/"+id+"/stop", nil), 409, "stop a stopped run")
}

func TestValidateAsCLI(t *testing.T) {
	e := newEnv(t, time.Hour)
	bad := strings.Replace(source(t), "op: eq, value: FR", "op: equals, value: FR", 1)
	bad = strings.Replace(bad, "from: fan.b", "from: fan.c", 1)
	c := e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": bad}), 201, "create an invalid draft")
	if c.body["valid"] != false || len(c.body["diagnostics"].([]any)) == 0 {
		t.Fatalf("an invalid draft is saved with its diagnostics: %s", c.raw)
	}
	v := e.expect(e.do("POST", "/v1/campaigns/flow-only/validate", nil), 200, "validate")
	out := v.str("output")
	// Exactly what `stepwise validate` prints for the same file.
	dir := t.TempDir()
	os.WriteFile(dir+"/flow-only.yaml", []byte(bad), 0o644)
	cat, _ := os.ReadFile("testdata/catalog.yaml")
	os.WriteFile(dir+"/catalog.yaml", cat, 0o644)
	_, diags := builtin.CompileFiles(dir+"/flow-only.yaml", "")
	var cli strings.Builder
	for _, d := range diags {
		cli.WriteString(strings.TrimPrefix(d.String(), dir+"/") + "\n")
	}
	if v.body["valid"] != false || out != cli.String() || !strings.Contains(out, "fan.c") {
		t.Fatalf("validate output:\n%s\nCLI:\n%s", out, cli.String())
	}
	// The catalog's sources are absent here: a warning each, first in file order.
	all := v.body["diagnostics"].([]any)
	if w := all[0].(map[string]any); w["file"] != "catalog.yaml" || w["severity"] != "warning" || w["path"] != "tables[0].source" {
		t.Fatalf("source warning: %v", w)
	}
	d := all[3].(map[string]any)
	if d["file"] != "flow-only.yaml" || d["line"].(float64) == 0 || d["path"] == "" || !strings.HasPrefix(d["text"].(string), "flow-only.yaml:") {
		t.Fatalf("structured diagnostic: %v", d)
	}
	pub := e.expect(e.do("POST", "/v1/campaigns/flow-only/publish", nil), 422, "publish an invalid draft")
	if pub.errCode() != "invalid_campaign" || !strings.HasPrefix(pub.errPath(), "$.activities[") {
		t.Fatalf("publish: %s", pub.raw)
	}
	// The document endpoint validates without storing.
	vd := e.expect(e.do("POST", "/v1/validate", map[string]any{"source": source(t)}), 200, "validate a document")
	if vd.body["valid"] != true {
		t.Fatalf("validate document: %s", vd.raw)
	}
}

func TestUnsubscribe(t *testing.T) {
	e := newEnv(t, time.Hour)
	tok := unsubscribe.Sign(secret, unsubscribe.Claims{Campaign: "c", Run: "r", Activity: "send", Recipient: "C1", Channel: "email", Address: "Ann@Example.com"})
	u := unsubscribe.URL(e.srv.URL, tok)
	check := func() int {
		m, err := e.l.State.CheckSuppressed(context.Background(), "email", "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		return len(m)
	}
	// GET shows a page and changes nothing; no token needed.
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `<form method="post">`) || check() != 0 {
		t.Fatalf("GET: %d %s (suppressed %d)", res.StatusCode, body, check())
	}
	// RFC 8058 POST unsubscribes.
	res, err = http.Post(u, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || check() != 1 {
		t.Fatalf("POST: %d, suppressed %d", res.StatusCode, check())
	}
	m, _ := e.l.State.CheckSuppressed(context.Background(), "email", "ann@example.com")
	for _, s := range m {
		if s.Reason != state.SuppressUnsubscribe {
			t.Fatalf("reason %s", s.Reason)
		}
	}
	// The unsubscribe is in message_feedback, once however often the link is used.
	res, err = http.Post(u, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	eng, err := e.l.Engine()
	if err != nil {
		t.Fatal(err)
	}
	cur, err := tablelog.New(eng.Store(), nil).CurrentTable(context.Background(), feedback.Table)
	if err != nil {
		t.Fatalf("message_feedback: %v", err)
	}
	if _, err := eng.StageDataset(context.Background(), "fb", dataset.Ref(cur.Ref)); err != nil {
		t.Fatal(err)
	}
	row, err := eng.QueryRow(context.Background(), `SELECT count(*), min(event), min(recipient), min(address), min(run) FROM fb`)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(row) != "[1 unsubscribed C1 Ann@Example.com r]" {
		t.Fatalf("message_feedback after two clicks: %v", row)
	}
	// A forged token is refused.
	res, _ = http.Post(e.srv.URL+"/unsubscribe/"+tok[:len(tok)-3]+"AAA", "application/x-www-form-urlencoded", nil)
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Fatalf("forged token: %d", res.StatusCode)
	}
}

// After a rotation, links signed with the secret's previous value still
// unsubscribe (mail already delivered); a third secret's do not, nor the old
// value's when the server was not given it.
func TestUnsubscribeAfterRotation(t *testing.T) {
	rotated := []byte("unsubscribe-secret-after-rotation")
	post := func(e *env, tok string) int {
		t.Helper()
		res, err := http.Post(unsubscribe.URL(e.srv.URL, tok), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	claims := func(addr string) unsubscribe.Claims {
		return unsubscribe.Claims{Campaign: "c", Run: "r", Activity: "send", Recipient: "C1", Channel: "email", Address: addr}
	}
	e := newEnvWith(t, time.Hour, func(o *api.Options) { o.UnsubscribeSecret, o.UnsubscribePrevious = rotated, secret })
	for _, c := range []struct {
		secret []byte
		addr   string
		want   int
	}{
		{secret, "old@example.com", 200},
		{rotated, "new@example.com", 200},
		{[]byte("some-other-secret-of-enough-length"), "other@example.com", 400},
	} {
		if got := post(e, unsubscribe.Sign(c.secret, claims(c.addr))); got != c.want {
			t.Errorf("%s: %d, want %d", c.addr, got, c.want)
		}
		m, err := e.l.State.CheckSuppressed(context.Background(), "email", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(m) == 1; got != (c.want == 200) {
			t.Errorf("%s: suppressed %v", c.addr, got)
		}
	}
	// Without the previous value, the old link is refused.
	e = newEnvWith(t, time.Hour, func(o *api.Options) { o.UnsubscribeSecret = rotated })
	if got := post(e, unsubscribe.Sign(secret, claims("old@example.com"))); got != 400 {
		t.Errorf("old link without the previous secret: %d, want 400", got)
	}
}

func TestUploadLocal(t *testing.T) {
	e := newEnv(t, time.Hour)
	u := e.expect(e.do("POST", "/v1/uploads", map[string]any{"name": "leads.csv"}), 201, "new upload")
	put := e.expect(e.do("PUT", u.str("url"), "email\nann@example.com\n", "Content-Type", "application/octet-stream"), 201, "put")
	data, err := os.ReadFile(put.str("file"))
	if err != nil || string(data) != "email\nann@example.com\n" || put.str("file") != u.str("file") {
		t.Fatalf("uploaded file %q: %q %v", put.str("file"), data, err)
	}
	e.expect(e.do("POST", "/v1/uploads", map[string]any{"name": "../etc/passwd"}), 400, "a path is not a name")
	e.expect(e.do("GET", "/v1/audiences", nil), 200, "audiences")
}
