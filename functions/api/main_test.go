package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/console/oidctest"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
)

const domain = "abcdef1234.execute-api.eu-west-1.amazonaws.com"

// invoke sends one HTTP API (payload 2.0) event through the function's
// handler, as API Gateway does.
func invoke(t *testing.T, fn func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error),
	method, target string, cookies []string, form url.Values) events.APIGatewayV2HTTPResponse {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "ANY " + path, RawPath: path, RawQueryString: query, Cookies: cookies,
		Headers: map[string]string{"x-forwarded-proto": "https", "host": domain}}
	ev.RequestContext.DomainName = domain
	ev.RequestContext.HTTP.Method = method
	if form != nil {
		ev.Body = form.Encode()
		ev.Headers["content-type"] = "application/x-www-form-urlencoded"
		ev.Headers["origin"] = "https://" + domain
	}
	res, err := fn(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// cookie returns the name=value of the cookie name the response sets, and
// the whole Set-Cookie line.
func cookie(res events.APIGatewayV2HTTPResponse, name string) (string, string) {
	for _, c := range res.Cookies {
		if strings.HasPrefix(c, name+"=") {
			return strings.SplitN(c, ";", 2)[0], c
		}
	}
	return "", ""
}

// On AWS the function serves the console through API Gateway: a Cognito
// (OIDC) login ends in a Secure, HttpOnly, SameSite=Strict session; pages
// and assets come with their content type and CSP; the console reaches the
// API in-process; logout ends the session.
func TestConsoleThroughAPIGateway(t *testing.T) {
	p := oidctest.New(t, time.Now())
	var apiSeen []string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiSeen = append(apiSeen, r.Method+" "+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/campaigns" {
			w.Write([]byte(`{"campaigns":[]}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"code":"not_found","message":"no such thing"}}`))
	})
	store, err := boltstate.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := lambdafn.Config{UnsubscribeSecret: strings.Repeat("s", 48), ConsoleIssuer: p.URL, ConsoleClientID: p.ClientID}
	h, err := consoleFor(cfg, api, store)
	if err != nil {
		t.Fatal(err)
	}
	fn := lambdafn.HTTP(h)

	// Without a session: the login page (public), the stylesheet, a page
	// sends to the login page, the script too.
	res := invoke(t, fn, "GET", "/login", nil, nil)
	if res.StatusCode != 200 || res.Headers["Content-Type"] != "text/html; charset=utf-8" || !strings.Contains(res.Body, `id="login-oidc"`) {
		t.Errorf("GET /login: %d %s\n%s", res.StatusCode, res.Headers["Content-Type"], res.Body)
	}
	res = invoke(t, fn, "GET", "/assets/console.css", nil, nil)
	if res.StatusCode != 200 || res.Headers["Content-Type"] != "text/css; charset=utf-8" || res.IsBase64Encoded || !strings.Contains(res.Body, "body {") {
		t.Errorf("GET /assets/console.css: %d %v", res.StatusCode, res.Headers)
	}
	for _, path := range []string{"/", "/assets/console.js"} {
		if res := invoke(t, fn, "GET", path, nil, nil); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Headers["Location"], "/login?next=") {
			t.Errorf("GET %s without a session: %d %v", path, res.StatusCode, res.Headers)
		}
	}

	// Login: to the provider and back to the callback on the API's domain.
	session := login(t, fn, p)

	// A page and an asset with the session.
	apiSeen = nil
	res = invoke(t, fn, "GET", "/", []string{session}, nil)
	csp := res.Headers["Content-Security-Policy"]
	if res.StatusCode != 200 || res.Headers["Content-Type"] != "text/html; charset=utf-8" || !strings.Contains(res.Body, `<table id="campaigns">`) {
		t.Fatalf("GET /: %d %v\n%s", res.StatusCode, res.Headers, res.Body)
	}
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("GET /: CSP %q lacks %s", csp, want)
		}
	}
	if len(apiSeen) == 0 || apiSeen[0] != "GET /v1/campaigns" {
		t.Errorf("the list page asked the API %v", apiSeen)
	}
	res = invoke(t, fn, "GET", "/assets/console.js", []string{session}, nil)
	if res.StatusCode != 200 || res.Headers["Content-Type"] != "text/javascript; charset=utf-8" || !strings.Contains(res.Headers["Content-Security-Policy"], "script-src 'self'") || res.Headers["X-Content-Type-Options"] != "nosniff" {
		t.Errorf("GET /assets/console.js: %d %v", res.StatusCode, res.Headers)
	}

	// The API's routes are the API's (the gateway's authorizer guards them).
	apiSeen = nil
	if res := invoke(t, fn, "GET", "/v1/campaigns", nil, nil); res.StatusCode != 200 || len(apiSeen) != 1 {
		t.Errorf("GET /v1/campaigns: %d, API saw %v", res.StatusCode, apiSeen)
	}

	// No token login; logout (same origin, the session's CSRF token) ends the session.
	if res := invoke(t, fn, "POST", "/login", nil, url.Values{"token": {""}}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("token login: %d, want 401", res.StatusCode)
	}
	csrf := strings.SplitN(strings.SplitN(invoke(t, fn, "GET", "/", []string{session}, nil).Body, `name="csrf" value="`, 2)[1], `"`, 2)[0]
	if res := invoke(t, fn, "POST", "/logout", []string{session}, url.Values{"csrf": {csrf}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d %s", res.StatusCode, res.Body)
	}
	if res := invoke(t, fn, "GET", "/", []string{session}, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d, want a redirect to the login page", res.StatusCode)
	}
}

// login logs in through the function with the provider p and returns the
// session cookie (name=value), checking its attributes.
func login(t *testing.T, fn func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error), p *oidctest.Provider) string {
	t.Helper()
	res := invoke(t, fn, "GET", "/login/start?next=%2F", nil, nil)
	flow, line := cookie(res, "stepwise_login")
	if res.StatusCode != http.StatusFound || !strings.Contains(line, "Secure") || !strings.Contains(line, "SameSite=Lax") {
		t.Fatalf("login start: %d %q", res.StatusCode, line)
	}
	authz, _ := url.Parse(res.Headers["Location"])
	if got := authz.Query().Get("redirect_uri"); got != "https://"+domain+"/login/callback" {
		t.Errorf("redirect_uri %q, want the API's own callback", got)
	}
	nc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := nc.Get(authz.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, _ := url.Parse(resp.Header.Get("Location"))
	res = invoke(t, fn, "GET", cb.Path+"?"+cb.RawQuery, []string{flow}, nil)
	session, line := cookie(res, "stepwise_session")
	if res.StatusCode != 200 || session == "" {
		t.Fatalf("callback: %d %v\n%s", res.StatusCode, res.Cookies, res.Body)
	}
	for _, want := range []string{"HttpOnly", "Secure", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(line, want) {
			t.Errorf("session cookie %q lacks %s", line, want)
		}
	}

	return session
}

// After the unsubscribe secret is rotated, sessions sealed with its previous
// value still open; without the previous value they do not.
func TestConsoleSessionsAcrossRotation(t *testing.T) {
	p := oidctest.New(t, time.Now())
	store, err := boltstate.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fnWith := func(current, previous string) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		cfg := lambdafn.Config{UnsubscribeSecret: current, UnsubscribePrevious: previous, ConsoleIssuer: p.URL, ConsoleClientID: p.ClientID}
		h, err := consoleFor(cfg, http.NotFoundHandler(), store)
		if err != nil {
			t.Fatal(err)
		}
		return lambdafn.HTTP(h)
	}
	old, next := strings.Repeat("o", 48), strings.Repeat("n", 48)
	session := login(t, fnWith(old, ""), p)
	if res := invoke(t, fnWith(next, old), "GET", "/assets/console.js", []string{session}, nil); res.StatusCode != 200 {
		t.Errorf("after rotation, with the previous value: %d, want 200", res.StatusCode)
	}
	if res := invoke(t, fnWith(next, ""), "GET", "/assets/console.js", []string{session}, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after rotation, without the previous value: %d, want a redirect to the login page", res.StatusCode)
	}
}
