// Package oidctest is an OpenID Connect provider for tests: discovery, JWKS,
// authorization and token endpoints (with PKCE) on 127.0.0.1, signing RS256
// ID tokens whose claims a test may alter.
package oidctest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Provider is an OpenID Connect provider on 127.0.0.1: discovery, JWKS, an
// authorization endpoint that approves at once, and a token endpoint that
// checks the PKCE verifier and answers an RS256 ID token (SetToken alters
// the next ID tokens).
type Provider struct {
	*httptest.Server
	t        testing.TB
	Key      *rsa.PrivateKey // published in the JWKS
	ClientID string
	// SignInPage: the authorization endpoint shows a form to submit, as a
	// hosted UI does, instead of approving at once. Set it before use.
	SignInPage bool
	now        time.Time

	mu      sync.Mutex
	codes   map[string]grant
	claims  func(map[string]any)
	signer  *rsa.PrivateKey // signs ID tokens; Key unless a test swaps it
	tokenOK int             // successful exchanges
}

type grant struct {
	clientID, redirect, challenge, nonce string
}

func New(t testing.TB, now time.Time) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{t: t, Key: key, signer: key, ClientID: "console-client", now: now, codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": p.URL, "authorization_endpoint": p.URL + "/oauth2/authorize",
			"token_endpoint": p.URL + "/oauth2/token", "jwks_uri": p.URL + "/.well-known/jwks.json",
			"response_types_supported": []string{"code"}, "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]string{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	// The authorization endpoint approves at once, or, with SignInPage,
	// answers a sign-in form whose submission approves (as a hosted UI
	// does: the redirect to the callback then comes from the provider's page).
	approve := func(w http.ResponseWriter, r *http.Request, q url.Values) {
		if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || !strings.Contains(q.Get("scope"), "openid") {
			http.Error(w, "bad authorization request: "+q.Encode(), http.StatusBadRequest)
			return
		}
		code := "code-" + q.Get("state")[:8]
		p.mu.Lock()
		p.codes[code] = grant{clientID: q.Get("client_id"), redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), nonce: q.Get("nonce")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	}
	mux.HandleFunc("GET /oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		if !p.SignInPage {
			approve(w, r, r.URL.Query())
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>Sign in</title><form id="signin" method="post" action="/oauth2/authorize">`)
		for k, vs := range r.URL.Query() {
			fmt.Fprintf(w, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(vs[0]))
		}
		io.WriteString(w, `<button id="signin-button" type="submit">Sign in</button></form>`)
	})
	mux.HandleFunc("POST /oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		approve(w, r, r.PostForm)
	})
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		g, ok := p.codes[r.PostFormValue("code")]
		delete(p.codes, r.PostFormValue("code"))
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		switch {
		case !ok || r.PostFormValue("grant_type") != "authorization_code":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		case r.PostFormValue("client_id") != g.clientID || g.clientID != p.ClientID:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		case r.PostFormValue("redirect_uri") != g.redirect || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant","error_description":"PKCE or redirect_uri mismatch"}`)
			return
		}
		claims := map[string]any{"iss": p.URL, "aud": p.ClientID, "sub": "0b6a-user", "email": "ana@example.com",
			"token_use": "id", "nonce": g.nonce, "iat": p.now.Unix(), "exp": p.now.Add(time.Hour).Unix()}
		if p.claims != nil {
			p.claims(claims)
		}
		p.tokenOK++
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": p.Sign(claims)})
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

// Sign makes an RS256 JWT of claims with the signer key, named k1.
func (p *Provider) Sign(claims map[string]any) string {
	b64 := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	in := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.signer, crypto.SHA256, sum[:])
	if err != nil {
		p.t.Fatal(err)
	}
	return in + "." + b64(sig)
}

// SetToken makes the next ID tokens with claims altered by alter (nil: as
// they are) and signed by signer (nil: Key, the published one).
func (p *Provider) SetToken(alter func(map[string]any), signer *rsa.PrivateKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claims, p.signer = alter, signer
	if signer == nil {
		p.signer = p.Key
	}
}

// Exchanges is how many codes the token endpoint exchanged.
func (p *Provider) Exchanges() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenOK
}
