package api_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/state"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

// published serves the API with the flow-only campaign published.
func published(t *testing.T, interval time.Duration) *env {
	e := newEnv(t, interval)
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": source(t)}), 201, "create")
	e.expect(e.do("POST", "/v1/campaigns/flow-only/publish", nil), 200, "publish")
	return e
}

func TestBadRequests(t *testing.T) {
	e := published(t, -1)
	big := `{"source": "` + strings.Repeat("x", 70<<10) + `"}`
	cases := []struct {
		name         string
		method, path string
		body         any
		hdr          []string
		status       int
		code, path2  string
	}{
		{"malformed JSON", "POST", "/v1/campaigns", `{"source": `, nil, 400, "malformed_json", "$"},
		{"malformed JSON: trailing data", "POST", "/v1/campaigns", `{"source": "a"} {}`, nil, 400, "malformed_json", "$"},
		{"empty body", "POST", "/v1/campaigns", ``, nil, 400, "malformed_json", "$"},
		{"unknown field", "POST", "/v1/campaigns", map[string]any{"source": "x", "sauce": 1}, nil, 400, "unknown_field", "$.sauce"},
		{"unknown field in trigger", "POST", "/v1/campaigns/flow-only/trigger", map[string]any{"parms": map[string]any{}}, nil, 400, "unknown_field", "$.parms"},
		{"wrong JSON type", "POST", "/v1/campaigns", map[string]any{"source": 5}, nil, 400, "invalid_type", "$.source"},
		{"params not an object", "POST", "/v1/campaigns/flow-only/trigger", map[string]any{"params": []int{1}}, nil, 400, "invalid_type", "$.params"},
		{"oversized body", "POST", "/v1/campaigns", big, nil, 413, "body_too_large", ""},
		{"not JSON", "POST", "/v1/campaigns", `source=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
		{"invalid campaign: bad id", "POST", "/v1/campaigns", map[string]any{"source": "version: 1\nid: Not Valid\nactivities: []\n"}, nil, 422, "invalid_campaign", "$.id"},
		{"invalid campaign: YAML syntax", "POST", "/v1/campaigns", map[string]any{"source": "version: 1\nid: [x\n"}, nil, 422, "invalid_campaign", "$"},
		{"invalid campaign: not an object", "POST", "/v1/campaigns", `{"campaign": [1]}`, nil, 400, "invalid_type", "$.campaign"},
		{"invalid campaign: no document", "POST", "/v1/campaigns", map[string]any{}, nil, 400, "invalid_request", "$.source"},
		{"invalid campaign id in the URL", "GET", "/v1/campaigns/Bad_Id", nil, nil, 400, "invalid_id", ""},
		{"campaign id too long", "GET", "/v1/campaigns/" + strings.Repeat("a", 65), nil, nil, 400, "invalid_id", ""},
		{"unknown campaign", "GET", "/v1/campaigns/nope", nil, nil, 404, "not_found", ""},
		{"invalid run id", "GET", "/v1/runs/a%20b", nil, nil, 400, "invalid_id", ""},
		{"wrong parameter type", "POST", "/v1/campaigns/flow-only/trigger", map[string]any{"params": map[string]any{"limit": "many"}}, nil, 400, "invalid_parameters", "$.params.limit"},
		{"unknown parameter", "POST", "/v1/campaigns/flow-only/trigger", map[string]any{"params": map[string]any{"regoin": "FR"}}, nil, 400, "invalid_parameters", "$.params.regoin"},
		{"bad Idempotency-Key", "POST", "/v1/campaigns/flow-only/trigger", map[string]any{}, []string{"Idempotency-Key", "has space"}, 400, "invalid_request", ""},
		{"bad wait", "POST", "/v1/campaigns/flow-only/trigger?wait=soon", map[string]any{}, []string{"Idempotency-Key", "w1"}, 400, "invalid_request", "query.wait"},
		{"bad limit", "GET", "/v1/campaigns/flow-only/runs?limit=0", nil, nil, 400, "invalid_request", "query.limit"},
		{"method not allowed", "PATCH", "/v1/campaigns/flow-only", nil, nil, 405, "method_not_allowed", ""},
		{"unknown route", "GET", "/v2/nothing", nil, nil, 404, "not_found", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			r := e.do(c.method, c.path, c.body, c.hdr...)
			if r.status != c.status || r.errCode() != c.code || (c.path2 != "" && r.errPath() != c.path2) {
				t.Fatalf("got %d %s path %q, want %d %s path %q: %s", r.status, r.errCode(), r.errPath(), c.status, c.code, c.path2, r.raw)
			}
			if r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("content type %q", r.header.Get("Content-Type"))
			}
			if msg, _ := r.body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Fatalf("no message: %s", r.raw)
			}
		})
	}
}

func TestIdempotencyAndInterval(t *testing.T) {
	e := published(t, time.Hour)
	first := e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger", map[string]any{"params": map[string]any{"region": "FR"}}, "Idempotency-Key", "abc-1"), 202, "trigger")
	id := first.str("id")
	// Replayed key: the same run, not a new one, not refused by the interval.
	for range 3 {
		again := e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger", map[string]any{"params": map[string]any{"region": "FR"}}, "Idempotency-Key", "abc-1"), 200, "replay")
		if again.str("id") != id || again.body["replayed"] != true {
			t.Fatalf("replay: %s", again.raw)
		}
	}
	// Too soon: 429 with Retry-After.
	soon := e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger", map[string]any{}), 429, "too soon")
	ra, err := strconv.Atoi(soon.header.Get("Retry-After"))
	if soon.errCode() != "too_soon" || err != nil || ra < 3500 || ra > 3600 {
		t.Fatalf("429: Retry-After %q: %s", soon.header.Get("Retry-After"), soon.raw)
	}
	e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger", map[string]any{}, "Idempotency-Key", "abc-2"), 429, "a new key is not a replay")
	runs := e.expect(e.do("GET", "/v1/campaigns/flow-only/runs", nil), 200, "runs")
	if n := len(runs.body["runs"].([]any)); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, time.Hour)
	for _, h := range [][]string{
		{"Authorization", ""},
		{"Authorization", "Bearer wrong-token"},
		{"Authorization", "Bearer " + token + "x"},
		{"Authorization", "Basic " + token},
		{"Authorization", token},
	} {
		for _, p := range []string{"/v1/campaigns", "/openapi.json", "/v1/audiences", "/v1/runs/x"} {
			r := e.do("GET", p, nil, h...)
			if r.status != 401 || r.errCode() != "unauthorized" || r.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("%s with %q: %d %s", p, h[1], r.status, r.raw)
			}
		}
		if r := e.do("POST", "/v1/campaigns", map[string]any{"source": source(t)}, h...); r.status != 401 {
			t.Fatalf("create with %q: %d", h[1], r.status)
		}
	}
	e.expect(e.do("GET", "/v1/campaigns", nil, "Authorization", "bearer "+token), 200, "scheme is case-insensitive")
	// Unsubscribe needs no token.
	res, _ := http.Get(e.srv.URL + "/unsubscribe/" + unsubscribe.Sign(secret, unsubscribe.Claims{Channel: "email", Address: "a@b.c"}))
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("unsubscribe: %d", res.StatusCode)
	}
	// No authorizer configured: everything protected is refused.
	h := api.New(api.Options{})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/v1/campaigns", nil)
	req.Header.Set("Authorization", "Bearer ")
	h.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Fatalf("no authorizer: %d", rec.Code)
	}
}

// failing is a store whose reads fail with an error text that must not reach clients.
type failing struct{ api.Store }

func (failing) ListCampaigns(context.Context) ([]state.Campaign, error) {
	return nil, errors.New(`SELECT * FROM campaigns WHERE secret = 'x': connection refused`)
}

func TestNoLeaksInErrorsOrLogs(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, time.Hour)
	h := api.New(api.Options{Store: failing{e.l.State}, Authorize: api.BearerToken(token), UnsubscribeSecret: secret,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/v1/campaigns", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	h.ServeHTTP(rec, req)
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "SELECT") || !strings.Contains(rec.Body.String(), `"code":"internal"`) {
		t.Fatalf("500: %s", rec.Body.String())
	}
	if !strings.Contains(logs.String(), "SELECT") {
		t.Fatal("the cause belongs in the server log")
	}
	// The unsubscribe token carries an address: neither it nor the URL is logged.
	logs.Reset()
	tok := unsubscribe.Sign(secret, unsubscribe.Claims{Channel: "email", Address: "private.person@example.com"})
	for _, m := range []string{"GET", "POST"} {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/unsubscribe/"+tok, strings.NewReader("List-Unsubscribe=One-Click")))
		if rec.Code != 200 {
			t.Fatalf("%s unsubscribe: %d %s", m, rec.Code, rec.Body.String())
		}
	}
	if strings.Contains(logs.String(), "private.person") || strings.Contains(logs.String(), tok[:20]) || !strings.Contains(logs.String(), "POST /unsubscribe/{token}") {
		t.Fatalf("logs: %s", logs.String())
	}
}
