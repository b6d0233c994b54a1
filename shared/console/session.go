package console

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

const cookieName = "stepwise_session"

// session is one logged-in browser. It lives in the browser, sealed in an
// HttpOnly cookie (sealed below): any instance of the console that holds the
// key opens it, so sessions survive restarts and are shared by every Lambda
// instance. Its CSRF token, in the forms of its pages, is sealed with it.
type session struct {
	id      string
	subject string // who logged in (OIDC); empty with the server token
	csrf    string
	expires time.Time
}

// sealedSession is what the cookie holds.
type sealedSession struct {
	ID      string `json:"id"`
	Subject string `json:"sub,omitempty"`
	CSRF    string `json:"csrf"`
	Expires int64  `json:"exp"` // Unix seconds
}

// Revocations remember logged-out sessions until they would have expired
// (state.Keys: the run-state store, DynamoDB on AWS, bbolt locally).
type Revocations interface {
	PutKey(ctx context.Context, k state.Key) (held state.Key, created bool, err error)
	GetKey(ctx context.Context, key string, now time.Time) (state.Key, error)
}

// revokedKey names a logged-out session in the revocations.
func revokedKey(id string) string { return "console/logged-out/" + id }

// sealKey is one AES-256-GCM key with its id (kid), which each sealed value names.
type sealKey struct {
	kid  string
	aead cipher.AEAD
}

// deriveKey derives the session-sealing key from a secret (HKDF-SHA256, its
// own label, so that the secret's other uses never meet this key).
func deriveKey(secret []byte) (sealKey, error) {
	k, err := hkdf.Key(sha256.New, secret, nil, "stepwise console session v1", 32)
	if err != nil {
		return sealKey{}, err
	}
	block, _ := aes.NewCipher(k)
	aead, _ := cipher.NewGCM(block)
	id := sha256.Sum256(k)
	return sealKey{kid: base64.RawURLEncoding.EncodeToString(id[:6]), aead: aead}, nil
}

// sessions seal sessions into cookie values and open them.
type sessions struct {
	ttl     time.Duration
	now     func() time.Time
	keys    []sealKey // the first seals; each opens what it sealed
	revoked Revocations
	log     *slog.Logger
}

func newSessions(o Options) (*sessions, error) {
	s := &sessions{ttl: o.SessionTTL, now: o.Now, revoked: o.Revoked, log: o.Logger}
	secrets := o.SessionSecrets
	if len(secrets) == 0 {
		// No secret: a key of this process only (a restart logs everyone out).
		secrets = [][]byte{[]byte(randomToken())}
	}
	for i, sec := range secrets {
		if len(sec) < 16 {
			return nil, fmt.Errorf("console: session secret %d has %d bytes, at least 16 are needed", i+1, len(sec))
		}
		k, err := deriveKey(sec)
		if err != nil {
			return nil, fmt.Errorf("console: session secret %d: %w", i+1, err)
		}
		s.keys = append(s.keys, k)
	}
	if s.revoked == nil {
		if len(o.SessionSecrets) > 0 {
			return nil, errors.New("console: SessionSecrets need Revoked (a durable store): a logged-out session would come back after a restart")
		}
		s.revoked = &memRevocations{m: map[string]state.Key{}}
	}
	return s, nil
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather)
	return base64.RawURLEncoding.EncodeToString(b)
}

// seal encrypts v for purpose (the cookie's name, bound as additional data:
// one kind of cookie never opens as another) as "kid.nonce+ciphertext".
func (s *sessions) seal(purpose string, v any) string {
	k := s.keys[0]
	plain, _ := json.Marshal(v)
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	out := k.aead.Seal(nonce, nonce, plain, []byte(purpose+"|"+k.kid))
	return k.kid + "." + base64.RawURLEncoding.EncodeToString(out)
}

// open decrypts a value seal made for purpose with any of the keys.
func (s *sessions) open(purpose, value string, v any) error {
	kid, data, ok := strings.Cut(value, ".")
	if !ok {
		return errors.New("not a sealed value")
	}
	for _, k := range s.keys {
		if k.kid != kid {
			continue
		}
		raw, err := base64.RawURLEncoding.DecodeString(data)
		if err != nil || len(raw) < k.aead.NonceSize() {
			return errors.New("not a sealed value")
		}
		plain, err := k.aead.Open(nil, raw[:k.aead.NonceSize()], raw[k.aead.NonceSize():], []byte(purpose+"|"+kid))
		if err != nil {
			return errors.New("sealed with another key or altered")
		}
		return json.Unmarshal(plain, v)
	}
	return fmt.Errorf("unknown key id %q", kid)
}

// create starts a session logged in with the server token.
func (s *sessions) create() (string, session) { return s.createFor("") }

// createFor starts a session for subject and returns its cookie value.
func (s *sessions) createFor(subject string) (string, session) {
	se := session{id: randomToken()[:22], subject: subject, csrf: randomToken(), expires: s.now().Add(s.ttl).UTC().Truncate(time.Second)}
	return s.seal(cookieName, sealedSession{ID: se.id, Subject: subject, CSRF: se.csrf, Expires: se.expires.Unix()}), se
}

// get opens a cookie value: a session sealed by one of the keys, not expired,
// not logged out. A store that cannot answer refuses the session.
func (s *sessions) get(ctx context.Context, value string) (session, bool) {
	var v sealedSession
	if err := s.open(cookieName, value, &v); err != nil || v.ID == "" || v.CSRF == "" {
		return session{}, false
	}
	se := session{id: v.ID, subject: v.Subject, csrf: v.CSRF, expires: time.Unix(v.Expires, 0).UTC()}
	now := s.now()
	if !now.Before(se.expires) {
		return session{}, false
	}
	_, err := s.revoked.GetKey(ctx, revokedKey(se.id), now)
	switch {
	case errors.Is(err, state.ErrNotFound):
		return se, true
	case err != nil:
		s.log.Error("console: reading logged-out sessions", "error", err.Error())
	}
	return session{}, false
}

// drop logs a session out everywhere until it would have expired.
func (s *sessions) drop(ctx context.Context, se session) error {
	now := s.now()
	_, _, err := s.revoked.PutKey(ctx, state.Key{Key: revokedKey(se.id), Value: "logged out", CreatedAt: now, ExpiresAt: se.expires})
	return err
}

// memRevocations is Revocations in memory, for a console whose sessions end
// with its process anyway.
type memRevocations struct {
	mu sync.Mutex
	m  map[string]state.Key
}

func (m *memRevocations) PutKey(_ context.Context, k state.Key) (state.Key, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, old := range m.m { // expired entries go as new ones come
		if !old.Live(k.CreatedAt) {
			delete(m.m, name)
		}
	}
	if old, ok := m.m[k.Key]; ok {
		return old, false, nil
	}
	m.m[k.Key] = k
	return k, true, nil
}

func (m *memRevocations) GetKey(_ context.Context, key string, now time.Time) (state.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.m[key]; ok && k.Live(now) {
		return k, nil
	}
	return state.Key{}, state.ErrNotFound
}

// session returns the request's live session.
func (c *Console) session(r *http.Request) (string, session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return "", session{}, false
	}
	se, ok := c.sessions.get(r.Context(), ck.Value)
	return ck.Value, se, ok
}

// setCookie sets (maxAge > 0) or clears the session cookie: HttpOnly,
// SameSite=Strict, Secure over TLS.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// logout ends the session everywhere and clears its cookie; with an OIDC
// provider that has a logout endpoint, the provider's session ends too.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, se session) {
	if err := c.sessions.drop(r.Context(), se); err != nil {
		c.o.Logger.Error("console: logout", "error", err.Error())
		http.Error(w, "the session could not be ended; try again", http.StatusServiceUnavailable)
		return
	}
	c.setCookie(w, r, "", -1)
	if u := c.providerLogout(r); u != "" {
		http.Redirect(w, r, u, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
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
	return u.Scheme == scheme(r) && u.Host == r.Host
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
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
