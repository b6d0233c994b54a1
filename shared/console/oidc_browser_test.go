package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/stepwise-run/stepwise/shared/console"
	"github.com/stepwise-run/stepwise/shared/console/oidctest"
)

// A login with the identity provider in a real browser, with the provider on
// another site (127.0.0.1) than the console (localhost) and a sign-in page
// whose form sends the browser back, as the hosted UI does on AWS: the Lax
// flow cookie comes back on the provider's cross-site redirect, and the
// Strict session cookie set by the callback reaches the console on the
// page's own same-site navigation (a redirect from the callback would still
// be the provider's navigation, and arrive without it).
func TestBrowserOIDCLogin(t *testing.T) {
	ctx := browser(t)
	p := oidctest.New(t, oidcNow)
	p.SignInPage = true
	hs := oidcConsole(t, p, oidcNow, console.Options{})
	base := strings.Replace(hs.URL, "127.0.0.1", "localhost", 1)
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/?status=draft"),
		chromedp.WaitVisible("#login-oidc"),
		chromedp.Click("#login-oidc"),
		chromedp.WaitVisible("#signin-button"),
		chromedp.Click("#signin-button"),
		chromedp.WaitReady(`form[action="/logout"]`),
	)
	if err != nil {
		page, _ := chromedp.Run(ctx, chromedp.OuterHTML("html"))
		t.Fatalf("log in: %v\npage:\n%s", err, page)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || loc != base+"/?status=draft" {
		t.Errorf("after login the browser is at %q (%v), want the page asked for", loc, err)
	}
	if p.Exchanges() != 1 {
		t.Errorf("%d code exchanges, want 1", p.Exchanges())
	}
}
