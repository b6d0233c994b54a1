// Package console is the marketers' web console: server-rendered pages over the
// API (campaigns, the canvas of a run, test runs, inspection), served beside it.
// Every piece of data comes from the API's own handler, called in-process with
// the server's token; the console adds sessions, CSRF checks and HTML.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

//go:embed assets templates
var files embed.FS

// Options configure the console.
type Options struct {
	// API is the API's handler; the console forwards to it every path it does not serve.
	API http.Handler
	// Token is the API's bearer token: what people log in with, and what the
	// console sends the API on their behalf. Empty behind API Gateway, whose
	// authorizer guards the API's routes (api.TrustGateway): no token login.
	Token string
	// SessionTTL is how long a session lasts; default 8 hours.
	SessionTTL time.Duration
	// Specs describe activities' settings in plain words; nil shows their keys.
	Specs Specs
	// LiveEvery is how often a run's live page reads the run (default 500 ms);
	// Heartbeat how often an idle stream says it is alive (default 15 s).
	LiveEvery, Heartbeat time.Duration
	Now                  func() time.Time
	Logger               *slog.Logger

	// SessionSecrets seal the session cookies (AES-256-GCM under a key
	// derived from each, of at least 16 bytes): the first seals, every one
	// opens what it sealed (the cookie names its key), so that sessions
	// survive restarts, are shared by every instance, and a secret can be
	// rotated by putting the new one first. Empty: a random key of this
	// process, so that a restart logs everyone out.
	SessionSecrets [][]byte
	// Revoked remembers logged-out sessions until they would have expired;
	// required with SessionSecrets (a store that outlives the process: the
	// run-state store). Nil without them: in memory.
	Revoked Revocations
	// OIDC logs people in with an OpenID Connect provider (a Cognito user
	// pool's hosted UI on AWS) instead of the server token.
	OIDC *OIDC
}

// Console serves the pages and forwards the rest to the API.
type Console struct {
	o        Options
	mux      *http.ServeMux
	sessions *sessions
	pages    *template.Template
	closing  chan struct{} // closed by Close: live streams end
	once     sync.Once
	csp      string
	oidc     *oidcClient
}

// Close ends the live streams (the server's shutdown waits for open
// connections: register it with http.Server.RegisterOnShutdown).
func (c *Console) Close() { c.once.Do(func() { close(c.closing) }) }

// New returns the console handler; it panics where Open fails.
func New(o Options) *Console {
	c, err := Open(o)
	if err != nil {
		panic(err)
	}
	return c
}

// Open returns the console handler, or what is wrong with o.
func Open(o Options) (*Console, error) {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 8 * time.Hour
	}
	if o.LiveEvery <= 0 {
		o.LiveEvery = 500 * time.Millisecond
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s, err := newSessions(o)
	if err != nil {
		return nil, err
	}
	c := &Console{o: o, mux: http.NewServeMux(), sessions: s, closing: make(chan struct{})}
	formAction := "'self'"
	if o.OIDC != nil {
		if c.oidc, err = newOIDC(*o.OIDC, o.Now); err != nil {
			return nil, err
		}
		if lo := c.oidc.logoutOrigin(); lo != "" {
			formAction += " " + lo // logging out goes on to the provider's logout endpoint
		}
	}
	c.csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action " + formAction + "; frame-ancestors 'none'"
	c.pages = template.Must(template.New("").Funcs(funcs).ParseFS(files, "templates/*.html"))
	c.routes()
	c.loginRoutes()
	return c, nil
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !c.ours(r.URL.Path) {
		c.o.API.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", c.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.mux.ServeHTTP(w, r)
}

// Paths are the console's paths: a path, or with a trailing slash (but "/")
// every path under it. Everything else goes to the API. On AWS each is a
// public route of the HTTP API (template.yaml; infra/template checks that
// they match): the console checks its sessions itself.
var Paths = []string{"/", "/login", "/login/", "/logout", "/assets/", "/campaigns/", "/ui/", "/reports", "/audiences"}

// Serves tells the console's paths from the API's.
func Serves(p string) bool {
	for _, c := range Paths {
		if p == c || c != "/" && strings.HasSuffix(c, "/") && (strings.HasPrefix(p, c) || p == strings.TrimSuffix(c, "/")) {
			return true
		}
	}
	return false
}

// ours tells the console's paths from the API's.
func (c *Console) ours(p string) bool { return Serves(p) }

// apiAnswer is what the API answered an internal call.
type apiAnswer struct {
	status int
	header http.Header
	body   []byte
}

// apiError is the API's error body, or a stand-in when the body is not one.
func (a apiAnswer) err() apiErr {
	var e struct {
		Error apiErr `json:"error"`
	}
	if json.Unmarshal(a.body, &e) != nil || e.Error.Message == "" {
		e.Error = apiErr{Code: "unexpected", Message: fmt.Sprintf("the API answered %d", a.status)}
	}
	e.Error.Status = a.status
	return e.Error
}

type apiErr struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Path    string `json:"path"`
	Details []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	} `json:"details"`
}

func (e apiErr) Error() string { return e.Message }

// recorder is the ResponseWriter of an internal call.
type recorder struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.buf.Write(b)
}
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}

// call asks the API, as the server's token holder, and reads the whole answer
// (API answers are bounded: pages of at most 1000 rows, one run's view).
func (c *Console) call(ctx context.Context, method, path string, q url.Values, body any) apiAnswer {
	var rd io.Reader = http.NoBody
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	u := path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return apiAnswer{status: http.StatusBadRequest, body: []byte(`{}`)}
	}
	req.RequestURI = u
	if c.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{h: http.Header{}}
	c.o.API.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return apiAnswer{status: rec.status, header: rec.h, body: rec.buf.Bytes()}
}

// get calls the API and decodes a 2xx answer into v.
func (c *Console) get(ctx context.Context, path string, q url.Values, v any) error {
	a := c.call(ctx, http.MethodGet, path, q, nil)
	if a.status/100 != 2 {
		return a.err()
	}
	return json.Unmarshal(a.body, v)
}
