package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/feedback"
)

// markCampaign emails everyone an HTML body with a script that would mark the
// page if it ran, with an A/B experiment and a holdout, and saves them as the
// audience "everyone".
const markCampaign = `version: 1
id: proofmark
name: Proof marker
dimension: customers
activities:
  - { id: all, type: build-audience }
  - id: mail
    type: email
    from: all
    message:
      from: "Shop <news@shop.example>"
      subject: "Hi {{ recipient.firstName }}"
      html: "<p id=\"hello\" style=\"color: #b3261e; font-weight: bold\">Dear {{ recipient.firstName }}</p><script>document.body.setAttribute('data-ran', 'yes')</script>"
      text: "Key {{ recipient.customerId }}, name {{ recipient.firstName }}"
    experiment:
      holdout: 10%
      variants:
        - { name: A, weight: 50 }
        - { name: B, weight: 50, subject: "B for {{ recipient.firstName }}" }
  - { id: keep, type: save-audience, from: all, audience: everyone }
`

// apiRaw calls the API with the bearer token: the status and the body.
func apiRaw(t *testing.T, base, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// apiDo calls the API with the bearer token; out, when given, must be what
// the body decodes into.
func apiDo(t *testing.T, base, method, path string, body any, out any) int {
	t.Helper()
	code, data := apiRaw(t, base, method, path, body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, code, data)
		}
	}
	if code/100 != 2 {
		t.Logf("%s %s: %d %s", method, path, code, data)
	}
	return code
}

// The new pages and the proof frame want a session; the proof form wants a
// same-origin POST with the session's token; the proof's HTML is served
// under its own policy (sandbox, no script, nothing remote, framed only here)
// while every other page keeps frame-ancestors 'none'.
func TestViewsAuthAndPolicy(t *testing.T) {
	hs := server(t)
	if code := apiDo(t, hs.URL, "POST", "/v1/campaigns", map[string]any{"source": markCampaign}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	c := client()
	for _, p := range []string{"/audiences", "/reports", "/campaigns/proofmark/proofs", "/campaigns/proofmark/report",
		"/campaigns/proofmark/proofs/html?run=r&activity=mail&key=C1"} {
		resp, _ := do(t, c, "GET", hs.URL+p, "", nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Errorf("GET %s without a session: %d %s, want a redirect to /login", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	form := url.Values{"activity": {"mail"}, "sample": {"2"}}
	if resp, _ := do(t, c, "POST", hs.URL+"/campaigns/proofmark/proofs", hs.URL, form); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST proofs without a session: %d, want 401", resp.StatusCode)
	}
	csrf := login(t, c, hs.URL)
	form.Set("csrf", csrf)
	if resp, _ := do(t, c, "POST", hs.URL+"/campaigns/proofmark/proofs", "https://evil.example", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST proofs: %d, want 403", resp.StatusCode)
	}
	if resp, _ := do(t, c, "POST", hs.URL+"/campaigns/proofmark/proofs", hs.URL, url.Values{"activity": {"mail"}, "sample": {"2"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST proofs without the form token: %d, want 403", resp.StatusCode)
	}
	resp, _ := do(t, c, "POST", hs.URL+"/campaigns/proofmark/proofs", hs.URL, form)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/campaigns/proofmark/proofs?") {
		t.Fatalf("POST proofs: %d %s", resp.StatusCode, loc)
	}
	resp, page := do(t, c, "GET", hs.URL+loc, "", nil)
	if resp.StatusCode != 200 || strings.Count(page, `<iframe class="html" sandbox src="/campaigns/proofmark/proofs/html?`) != 2 {
		t.Fatalf("proofs page: %d\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("proofs page CSP %q", csp)
	}
	frame := strings.ReplaceAll(page[strings.Index(page, `sandbox src="`)+len(`sandbox src="`):], "&amp;", "&")
	frame = frame[:strings.Index(frame, `"`)]
	resp, body := do(t, c, "GET", hs.URL+frame, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `<p id="hello"`) || !strings.Contains(body, "<script>") {
		t.Fatalf("proof HTML: %d %s", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"sandbox;", "default-src 'none'", "img-src data:", "style-src 'unsafe-inline'", "frame-ancestors 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("proof HTML CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "allow-scripts") || resp.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Errorf("proof HTML: CSP %q, X-Frame-Options %q", csp, resp.Header.Get("X-Frame-Options"))
	}
	// The site bar marks the section of the page.
	for p, want := range map[string]string{"/": "Campaigns", "/campaigns/proofmark": "Campaigns", "/audiences": "Audiences", "/reports": "Reports"} {
		_, page := do(t, c, "GET", hs.URL+p, "", nil)
		if !strings.Contains(page, `aria-current="page">`+want+`</a>`) || strings.Count(page, `aria-current="page"`) != 1 {
			t.Errorf("GET %s: the site bar does not mark %s alone", p, want)
		}
	}
	// Elsewhere the console is not framed at all.
	for _, p := range []string{"/audiences", "/reports", "/campaigns/proofmark/report"} {
		resp, _ := do(t, c, "GET", hs.URL+p, "", nil)
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: %d, CSP %q", p, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	}
	// A sample of 0 is refused at its field.
	form.Set("sample", "0")
	if resp, page := do(t, c, "POST", hs.URL+"/campaigns/proofmark/proofs", hs.URL, form); resp.StatusCode != 400 || !strings.Contains(page, `id="e-sample"`) {
		t.Errorf("sample 0: %d", resp.StatusCode)
	}
	// A key that is not a recipient: the API's reason on the page.
	form.Set("keys", "nobody")
	if resp, page := do(t, c, "POST", hs.URL+"/campaigns/proofmark/proofs", hs.URL, form); resp.StatusCode != 422 || !strings.Contains(page, "no recipient with key &#34;nobody&#34;") {
		t.Errorf("unknown key: %d %s", resp.StatusCode, page)
	}
}

// A proof in the browser: the recipients' own values in the headers and
// bodies, the HTML in a sandboxed frame where its script does not run (the
// same HTML served without the policy does run it); a report with the API's
// figures and an aria-hidden chart; audiences with versions and campaigns;
// the site bar reachable by keyboard.
func TestBrowserProofReportAudiences(t *testing.T) {
	ctx := browser(t)
	hs, l := serverHome(t)
	if code := apiDo(t, hs.URL, "POST", "/v1/campaigns", map[string]any{"source": markCampaign}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	fail := func(what string, err error) {
		t.Helper()
		page, _ := chromedp.Run(ctx, chromedp.OuterHTML("html"))
		t.Fatalf("%s: %v\npage:\n%s", what, err, page)
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			fail(what, err)
		}
	}
	eval := func(what, js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			fail(what, err)
		}
		return v
	}
	run("log in",
		chromedp.Navigate(hs.URL+"/campaigns/proofmark/proofs"),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", token),
		chromedp.Submit("#login"),
		chromedp.WaitVisible("#proof-form"),
	)
	// A sample of two.
	run("render",
		chromedp.SetValue("#sample", "2"),
		chromedp.Click("#render"),
		chromedp.WaitVisible("section.proof iframe.html"),
	)
	runID := eval("run id", `document.querySelector("p.run code").textContent`)
	// Who the recipients are, from the proof run's population.
	var pop api.Preview
	apiDo(t, hs.URL, "GET", "/v1/runs/"+runID+"/transitions/all/out/preview?limit=1000", nil, &pop)
	col := map[string]int{}
	for i, c := range pop.Columns {
		col[c.Name] = i
	}
	people := map[string][]any{}
	for _, r := range pop.Rows {
		people[r[col["customerId"]].(string)] = r
	}
	var shown []struct{ Key, To, Subject, Text, Sandbox, Variant, Skip string }
	js := `[...document.querySelectorAll("section.proof")].map(s => ({Key: s.dataset.recipient,
		To: [...s.querySelectorAll("table.headers tr")].filter(r => r.querySelector("th").textContent === "To").map(r => r.querySelector("td").textContent).join(""),
		Subject: [...s.querySelectorAll("table.headers tr")].filter(r => r.querySelector("th").textContent === "Subject").map(r => r.querySelector("td").textContent).join(""),
		Text: (s.querySelector("pre.text") || {}).textContent || "", Sandbox: s.querySelector("iframe").getAttribute("sandbox"),
		Variant: (s.querySelector(".badge") || {}).textContent || "", Skip: (s.querySelector(".skip") || {}).textContent || ""}))`
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]struct{ Key, To, Subject, Text, Sandbox, Variant, Skip string }](js))
	if err != nil {
		fail("proofs", err)
	}
	shown = v
	if len(shown) != 2 {
		fail("two proofs", nil)
	}
	for _, p := range shown {
		row := people[p.Key]
		if row == nil {
			t.Fatalf("proof for %q, not a recipient", p.Key)
		}
		name, _ := row[col["firstName"]].(string)
		if p.To != row[col["email"]] || p.Text != "Key "+p.Key+", name "+name || (p.Subject != "Hi "+name && p.Subject != "B for "+name) {
			t.Errorf("proof %+v, want %s's address %v and name %q", p, p.Key, row[col["email"]], name)
		}
		if p.Sandbox != "" {
			t.Errorf("iframe sandbox=%q, want it empty (no allowances)", p.Sandbox)
		}
	}
	unsub := eval("unsubscribe", `(document.querySelector("a.unsubscribe") || {}).textContent || ""`)
	if !strings.Contains(unsub, "/unsubscribe/") {
		t.Errorf("unsubscribe link %q", unsub)
	}
	// The frame loaded the recipient's HTML, and its script did not run.
	frameURL := eval("frame", `document.querySelector("section.proof iframe").src`)
	first := shown[0]
	name, _ := people[first.Key][col["firstName"]].(string)
	// Chrome runs the sandboxed frame as a target of its own: attach to it
	// (or, where it runs in the page's process, read it from the frame's node).
	const frameJS = `document.getElementById("hello").textContent + "|" + String(document.body.getAttribute("data-ran")) + "|" + getComputedStyle(document.getElementById("hello")).fontWeight`
	inFrame := func(what string) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(10 * time.Second); got == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			infos, err := chromedp.Targets(ctx)
			if err != nil {
				fail("targets", err)
			}
			for _, info := range infos {
				if info.Type != "iframe" || info.URL != frameURL {
					continue
				}
				// Cancelled at the end of the test: cancelling it now would end the tab.
				fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID))
				t.Cleanup(cancel)
				if err = chromedp.Do(fctx, chromedp.WaitVisible("#hello")); err == nil {
					got, err = chromedp.Run(fctx, chromedp.Evaluate[string](frameJS))
				}
				if err != nil {
					fail("inside the frame", err)
				}
			}
		}
		if got == "" { // the frame is in the page's process
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			nodes, err := chromedp.Run(fctx, chromedp.Nodes(chromedp.CSS("section.proof iframe")))
			if err == nil {
				var text string
				var ran chromedp.AttributeResult
				if text, err = chromedp.Run(fctx, chromedp.Text(chromedp.CSS("#hello"), chromedp.FromNode(nodes[0]))); err == nil {
					ran, err = chromedp.Run(fctx, chromedp.AttributeValue(chromedp.CSS("body"), "data-ran", chromedp.FromNode(nodes[0])))
					got = text + "|" + map[bool]string{true: ran.Value, false: "null"}[ran.Exists] + "|700"
				}
			}
			if err != nil {
				fail(what+": read the frame", err)
			}
		}
		if got != "Dear "+name+"|null|700" {
			t.Errorf("%s: the frame shows %q, want the name, no mark, its inline style", what, got)
		}
	}
	inFrame("proofs page")
	// One recipient by key, for the screenshot: Chrome paints a frame of
	// another process only within the window.
	// The form posts: wait for the new page, not the old one's frames.
	eval("mark the page", `window.stepwiseOld = "1"`)
	run("render one",
		chromedp.SetValue("#keys", first.Key),
		chromedp.Click("#render"),
	)
	for deadline := time.Now().Add(10 * time.Second); eval("new page", `String(window.stepwiseOld === undefined && document.querySelector("section.proof iframe.html") !== null)`) != "true"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("render one: the page with one proof did not load")
		}
	}
	if n := eval("one", `String(document.querySelectorAll("section.proof").length) + " " + document.querySelector("section.proof").dataset.recipient`); n != "1 "+first.Key {
		t.Errorf("by key: %q", n)
	}
	frameURL = eval("frame", `document.querySelector("section.proof iframe").src`)
	inFrame("one recipient") // also waits for the frame's content
	shot(t, ctx, "proof")
	// The frame's URL as a page of its own: the policy still sandboxes it.
	run("frame alone", chromedp.Navigate(frameURL), chromedp.WaitVisible("#hello"))
	if got := eval("frame alone", `document.getElementById("hello").textContent + "|" + String(document.body.getAttribute("data-ran")) + "|" + getComputedStyle(document.getElementById("hello")).fontWeight`); got != "Dear "+name+"|null|700" {
		t.Errorf("the frame's page: %q, want the name, no mark, its inline style", got)
	}
	// The same HTML without the policy does run its script: the mark works.
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML("html"))
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, html)
	}))
	defer plain.Close()
	run("plain", chromedp.Navigate(plain.URL), chromedp.WaitVisible("#hello"))
	if got := eval("plain", `String(document.body.getAttribute("data-ran"))`); got != "yes" {
		t.Errorf("without the policy the mark is %q: the test would not see a script run", got)
	}

	// A report: publish and run it, with feedback for two of its messages.
	var rv api.RunView
	if apiDo(t, hs.URL, "POST", "/v1/campaigns/proofmark/publish", nil, nil) != 200 ||
		apiDo(t, hs.URL, "POST", "/v1/campaigns/proofmark/trigger?wait=30s", map[string]any{}, &rv) != 200 || rv.Status != "succeeded" {
		t.Fatalf("publish and trigger: %+v", rv)
	}
	var out api.Preview
	apiDo(t, hs.URL, "GET", "/v1/runs/"+rv.ID+"/transitions/mail/out/preview?limit=2", nil, &out)
	mcol := -1
	for i, c := range out.Columns {
		if c.Name == "messageId" {
			mcol = i
		}
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var recs []feedback.Record
	for i, r := range out.Rows {
		id := r[mcol].(string)
		for _, ev := range []feedback.Event{feedback.Delivered, feedback.Opened} {
			recs = append(recs, feedback.Record{ID: string(ev) + id, Event: ev, Channel: "email", Campaign: "proofmark", Activity: "mail", Run: rv.ID, MessageID: id, At: at})
		}
		if i == 0 {
			recs = append(recs, feedback.Record{ID: "click" + id, Event: feedback.Clicked, Channel: "email", Campaign: "proofmark", Activity: "mail", Run: rv.ID, MessageID: id, At: at})
		}
	}
	if _, err := l.AppendFeedback(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	var rep api.Report
	apiDo(t, hs.URL, "GET", "/v1/campaigns/proofmark/report", nil, &rep)
	want := rep.Activities[0].Total
	if want.Delivered != 2 || want.Opened != 2 || want.Clicked != 1 {
		t.Fatalf("API report: %+v", want)
	}
	run("report",
		chromedp.Navigate(hs.URL+"/reports"),
		chromedp.WaitVisible(`#report-campaigns tr[data-id="proofmark"]`),
		chromedp.Click(`#report-campaigns tr[data-id="proofmark"] a[href$="/report"]`),
		chromedp.WaitVisible(`section.activity-report[data-activity="mail"] table.counts`),
	)
	got := eval("report figures", `["sent","skipped","delivered","opened","clicked"].map(k => document.querySelector('section[data-activity="mail"] td[data-k="'+k+'"]').textContent).join(" ") +
		" | " + [...document.querySelectorAll('table.variants tbody tr')].map(r => r.dataset.variant).join(",") +
		" | " + [...document.querySelectorAll('svg.chart')].map(s => s.getAttribute("aria-hidden")).join(",")`)
	wantText := strings.Join([]string{itoa(want.Sent), itoa(want.Skipped), "2", "2", "1"}, " ") + " | A,B,holdout | true,true"
	if got != wantText {
		t.Errorf("report page: %q, want %q", got, wantText)
	}
	shot(t, ctx, "report")
	// What assistive technology reads: the site bar's links, the tables by
	// name; the charts are not in the tree.
	ax := axTree(t, ctx)
	for _, want := range []string{"navigation Console", "link Campaigns", "link Audiences", "link Reports", "table Messages of mail",
		"table Skipped recipients of mail by reason", "table Messages of mail by variant", "table Runs of mail"} {
		if !ax[want] {
			t.Errorf("accessibility tree of the report lacks %q", want)
		}
	}
	for k := range ax {
		if strings.HasPrefix(k, "image ") || strings.HasPrefix(k, "graphics-document ") || strings.Contains(k, "A sent") {
			t.Errorf("a chart is in the accessibility tree: %q", k)
		}
	}

	// Audiences: the live run saved "everyone" (version 1, every customer), saved by proofmark.
	var al api.AudienceList
	apiDo(t, hs.URL, "GET", "/v1/audiences", nil, &al)
	if len(al.Audiences) != 1 {
		t.Fatalf("audiences: %+v", al)
	}
	if cur := eval("list", `(document.querySelector('nav.site a[aria-current="page"]') || {}).textContent || ""`); cur != "Reports" {
		t.Errorf("the report page marks %q current", cur)
	}
	run("audiences nav by keyboard",
		chromedp.Focus(`nav.site a[href="/audiences"]`),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(`#audience-list tr[data-name="everyone"]`),
	)
	got = eval("audiences", `document.querySelector('#audience-list tr[data-name="everyone"] td.size').textContent + " " +
		document.querySelector('nav.site a[aria-current="page"]').textContent + " " +
		[...document.querySelectorAll('#a-everyone table.uses tr[data-campaign]')].map(r => r.dataset.campaign + ":" + r.cells[3].textContent).join(",")`)
	if got != itoa(al.Audiences[0].Count)+" Audiences proofmark:keep" {
		t.Errorf("audiences page: %q", got)
	}
	shot(t, ctx, "audiences")
}

// axTree is the page's accessibility tree as "role name" of every node
// that is not ignored.
func axTree(t *testing.T, ctx context.Context) map[string]bool {
	t.Helper()
	res, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		t.Fatalf("accessibility tree: %v", err)
	}
	out := map[string]bool{}
	text := func(v *accessibility.Value) string {
		if v == nil {
			return ""
		}
		var s string
		if json.Unmarshal([]byte(v.Value), &s) != nil {
			return string(v.Value)
		}
		return s
	}
	for _, n := range res.Nodes {
		if !n.Ignored {
			out[text(n.Role)+" "+text(n.Name)] = true
		}
	}
	return out
}

func itoa(n int64) string { return jsonNum(n) }

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }
