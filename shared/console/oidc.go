package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDC configures login with an OpenID Connect provider (on AWS, a Cognito
// user pool's hosted UI): the authorization code flow with PKCE (S256), the
// code exchanged at the provider's token endpoint by the server, the ID
// token's signature checked against the issuer's JWKS, and its issuer,
// audience, expiry and nonce. The endpoints come from the issuer's discovery
// document, read at the first login.
type OIDC struct {
	// Issuer is the provider's issuer URL; Cognito's is
	// https://cognito-idp.REGION.amazonaws.com/POOL_ID.
	Issuer string
	// ClientID is the app client's id: the ID token's audience.
	ClientID string
	// ClientSecret is the app client's secret; empty for a public client
	// (PKCE protects the code).
	ClientSecret string
	// Domain is the hosted UI's domain (AUTH.auth.REGION.amazoncognito.com
	// or a custom one). With it, logging out of the console also ends the
	// hosted UI's session (Cognito's /logout, back to /login here);
	// without it, the next login may pass without a password.
	Domain string
	// RedirectURL is the callback registered with the app client; default
	// the request's own origin + /login/callback.
	RedirectURL string
	// Scopes default to openid and email.
	Scopes []string
	// HTTPClient reaches the provider; default one with a 10 s timeout.
	HTTPClient *http.Client
}

const (
	flowCookie = "stepwise_login"
	flowPath   = "/login/callback"
	flowTTL    = 10 * time.Minute
)

// flow is a login in progress, sealed in the flow cookie between the
// redirect to the provider and its callback.
type flow struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"` // PKCE
	Next     string `json:"next"`
	Expires  int64  `json:"exp"`
}

type oidcClient struct {
	cfg OIDC
	now func() time.Time

	mu       sync.Mutex
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

func newOIDC(cfg OIDC, now func() time.Time) (*oidcClient, error) {
	if err := checkURL("issuer", cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		return nil, errors.New("console: OIDC client id is empty")
	}
	if cfg.RedirectURL != "" {
		if err := checkURL("redirect URL", cfg.RedirectURL); err != nil {
			return nil, err
		}
	}
	if d := strings.TrimPrefix(cfg.Domain, "https://"); d != "" {
		if strings.ContainsAny(d, "/?#@ ") {
			return nil, fmt.Errorf("console: OIDC domain %q is not a host name (e.g. stepwise.auth.eu-west-1.amazoncognito.com)", cfg.Domain)
		}
		cfg.Domain = d
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "email"}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &oidcClient{cfg: cfg, now: now}, nil
}

// checkURL accepts https URLs, and http ones on a loopback host (a local
// provider).
func checkURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("console: OIDC %s %q is not an absolute URL", what, s)
	}
	if u.Scheme == "https" {
		return nil
	}
	if ip := net.ParseIP(u.Hostname()); u.Scheme == "http" && (u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("console: OIDC %s %q is not https", what, s)
}

func (o *oidcClient) ctx(ctx context.Context) context.Context {
	return context.WithValue(oidc.ClientContext(ctx, o.cfg.HTTPClient), oauth2.HTTPClient, o.cfg.HTTPClient)
}

// discover reads the provider's discovery document once (a failure is
// retried at the next login).
func (o *oidcClient) discover(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider == nil {
		p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("discovery of %s: %w", o.cfg.Issuer, err)
		}
		// The key set outlives the request: it caches the JWKS and refetches
		// it when a token names a key it has not seen (key rotation).
		o.provider = p
		o.verifier = p.VerifierContext(o.ctx(context.Background()), &oidc.Config{ClientID: o.cfg.ClientID, Now: o.now, SupportedSigningAlgs: []string{oidc.RS256}})
	}
	return o.provider, o.verifier, nil
}

func (o *oidcClient) oauth2(r *http.Request, p *oidc.Provider) *oauth2.Config {
	ep := p.Endpoint()
	if o.cfg.ClientSecret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams // a public client: client_id in the body
	}
	redirect := o.cfg.RedirectURL
	if redirect == "" {
		redirect = scheme(r) + "://" + r.Host + flowPath
	}
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: ep, RedirectURL: redirect, Scopes: o.cfg.Scopes}
}

// logoutOrigin is the origin of the provider's logout endpoint, "" without one.
func (o *oidcClient) logoutOrigin() string {
	if o.cfg.Domain == "" {
		return ""
	}
	return "https://" + o.cfg.Domain
}

// providerLogout is where logging out goes on to: Cognito's logout endpoint,
// which ends the hosted UI's session and comes back to /login.
func (c *Console) providerLogout(r *http.Request) string {
	if c.oidc == nil || c.oidc.cfg.Domain == "" {
		return ""
	}
	back := scheme(r) + "://" + r.Host + "/login"
	if c.oidc.cfg.RedirectURL != "" {
		u, _ := url.Parse(c.oidc.cfg.RedirectURL)
		back = u.Scheme + "://" + u.Host + "/login"
	}
	return c.oidc.logoutOrigin() + "/logout?" + url.Values{"client_id": {c.oidc.cfg.ClientID}, "logout_uri": {back}}.Encode()
}

func (c *Console) loginRoutes() {
	c.mux.HandleFunc("GET /login/start", c.loginStart)
	c.mux.HandleFunc("GET "+flowPath, c.loginCallback)
}

// loginStart sends the browser to the provider with a fresh state, nonce and
// PKCE verifier, kept in the sealed flow cookie.
//
// The flow cookie is SameSite=Lax, not Strict: the provider's redirect back
// to the callback is a cross-site navigation, on which browsers send Lax
// cookies (top-level GET) but never Strict ones. It holds no session, only
// this login's secrets, for ten minutes, on the callback's path.
func (c *Console) loginStart(w http.ResponseWriter, r *http.Request) {
	if c.oidc == nil {
		http.NotFound(w, r)
		return
	}
	p, _, err := c.oidc.discover(r.Context())
	if err != nil {
		c.loginFailed(w, r, http.StatusBadGateway, "The identity provider cannot be reached; try again.", err)
		return
	}
	f := flow{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(r.URL.Query().Get("next")), Expires: c.o.Now().Add(flowTTL).Unix()}
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: c.sessions.seal(flowCookie, f), Path: flowPath, MaxAge: int(flowTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	u := c.oidc.oauth2(r, p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	http.Redirect(w, r, u, http.StatusFound)
}

// loginCallback completes a login: the state must be the flow cookie's, the
// code is exchanged with the PKCE verifier, and the ID token must verify and
// carry the flow's nonce. Then the session starts.
func (c *Console) loginCallback(w http.ResponseWriter, r *http.Request) {
	if c.oidc == nil {
		http.NotFound(w, r)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Path: flowPath, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	q := r.URL.Query()
	var f flow
	ck, err := r.Cookie(flowCookie)
	if err == nil {
		err = c.sessions.open(flowCookie, ck.Value, &f)
	}
	if err != nil || c.o.Now().Unix() >= f.Expires {
		c.loginFailed(w, r, http.StatusBadRequest, "This login expired or began in another browser: log in again.", err)
		return
	}
	if e := q.Get("error"); e != "" {
		c.loginFailed(w, r, http.StatusUnauthorized, "The identity provider refused the login ("+e+"): "+q.Get("error_description"), nil)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 || q.Get("code") == "" {
		c.loginFailed(w, r, http.StatusBadRequest, "This login's answer does not match the login that began here: log in again.", nil)
		return
	}
	p, verifier, err := c.oidc.discover(r.Context())
	if err != nil {
		c.loginFailed(w, r, http.StatusBadGateway, "The identity provider cannot be reached; try again.", err)
		return
	}
	ctx := c.oidc.ctx(r.Context())
	tok, err := c.oidc.oauth2(r, p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		c.loginFailed(w, r, http.StatusBadGateway, "The identity provider did not accept the login's code: log in again.", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		c.loginFailed(w, r, http.StatusBadGateway, "The identity provider sent no ID token (is the openid scope allowed?).", nil)
		return
	}
	subject, err := c.oidc.check(ctx, verifier, raw, f.Nonce)
	if err != nil {
		c.loginFailed(w, r, http.StatusUnauthorized, "The identity provider's ID token is not valid here.", err)
		return
	}
	value, _ := c.sessions.createFor(subject)
	c.setCookie(w, r, value, int(c.o.SessionTTL/time.Second))
	c.o.Logger.Info("console: login", "subject", subject)
	// The session cookie is SameSite=Strict, and this answer ends a
	// navigation that began on the provider's site: a redirect from here
	// would still be cross-site, and would arrive without the cookie. A page
	// of this site that moves on by itself makes a same-site navigation.
	c.render(w, http.StatusOK, "continue.html", f.Next)
}

// check verifies an ID token (signature by the issuer's JWKS, issuer,
// audience, expiry) and its nonce; it returns who it names (email, else sub).
func (o *oidcClient) check(ctx context.Context, v *oidc.IDTokenVerifier, raw, nonce string) (string, error) {
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return "", errors.New("the ID token's nonce is not this login's")
	}
	var claims struct {
		TokenUse string `json:"token_use"` // Cognito: "id" or "access"
		AZP      string `json:"azp"`
		Email    string `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil {
		return "", err
	}
	if claims.TokenUse != "" && claims.TokenUse != "id" {
		return "", fmt.Errorf("token_use is %q, not id", claims.TokenUse)
	}
	if claims.AZP != "" && claims.AZP != o.cfg.ClientID {
		return "", fmt.Errorf("the ID token was issued to %q", claims.AZP)
	}
	if claims.Email != "" {
		return claims.Email, nil
	}
	return idt.Subject, nil
}

func (c *Console) loginFailed(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	attrs := []any{"status", status}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	c.o.Logger.Warn("console: login refused", attrs...)
	c.render(w, status, "error.html", apiErr{Status: status, Message: msg})
}
