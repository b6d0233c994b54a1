package console_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/console"
)

// pendingAPI answers as the API does where a proof's test run outlasts a
// request (AWS): the POST starts it (202), its proofs are not_ready until
// ready is set.
type pendingAPI struct {
	mu     sync.Mutex
	ready  bool
	posted api.ProofInput
	asked  []string // the queries of the run proofs route
}

func (a *pendingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	answer := func(status int, v any) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /v1/campaigns":
		answer(200, map[string]any{"campaigns": []any{}})
	case "GET /v1/campaigns/proofmark":
		answer(200, api.CampaignView{ID: "proofmark", Status: "draft", Source: markCampaign})
	case "POST /v1/campaigns/proofmark/proofs":
		json.NewDecoder(r.Body).Decode(&a.posted)
		w.Header().Set("Location", "/v1/runs/R1/activities/mail/proofs?sample=2")
		answer(202, api.ProofList{RunID: "R1", Activity: "mail", Proofs: []channel.Proof{}, Pending: true})
	case "GET /v1/runs/R1/activities/mail/proofs":
		a.asked = append(a.asked, r.URL.RawQuery)
		if !a.ready {
			w.Header().Set("Retry-After", "2")
			answer(409, map[string]any{"error": map[string]any{"code": "not_ready", "message": "activity mail of run R1 has not run yet (not started; run running); retry in 2 s"}})
			return
		}
		ps := []channel.Proof{
			{Channel: "email", Recipient: "C7", To: "c7@example.com", Subject: "Hi Ada", HTML: "<p>Dear Ada</p>", Text: "Hi"},
			{Channel: "email", Recipient: "C9", To: "c9@example.com", Subject: "Hi Bo", HTML: "<p>Dear Bo</p>", Text: "Hi"}}
		if k := r.URL.Query().Get("key"); k != "" { // the frame of one proof
			ps = slices.DeleteFunc(ps, func(p channel.Proof) bool { return p.Recipient != k })
		}
		answer(200, api.ProofList{RunID: "R1", Activity: "mail", Proofs: ps})
	default:
		answer(404, map[string]any{"error": map[string]any{"code": "not_found", "message": r.Method + " " + r.URL.Path}})
	}
}

// Where the proofs' test run outlasts a request (AWS), the form's POST goes
// to the proofs page of that run with the sample asked; the page says the
// run has not reached the activity and reloads itself (a Refresh header: no
// script) until the proofs are there, then shows them and stops reloading.
func TestProofsPendingThenReady(t *testing.T) {
	fake := &pendingAPI{}
	hs := httptest.NewServer(console.New(console.Options{API: fake, Token: token, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer hs.Close()
	c := client()
	csrf := login(t, c, hs.URL)
	resp, _ := do(t, c, "POST", hs.URL+"/campaigns/proofmark/proofs", hs.URL, url.Values{"csrf": {csrf}, "activity": {"mail"}, "sample": {"2"}})
	loc := resp.Header.Get("Location")
	want := "/campaigns/proofmark/proofs?" + url.Values{"run": {"R1"}, "activity": {"mail"}, "sample": {"2"}}.Encode()
	if resp.StatusCode != http.StatusSeeOther || loc != want {
		t.Fatalf("POST proofs: %d %q, want a redirect to %q", resp.StatusCode, loc, want)
	}
	if fake.posted.Activity != "mail" || fake.posted.Sample != 2 {
		t.Errorf("posted %+v", fake.posted)
	}

	resp, page := do(t, c, "GET", hs.URL+loc, "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Refresh") != "2" || !strings.Contains(page, `id="proof-pending"`) ||
		!strings.Contains(page, `role="status"`) || strings.Contains(page, `class="proof"`) || strings.Contains(page, `id="proof-error"`) {
		t.Fatalf("pending page: %d Refresh %q\n%s", resp.StatusCode, resp.Header.Get("Refresh"), page)
	}
	if !strings.Contains(page, `value="2"`) {
		t.Errorf("the pending page's form lost the sample size")
	}

	fake.mu.Lock()
	fake.ready = true
	fake.mu.Unlock()
	resp, page = do(t, c, "GET", hs.URL+loc, "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Refresh") != "" || strings.Contains(page, `id="proof-pending"`) ||
		strings.Count(page, `<section class="proof"`) != 2 || !strings.Contains(page, "Hi Ada") || !strings.Contains(page, "Rendered from test run <code>R1</code>") {
		t.Fatalf("ready page: %d Refresh %q\n%s", resp.StatusCode, resp.Header.Get("Refresh"), page)
	}
	if len(fake.asked) != 2 || fake.asked[0] != "sample=2" || fake.asked[1] != "sample=2" {
		t.Errorf("the page asked the API %q", fake.asked)
	}
}

// In the browser, the pending page reloads itself under the strict policy
// (no script of its own) and shows the proofs once they are ready.
func TestBrowserProofsPending(t *testing.T) {
	ctx := browser(t)
	fake := &pendingAPI{}
	hs := httptest.NewServer(console.New(console.Options{API: fake, Token: token, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer hs.Close()
	p := loginAt(t, ctx, hs.URL, "/campaigns/proofmark/proofs")
	p.do("render", chromedp.WaitVisible("#proof-form"), chromedp.SetValue("#sample", "2"), chromedp.Click("#render"), chromedp.WaitVisible("#proof-pending"))
	if n := p.eval("no proofs yet", `document.querySelectorAll("section.proof").length`); n != float64(0) {
		t.Fatalf("%v proofs while pending", n)
	}
	fake.mu.Lock()
	fake.ready = true
	fake.mu.Unlock()
	p.waitFor("the proofs after a reload", `document.querySelectorAll("section.proof").length === 2 && !document.getElementById("proof-pending")`, 15*time.Second)
	if u := p.eval("the page's URL", `location.pathname + location.search`); u != "/campaigns/proofmark/proofs?activity=mail&run=R1&sample=2" {
		t.Errorf("the proofs page is %v", u)
	}
}
