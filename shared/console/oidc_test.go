package console_test

import (
	"crypto/rand"
	"crypto/rsa"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/console"
	"github.com/stepwise-run/stepwise/shared/console/oidctest"
)

// oidcConsole is a console that logs in with p, over an API that knows nothing.
func oidcConsole(t *testing.T, p *oidctest.Provider, now time.Time, o console.Options) *httptest.Server {
	t.Helper()
	o.API = http.NotFoundHandler()
	o.Now = func() time.Time { return now }
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.OIDC == nil {
		o.OIDC = &console.OIDC{Issuer: p.URL, ClientID: p.ClientID}
	}
	c, err := console.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(c)
	t.Cleanup(hs.Close)
	return hs
}

// oidcLogin walks a browser's way through a login: the console's start, the
// provider's authorization endpoint, the console's callback. It returns the
// callback's answer and body.
func oidcLogin(t *testing.T, c *http.Client, base, next string) (*http.Response, string) {
	t.Helper()
	resp, _ := do(t, c, "GET", base+"/login/start?next="+url.QueryEscape(next), "", nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login start: %d", resp.StatusCode)
	}
	flow := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"stepwise_login=", "Path=/login/callback", "HttpOnly", "SameSite=Lax", "Max-Age=600"} {
		if !strings.Contains(flow, want) {
			t.Errorf("flow cookie %q lacks %s", flow, want)
		}
	}
	resp, body := do(t, c, "GET", resp.Header.Get("Location"), "", nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	cb := resp.Header.Get("Location")
	if !strings.HasPrefix(cb, base+"/login/callback?") {
		t.Fatalf("the provider sends the browser to %s, want the console's callback", cb)
	}
	return do(t, c, "GET", cb, "", nil)
}

var oidcNow = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

// A good ID token logs in: a Strict session cookie, a page that moves on to
// the page asked for, the console's pages, logout.
func TestOIDCLogin(t *testing.T) {
	p := oidctest.New(t, oidcNow)
	hs := oidcConsole(t, p, oidcNow, console.Options{})
	c := client()

	resp, page := do(t, c, "GET", hs.URL+"/campaigns/winback-q4", "", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a page without a session: %d", resp.StatusCode)
	}
	_, page = do(t, c, "GET", hs.URL+resp.Header.Get("Location"), "", nil)
	if !strings.Contains(page, `href="/login/start?next=%2fcampaigns%2fwinback-q4"`) || strings.Contains(page, `name="token"`) {
		t.Errorf("the login page should offer the provider, not the token:\n%s", page)
	}
	if resp, _ := do(t, c, "POST", hs.URL+"/login", hs.URL, url.Values{"token": {""}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("token login with OIDC on: %d, want 401", resp.StatusCode)
	}

	resp, page = oidcLogin(t, c, hs.URL, "/campaigns/winback-q4")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("callback: %d\n%s", resp.StatusCode, page)
	}
	var session string
	for _, ck := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(ck, "stepwise_session=") {
			session = ck
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"} {
		if !strings.Contains(session, want) {
			t.Errorf("session cookie %q lacks %s", session, want)
		}
	}
	if !strings.Contains(page, `<meta http-equiv="refresh" content="0;url=/campaigns/winback-q4">`) || !strings.Contains(page, `href="/campaigns/winback-q4"`) {
		t.Errorf("the callback's page should move on to the page asked for:\n%s", page)
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("callback CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
	resp, page = do(t, c, "GET", hs.URL+"/", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `action="/logout"`) {
		t.Fatalf("after login: %d\n%s", resp.StatusCode, page)
	}
	csrf := csrfRe.FindStringSubmatch(page)[1]

	// The callback is good once: the flow cookie is gone, a replay is refused.
	if resp, _ := do(t, c, "GET", hs.URL+"/login/callback?code=code-x&state=y", "", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a callback without a login in progress: %d, want 400", resp.StatusCode)
	}
	if resp, _ := do(t, c, "POST", hs.URL+"/logout", hs.URL, url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("logout: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := do(t, c, "GET", hs.URL+"/", "", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d, want a redirect to the login page", resp.StatusCode)
	}
}

// ID tokens that are not for this console, not from the issuer, not of this
// login, expired or not signed by the issuer's key are refused; so is a
// callback whose state is not the login's.
func TestOIDCRefusesBadTokens(t *testing.T) {
	p := oidctest.New(t, oidcNow)
	hs := oidcConsole(t, p, oidcNow, console.Options{})
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		claims func(map[string]any)
		signer *rsa.PrivateKey
	}{
		{"good", nil, nil},
		{"wrong audience", func(c map[string]any) { c["aud"] = "another-client" }, nil},
		{"wrong issuer", func(c map[string]any) { c["iss"] = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other" }, nil},
		{"wrong nonce", func(c map[string]any) { c["nonce"] = "replayed" }, nil},
		{"no nonce", func(c map[string]any) { delete(c, "nonce") }, nil},
		{"expired", func(c map[string]any) { c["exp"] = oidcNow.Add(-time.Minute).Unix() }, nil},
		{"access token", func(c map[string]any) { c["token_use"] = "access" }, nil},
		{"issued to another party", func(c map[string]any) { c["aud"] = []string{p.ClientID, "x"}; c["azp"] = "x" }, nil},
		{"bad signature", nil, other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.SetToken(tc.claims, tc.signer)
			c := client()
			resp, page := oidcLogin(t, c, hs.URL, "/")
			if tc.name == "good" {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("good token: %d %s", resp.StatusCode, page)
				}
				return
			}
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "ID token is not valid") {
				t.Errorf("callback: %d, want 401:\n%s", resp.StatusCode, page)
			}
			if strings.Contains(resp.Header.Get("Set-Cookie"), "stepwise_session=") && !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=0") {
				t.Errorf("a session cookie was set: %s", resp.Header.Values("Set-Cookie"))
			}
			if resp, _ := do(t, c, "GET", hs.URL+"/", "", nil); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("after a refused login: %d, want a redirect to the login page", resp.StatusCode)
			}
		})
	}

	// A callback whose state is not the flow cookie's (a code injected from
	// another login) is refused before any exchange.
	p.SetToken(nil, nil)
	before := p.Exchanges()
	c := client()
	resp, _ := do(t, c, "GET", hs.URL+"/login/start", "", nil)
	authz, _ := url.Parse(resp.Header.Get("Location"))
	q := authz.Query()
	q.Set("state", "attacker-state-0123")
	authz.RawQuery = q.Encode()
	resp, _ = do(t, c, "GET", authz.String(), "", nil)
	if resp, page := do(t, c, "GET", resp.Header.Get("Location"), "", nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "does not match") {
		t.Errorf("callback with another state: %d, want 400\n%s", resp.StatusCode, page)
	}
	if p.Exchanges() != before {
		t.Errorf("the code of a mismatched state was exchanged")
	}
}

// With the hosted UI's domain, logging out goes on to the provider's logout
// endpoint, which the CSP lets the logout form reach.
func TestOIDCLogoutAtProvider(t *testing.T) {
	p := oidctest.New(t, oidcNow)
	hs := oidcConsole(t, p, oidcNow, console.Options{OIDC: &console.OIDC{Issuer: p.URL, ClientID: p.ClientID, Domain: "stepwise.auth.eu-west-1.amazoncognito.com"}})
	c := client()
	oidcLogin(t, c, hs.URL, "/")
	resp, page := do(t, c, "GET", hs.URL+"/", "", nil)
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "form-action 'self' https://stepwise.auth.eu-west-1.amazoncognito.com;") {
		t.Errorf("CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
	resp, _ = do(t, c, "POST", hs.URL+"/logout", hs.URL, url.Values{"csrf": {csrfRe.FindStringSubmatch(page)[1]}})
	want := "https://stepwise.auth.eu-west-1.amazoncognito.com/logout?client_id=console-client&logout_uri=" + url.QueryEscape(hs.URL+"/login")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
		t.Errorf("logout: %d to %q, want %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

func TestOIDCOptions(t *testing.T) {
	for _, tc := range []struct {
		o    console.OIDC
		want string
	}{
		{console.OIDC{Issuer: "http://idp.example.com", ClientID: "c"}, "is not https"},
		{console.OIDC{Issuer: "cognito-idp", ClientID: "c"}, "not an absolute URL"},
		{console.OIDC{Issuer: "https://idp.example.com"}, "client id is empty"},
		{console.OIDC{Issuer: "https://idp.example.com", ClientID: "c", Domain: "https://x.example.com/path"}, "not a host name"},
	} {
		_, err := console.Open(console.Options{API: http.NotFoundHandler(), OIDC: &tc.o})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
