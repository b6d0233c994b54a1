package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/stepwise-run/stepwise/examples"
)

// create saves a campaign through the API.
func create(t *testing.T, base, src string) {
	t.Helper()
	if code, data := apiRaw(t, base, "POST", "/v1/campaigns", map[string]any{"source": src}); code != http.StatusCreated {
		t.Fatalf("create: %d %.2000s", code, data)
	}
}

// browserAt logs in with the browser and opens path.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) fail(what string, err error) {
	p.t.Helper()
	html, _ := chromedp.Run(p.ctx, chromedp.OuterHTML("html"))
	if len(html) > 20000 {
		html = html[:20000] + "…"
	}
	p.t.Fatalf("%s: %v\npage:\n%s", what, err, html)
}

func (p page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.fail(what, err)
	}
}

func (p page) eval(what, js string) any {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[any](js))
	if err != nil {
		p.fail(what, err)
	}
	return v
}

func (p page) waitFor(what, js string, within time.Duration) {
	p.t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok, _ := chromedp.Run(p.ctx, chromedp.Evaluate[bool](js)); ok {
			return
		}
	}
	p.fail(what, fmt.Errorf("not within %s", within))
}

func loginAt(t *testing.T, ctx context.Context, base, path string) page {
	p := page{t, ctx}
	p.do("log in", chromedp.Navigate(base+path), chromedp.WaitVisible("#token"), chromedp.SendKeys("#token", token), chromedp.Submit("#login"))
	return p
}

// A held send is confirmed after its count and a sample: the win-back with
// confirm: true on sendVip, published and triggered from the page, holds sendVip; its
// review shows the count of byValue.vip and its first rows; the send is then
// confirmed.
func TestBrowserConfirmAfterReview(t *testing.T) {
	ctx := browser(t)
	hs := server(t)
	src, _ := examples.FS.ReadFile("winback.yaml")
	s := strings.Replace(string(src), "id: winback-q4", "id: winback-confirm", 1)
	s = strings.Replace(s, "    purpose: marketing\n", "    purpose: marketing\n    confirm: true\n", 1)
	create(t, hs.URL, s)
	// Test runs send nothing and hold nothing: publish it and trigger a live run.
	req, _ := http.NewRequest("POST", hs.URL+"/v1/campaigns/winback-confirm/publish", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("publish: %v %v", err, resp.Status)
	}
	p := loginAt(t, ctx, hs.URL, "/campaigns/winback-confirm")
	p.do("trigger", chromedp.WaitVisible("#run-form"), chromedp.Click("#start"), chromedp.WaitVisible("#run-status"))
	p.waitFor("held", `!!document.querySelector('button.confirm[data-activity="sendVip"]') && document.readyState === "complete"`, 40*time.Second)
	p.do("review", chromedp.Click(`button.confirm[data-activity="sendVip"]`), chromedp.WaitVisible("#confirm-send"))
	count := p.eval("count", `document.querySelector("#confirm .confirm-count").textContent`).(string)
	shown := p.eval("vip count", `document.querySelector('#canvas g.edge[data-from="byValue"][data-port="vip"] text.count').textContent`).(string)
	sample := p.eval("sample", `document.querySelectorAll("#confirm table.sample tbody tr").length`).(float64)
	head := p.eval("head", `document.querySelector("#confirm table.sample th").textContent`).(string)
	t.Logf("review: %s recipients (canvas %q), %v sample rows, first column %q", count, shown, sample, head)
	if shown != "vip: "+count || sample < 1 || sample > 5 || head != "customerIdstring" {
		t.Errorf("review shows %s recipients (canvas %q), %v sample rows, first column %q", count, shown, sample, head)
	}
	shot(t, ctx, "confirm")
	// The confirm posts a form: wait for the new page, not the old one's
	// status (a click on the old page's stop button then finds no node).
	p.eval("mark the page", `window.stepwiseOld = "1"`)
	p.do("confirm", chromedp.Click("#confirm-send"))
	p.waitFor("the page after confirming", `window.stepwiseOld === undefined && document.readyState === "complete" && !!document.getElementById("run-status")`, 20*time.Second)
	if errShown := p.eval("error", `!!document.getElementById("page-error")`).(bool); errShown {
		p.fail("confirm", errors.New("the page shows an error"))
	}
	p.do("stop", chromedp.Click("#stop"))
}

// axProblems reads the page's accessibility tree and lists the buttons,
// links, text boxes and combo boxes without a name.
func axProblems(ctx context.Context) ([]string, int, error) {
	nodes, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]*accessibility.Node, error) {
		res, err := cdp.Call(ctx, t, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
		return res.Nodes, err
	})
	if err != nil {
		return nil, 0, err
	}
	str := func(v *accessibility.Value) string {
		if v == nil {
			return ""
		}
		var s string
		json.Unmarshal(v.Value, &s)
		return strings.TrimSpace(s)
	}
	var bad []string
	checked := 0
	for _, n := range nodes {
		role := str(n.Role)
		switch role {
		case "button", "link", "textbox", "combobox", "checkbox", "spinbutton", "searchbox", "listbox":
		default:
			continue
		}
		if n.Ignored {
			continue
		}
		checked++
		if str(n.Name) == "" {
			bad = append(bad, fmt.Sprintf("%s (DOM node %d)", role, n.BackendDOMNodeID))
		}
	}
	return bad, checked, nil
}

// Every control of the pages has a name in Chromium's accessibility tree;
// Tab reaches an activity of the canvas and Enter opens its panel.
func TestBrowserAccessibility(t *testing.T) {
	ctx := browser(t)
	hs := server(t)
	p := page{t, ctx}
	check := func(where string) {
		t.Helper()
		bad, n, err := axProblems(ctx)
		if err != nil {
			p.fail("accessibility tree", err)
		}
		t.Logf("%s: %d controls in the accessibility tree", where, n)
		if n == 0 || len(bad) > 0 {
			t.Errorf("%s: controls without a name: %v (of %d)", where, bad, n)
		}
	}
	p.do("login page", chromedp.Navigate(hs.URL+"/login"), chromedp.WaitVisible("#token"))
	check("login")
	p.do("log in", chromedp.SendKeys("#token", token), chromedp.Submit("#login"), chromedp.WaitVisible("#campaigns"))
	check("campaigns")
	p.do("canvas", chromedp.Navigate(hs.URL+"/campaigns/winback-q4"), chromedp.WaitVisible("#canvas svg"))
	check("canvas")
	// Tab from the top of the page to the first activity, then Enter.
	p.eval("blur", `document.activeElement && document.activeElement.blur(), true`)
	reached := ""
	for i := 0; i < 60 && reached == ""; i++ {
		p.do("tab", chromedp.KeyEvent(kb.Tab))
		reached = p.eval("focus", `(e => e && e.matches("#canvas g.act") ? e.dataset.id : "")(document.activeElement)`).(string)
	}
	if reached == "" {
		p.fail("tab to an activity", errors.New("60 presses of Tab did not reach one"))
	}
	label := p.eval("label", `document.activeElement.getAttribute("aria-label")`).(string)
	p.do("enter", chromedp.KeyEvent(kb.Enter))
	p.waitFor("panel", `!!document.getElementById("settings") && document.activeElement === document.getElementById("panel")`, 10*time.Second)
	words := p.eval("settings", `document.getElementById("settings").textContent`).(string)
	t.Logf("Tab reached %q (%s); Enter opened its settings: %.120s", reached, label, words)
	if reached != "lapsed" || !strings.HasPrefix(words, "Customers where lastPurchaseAt is before 90 days ago") {
		t.Errorf("reached %q, settings %q", reached, words)
	}
	// Its transition comes next; Space opens it (no run yet: a hint).
	p.eval("focus back", `document.querySelector('#canvas g.act[data-id="lapsed"]').focus(), true`)
	p.do("tab to the transition", chromedp.KeyEvent(kb.Tab))
	if next := p.eval("focus", `document.activeElement.getAttribute("aria-label")`); next != "lapsed.out to enriched" {
		t.Errorf("after lapsed, Tab reached %q", next)
	}
	p.do("space", chromedp.KeyEvent(" "))
	p.waitFor("edge panel", `document.getElementById("panel-title") && document.getElementById("panel-title").textContent === "lapsed.out"`, 10*time.Second)
	check("canvas with a panel")
}

// big is a valid campaign of n activities: a build-audience, then a chain of
// splits whose segments are saved (three per split) and whose others go on.
func big(n int) string {
	var b strings.Builder
	b.WriteString("version: 1\nid: big\nname: Five hundred activities\ndimension: customers\nactivities:\n")
	b.WriteString("  - id: everyone\n    type: build-audience\n    where: { field: emailOptIn, op: eq, value: true }\n")
	count, prev := 1, "everyone"
	for i := 0; count < n; i++ {
		split := fmt.Sprintf("split%d", i)
		fmt.Fprintf(&b, "  - id: %s\n    type: split\n    from: %s\n    others: true\n    segments:\n", split, prev)
		fmt.Fprintf(&b, "      - { name: gold, where: { field: tier, op: eq, value: gold } }\n")
		fmt.Fprintf(&b, "      - { name: silver, where: { field: tier, op: eq, value: silver } }\n")
		fmt.Fprintf(&b, "      - { name: french, where: { field: country, op: eq, value: FR } }\n")
		count++
		for _, seg := range []string{"gold", "silver", "french"} {
			if count == n {
				break
			}
			fmt.Fprintf(&b, "  - id: save%d%s\n    type: save-audience\n    from: %s.%s\n    audience: a%d%s\n", i, seg, split, seg, i, seg)
			count++
		}
		prev = split + ".others"
	}
	return b.String()
}

// A 500-activity campaign's canvas in the browser: the time to load and draw
// the page, and from a click on an activity to its panel. The figures go to
// docs/console.md; the test fails only on gross limits.
func TestBrowserLargeCanvas(t *testing.T) {
	ctx := browser(t)
	hs := server(t)
	create(t, hs.URL, big(500))
	p := loginAt(t, ctx, hs.URL, "/")
	p.do("list", chromedp.WaitVisible("#campaigns"))
	start := time.Now()
	p.do("canvas", chromedp.Navigate(hs.URL+"/campaigns/big"), chromedp.WaitVisible("#canvas svg"))
	load := time.Since(start)
	acts := p.eval("count", `document.querySelectorAll("#canvas g.act").length`).(float64)
	nav := p.eval("timing", `(e => [e.responseEnd - e.requestStart, e.loadEventEnd - e.requestStart, document.querySelector("#canvas svg").getAttribute("width")])(performance.getEntriesByType("navigation")[0])`).([]any)
	size := p.eval("size", `document.documentElement.outerHTML.length`).(float64)
	if acts != 500 {
		t.Fatalf("canvas has %v activities", acts)
	}
	// Click an activity deep in the chain; time until its settings show.
	var clicks []string
	var worst float64
	for _, id := range []string{"split100", "save120gold", "everyone"} {
		p.eval("click", `(() => { window.t0 = performance.now(); window.t1 = 0;
			const panel = document.getElementById("panel");
			const o = new MutationObserver(() => { if (!window.t1 && document.getElementById("settings")) { window.t1 = performance.now(); o.disconnect(); } });
			o.observe(panel, {childList: true, subtree: true});
			document.querySelector('#canvas g.act[data-id="`+id+`"]').dispatchEvent(new MouseEvent("click", {bubbles: true})); return true })()`)
		p.waitFor("panel of "+id, `window.t1 > 0`, 20*time.Second)
		ms := p.eval("time", `window.t1 - window.t0`).(float64)
		worst = max(worst, ms)
		clicks = append(clicks, fmt.Sprintf("%s %.0f ms", id, ms))
	}
	// Tab still moves through the canvas.
	p.eval("focus", `document.querySelector('#canvas g.act[data-id="split90"]').focus(), true`)
	p.do("tab", chromedp.KeyEvent(kb.Tab))
	t.Logf("500 activities: page loaded and drawn in %s (server answer %.0f ms, load event %.0f ms, %.0f KB of HTML, SVG %v px wide); click to panel: %s",
		load.Round(time.Millisecond), nav[0], nav[1], size/1024, nav[2], strings.Join(clicks, ", "))
	shot(t, ctx, "large")
	if load > 10*time.Second || worst > 10_000 {
		t.Errorf("too slow: page %s, click to panel %.0f ms (limit 10 s)", load, worst)
	}
}
