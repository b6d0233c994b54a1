package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// client does not follow redirects, so that tests see them.
func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, method, u, origin string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login logs c in and returns the session's CSRF token.
func login(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	resp, _ := do(t, c, "POST", base+"/login", base, url.Values{"token": {token}, "next": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	_, page := do(t, c, "GET", base+"/", "", nil)
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the list page:\n%s", page)
	}
	return m[1]
}

// No page, script or JSON that shows data without a session; the login page
// and its stylesheet excepted. The API keeps its bearer token.
func TestNothingWithoutASession(t *testing.T) {
	hs := server(t)
	c := client()
	for _, p := range []string{"/", "/campaigns/winback-q4", "/assets/console.js"} {
		resp, _ := do(t, c, "GET", hs.URL+p, "", nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Errorf("GET %s without a session: %d %s, want a redirect to /login", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for _, p := range []string{"/ui/runs/r1", "/ui/runs/r1/transitions/lapsed/out", "/ui/runs/r1/csv/lapsed/out", "/ui/runs/r1/activities/lapsed"} {
		resp, body := do(t, c, "GET", hs.URL+p, "", nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"unauthorized"`) {
			t.Errorf("GET %s without a session: %d %s, want 401 JSON", p, resp.StatusCode, body)
		}
	}
	resp, _ := do(t, c, "POST", hs.URL+"/campaigns/winback-q4/test-run", hs.URL, url.Values{})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST test-run without a session: %d, want 401", resp.StatusCode)
	}
	if resp, _ := do(t, c, "GET", hs.URL+"/v1/campaigns", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API without its token: %d, want 401", resp.StatusCode)
	}
	for _, p := range []string{"/login", "/assets/console.css"} {
		resp, _ := do(t, c, "GET", hs.URL+p, "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", p, resp.StatusCode)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %s", p, csp, want)
			}
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", p)
		}
	}
}

func TestLoginSessionAndCrossSite(t *testing.T) {
	hs := server(t)
	c := client()
	if resp, body := do(t, c, "POST", hs.URL+"/login", hs.URL, url.Values{"token": {"wrong-token-wrong-token"}}); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not the server") {
		t.Errorf("wrong token: %d", resp.StatusCode)
	}
	if resp, _ := do(t, c, "POST", hs.URL+"/login", "https://evil.example", url.Values{"token": {token}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site login: %d, want 403", resp.StatusCode)
	}
	resp, _ := do(t, c, "POST", hs.URL+"/login", hs.URL, url.Values{"token": {token}, "next": {"//evil.example/"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"stepwise_session=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("cookie %q lacks %s", ck, want)
		}
	}
	if strings.Contains(ck, token) {
		t.Errorf("the cookie carries the server token")
	}
	_, page := do(t, c, "GET", hs.URL+"/", "", nil)
	if !strings.Contains(page, "winback-q4") || strings.Contains(page, " style=") || strings.Contains(page, "<script>") {
		t.Errorf("list page: no campaign, or inline style/script:\n%s", page)
	}
	csrf := csrfRe.FindStringSubmatch(page)[1]

	// Mutations need the same origin and the session's form token.
	u := hs.URL + "/campaigns/winback-q4/test-run"
	for _, tc := range []struct {
		origin, csrf string
	}{{"https://evil.example", csrf}, {"", csrf}, {hs.URL, ""}, {hs.URL, "forged"}} {
		if resp, _ := do(t, c, "POST", u, tc.origin, url.Values{"csrf": {tc.csrf}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("test-run with origin %q csrf %q: %d, want 403", tc.origin, tc.csrf, resp.StatusCode)
		}
	}

	// A field error is shown at its field, from the API's error path.
	resp, page = do(t, c, "POST", u, hs.URL, url.Values{"csrf": {csrf}, "p.discount": {"lots"}})
	if resp.StatusCode != http.StatusBadRequest || !regexp.MustCompile(`id="p-discount"[^>]*aria-invalid="true"`).MatchString(page) ||
		!strings.Contains(page, `id="e-discount"`) {
		t.Errorf("bad parameter: %d, want 400 and the error at the field:\n%s", resp.StatusCode, page)
	}

	// The server refuses what the status does not allow; the page offers only what it allows.
	_, page = do(t, c, "GET", hs.URL+"/campaigns/winback-q4", "", nil)
	if strings.Contains(page, "/actions/archive") || !strings.Contains(page, "/actions/publish") {
		t.Errorf("a draft's page should offer publish, not archive")
	}
	resp, page = do(t, c, "POST", hs.URL+"/campaigns/winback-q4/actions/archive", hs.URL, url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "cannot archive campaign winback-q4") {
		t.Errorf("archive a draft: %d, want 409 and the API's reason:\n%s", resp.StatusCode, page)
	}

	// Logging out ends the session.
	if resp, _ := do(t, c, "POST", hs.URL+"/logout", hs.URL, url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if resp, _ := do(t, c, "GET", hs.URL+"/", "", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d, want a redirect to login", resp.StatusCode)
	}
}
