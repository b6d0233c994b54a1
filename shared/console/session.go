package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"time"
)

const cookieName = "stepwise_session"

// session is one logged-in browser: its id lives in an HttpOnly cookie, its
// CSRF token in the forms of its pages.
type session struct {
	csrf    string
	expires time.Time
}

// sessions are kept in memory: a restarted server logs everyone out.
type sessions struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]session
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, m: map[string]session{}}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) create() (string, session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for id, se := range s.m { // expired sessions go as new ones come
		if !now.Before(se.expires) {
			delete(s.m, id)
		}
	}
	id, se := randomToken(), session{csrf: randomToken(), expires: now.Add(s.ttl)}
	s.m[id] = se
	return id, se
}

func (s *sessions) get(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[id]
	if ok && !s.now().Before(se.expires) {
		delete(s.m, id)
		return session{}, false
	}
	return se, ok
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// session returns the request's live session.
func (c *Console) session(r *http.Request) (string, session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return "", session{}, false
	}
	se, ok := c.sessions.get(ck.Value)
	return ck.Value, se, ok
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// tokenOK compares a login token with the server's in constant time.
func (c *Console) tokenOK(got string) bool {
	if c.o.Token == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(c.o.Token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// sameOrigin accepts a request whose Origin (or, without one, Referer) is this
// server: what browsers send on every POST. A request with neither is refused.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		o = r.Header.Get("Referer")
	}
	if o == "" || o == "null" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return u.Scheme == scheme && u.Host == r.Host
}

// page wraps a handler that needs a session: pages without one go to the login
// page, JSON answers 401.
func (c *Console) page(h func(w http.ResponseWriter, r *http.Request, se session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, se, ok := c.session(r)
		if !ok {
			c.unauthenticated(w, r)
			return
		}
		h(w, r, se)
	}
}

func (c *Console) unauthenticated(w http.ResponseWriter, r *http.Request) {
	if isJSON(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]string{"code": "unauthorized", "message": "log in first"}})
		return
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	http.Error(w, "log in first", http.StatusUnauthorized)
}

// mutation wraps a POST handler: a session, a same-origin request and the
// session's CSRF token in the form.
func (c *Console) mutation(h func(w http.ResponseWriter, r *http.Request, se session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, se, ok := c.session(r)
		if !ok {
			c.unauthenticated(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if !sameOrigin(r) {
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		got := r.PostFormValue("csrf")
		if subtle.ConstantTimeCompare([]byte(got), []byte(se.csrf)) != 1 {
			http.Error(w, "missing or stale form token: reload the page", http.StatusForbidden)
			return
		}
		h(w, r, se)
	}
}
