package console_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/console"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
)

// instance is one console process over a run-state store in home: what
// `stepwise serve` or one Lambda instance runs.
func instance(t *testing.T, store console.Revocations, now *time.Time, secrets ...string) *httptest.Server {
	t.Helper()
	var keys [][]byte
	for _, s := range secrets {
		keys = append(keys, []byte(s))
	}
	c, err := console.Open(console.Options{API: http.NotFoundHandler(), Token: token, SessionSecrets: keys, Revoked: store,
		Now: func() time.Time { return *now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(c)
	t.Cleanup(hs.Close)
	return hs
}

// get asks base for / with the session cookie value (no jar: the cookie is
// carried from one instance to the next by hand).
func get(t *testing.T, base, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.AddCookie(&http.Cookie{Name: "stepwise_session", Value: cookie})
	resp, err := client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func sessionCookie(t *testing.T, resp *http.Response) string {
	t.Helper()
	for _, ck := range resp.Cookies() {
		if ck.Name == "stepwise_session" && ck.MaxAge > 0 {
			return ck.Value
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header.Values("Set-Cookie"))
	return ""
}

// A session survives a restart and works on every instance that holds the
// secret; logging out on one ends it on all, after a restart too; sessions
// expire; another secret opens none; a rotated secret keeps the old sessions.
func TestSessionsSurviveRestarts(t *testing.T) {
	home := t.TempDir()
	store, err := boltstate.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	const secret, next = "first-secret-0123456789abcdef", "second-secret-0123456789abcdef"
	a := instance(t, store, &now, secret)
	c := client()
	resp, _ := do(t, c, "POST", a.URL+"/login", a.URL, url.Values{"token": {token}})
	ck := sessionCookie(t, resp)
	if strings.Contains(ck, token) || strings.Contains(ck, "csrf") {
		t.Errorf("the cookie shows what it holds: %s", ck)
	}

	// Another instance (a restart, another Lambda), same secret and store.
	a.Close()
	store.Close()
	if store, err = boltstate.Open(home); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b := instance(t, store, &now, secret)
	if s := get(t, b.URL, ck); s != http.StatusOK {
		t.Fatalf("the session after a restart: %d, want 200", s)
	}
	// Its CSRF token came with it.
	req, _ := http.NewRequest("GET", b.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: "stepwise_session", Value: ck})
	resp, _ = client().Do(req)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := csrfRe.FindStringSubmatch(string(page))[1]

	if s := get(t, instance(t, store, &now, "another-secret-0123456789").URL, ck); s != http.StatusSeeOther {
		t.Errorf("an instance with another secret: %d, want a redirect to the login page", s)
	}
	if s := get(t, b.URL, ck[:len(ck)-2]+"AA"); s != http.StatusSeeOther {
		t.Errorf("an altered cookie: %d, want a redirect to the login page", s)
	}
	// Rotation: the new secret first, the old one still opens.
	rotated := instance(t, store, &now, next, secret)
	if s := get(t, rotated.URL, ck); s != http.StatusOK {
		t.Errorf("after rotation, an old session: %d, want 200", s)
	}
	resp, _ = do(t, client(), "POST", rotated.URL+"/login", rotated.URL, url.Values{"token": {token}})
	fresh := sessionCookie(t, resp)
	if kid := func(s string) string { return s[:strings.Index(s, ".")] }; kid(fresh) == kid(ck) {
		t.Errorf("a new session is sealed with the old key %s", kid(ck))
	}
	if s := get(t, instance(t, store, &now, next).URL, fresh); s != http.StatusOK {
		t.Errorf("the new secret alone opens a new session: %d", s)
	}

	// Logout on b ends the session on a new instance too.
	form := url.Values{"csrf": {csrf}}
	req, _ = http.NewRequest("POST", b.URL+"/logout", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.URL)
	req.AddCookie(&http.Cookie{Name: "stepwise_session", Value: ck})
	if resp, err := client().Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %v %v", resp, err)
	}
	for _, base := range []string{b.URL, instance(t, store, &now, secret).URL, rotated.URL} {
		if s := get(t, base, ck); s != http.StatusSeeOther {
			t.Errorf("%s after logout: %d, want a redirect to the login page", base, s)
		}
	}
	if s := get(t, rotated.URL, fresh); s != http.StatusOK {
		t.Errorf("another session after a logout: %d, want 200", s)
	}

	// Eight hours later the session has expired.
	now = now.Add(8 * time.Hour)
	if s := get(t, rotated.URL, fresh); s != http.StatusSeeOther {
		t.Errorf("an expired session: %d, want a redirect to the login page", s)
	}
}

func TestSessionSecretsNeedAStore(t *testing.T) {
	for _, tc := range []struct {
		o    console.Options
		want string
	}{
		{console.Options{SessionSecrets: [][]byte{[]byte("0123456789abcdef0")}}, "need Revoked"},
		{console.Options{SessionSecrets: [][]byte{[]byte("short")}}, "session secret 1 has 5 bytes"},
	} {
		tc.o.API = http.NotFoundHandler()
		if _, err := console.Open(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
	}
}

// The console serves its own paths and hands every other to the API.
func TestServes(t *testing.T) {
	for p, want := range map[string]bool{"/": true, "/login": true, "/login/callback": true, "/login/start": true, "/logout": true,
		"/assets/console.css": true, "/campaigns/winback-q4": true, "/campaigns": true, "/ui/runs/r1": true,
		"/v1/campaigns": false, "/loginx": false, "/logout/x": false, "/unsubscribe/t": false, "/assetsx": false, "": false} {
		if got := console.Serves(p); got != want {
			t.Errorf("Serves(%q) = %v, want %v", p, got, want)
		}
	}
}
