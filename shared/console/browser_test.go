package console_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stepwise-run/stepwise/shared/state"
)

// browser starts headless Chromium (Debian's chromium package; infra/setup.sh
// installs it). Without it the test is skipped, except in CI where it fails.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (infra/setup.sh installs it); CI=true requires the browser tests")
		}
		t.Skip("chromium is not installed: run infra/setup.sh")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// The win-back example in a real browser: log in, open it, start a test run,
// see a count on every transition, open a transition's rows and an activity's
// log, and have a lifecycle action the server does not allow refused.
func TestBrowserWinback(t *testing.T) {
	ctx := browser(t)
	hs := server(t)
	start := time.Now()
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
	value := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			fail(what, err)
		}
		return v
	}
	// Log in: the list page redirects to the login page and back.
	run("log in",
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", token),
		chromedp.Submit("#login"),
		chromedp.WaitVisible(`#campaigns tr[data-id="winback-q4"]`),
	)
	shot(t, ctx, "list")
	// Open the win-back example.
	run("open winback",
		chromedp.Click(`#campaigns tr[data-id="winback-q4"] a`),
		chromedp.WaitVisible("#canvas svg"),
		chromedp.WaitVisible("#run-form"),
	)
	edges, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#canvas g.edge").length`))
	if err != nil {
		fail("count edges", err)
	}
	if edges != 5 {
		t.Fatalf("canvas has %d transitions, want the win-back's 5 (byValue.vip leads to two activities)", edges)
	}
	// No archive for a draft on the page; a forged one is refused by the server.
	offered, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('form[action$="/actions/archive"]')`))
	if err != nil || offered {
		t.Error("a draft's page offers archive")
	}
	// A test run: every transition shows a count once it is done.
	run("test run",
		chromedp.Click("#start"),
		chromedp.WaitVisible("#run-status"),
	)
	// The page polls the run and reloads when it ends: evaluate until it holds.
	done := false
	for deadline := time.Now().Add(40 * time.Second); !done && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		done, _ = chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.getElementById("run-status") && !document.getElementById("stop") && document.readyState === "complete" &&
			document.getElementById("run-status").textContent === "succeeded" &&
			[...document.querySelectorAll("#canvas g.edge text.count")].every(t => /: \d+$/.test(t.textContent))`))
	}
	if !done {
		fail("counts on every transition", errors.New("not within 40 s"))
	}
	labels, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#canvas g.edge text.count")].map(t => t.textContent)`))
	if err != nil {
		fail("labels", err)
	}
	t.Logf("transitions: %s (%s)", strings.Join(labels, ", "), time.Since(start).Round(time.Millisecond))
	shot(t, ctx, "canvas")
	// A transition's rows, paged.
	run("click rows", click(`#canvas g.edge[data-from="lapsed"] text.count`))
	run("rows", chromedp.WaitVisible("#rows"))
	shot(t, ctx, "rows")
	rng := value("rows range", chromedp.Text("#rows-range"))
	if !strings.HasPrefix(rng, "rows 1–") && rng != "no rows" {
		t.Errorf("rows range %q", rng)
	}
	// An activity's state and task log.
	run("activity",
		click(`#canvas g.act[data-id="enriched"] rect`),
		chromedp.WaitVisible("#log"),
	)
	state := value("activity", chromedp.Text("#activity"))
	if !strings.Contains(state, "succeeded") {
		t.Errorf("activity panel: %q", state)
	}
	// A forged lifecycle action (archive a draft) is refused by the server, and the page says why.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
			const f = document.createElement("form");
			f.method = "post"; f.action = "/campaigns/winback-q4/actions/archive";
			const i = document.createElement("input");
			i.type = "hidden"; i.name = "csrf"; i.value = document.querySelector('input[name="csrf"]').value;
			f.append(i); document.body.append(f); f.submit(); return true })()`)); err != nil {
		fail("forge archive", err)
	}
	run("refused", chromedp.WaitVisible("#page-error"))
	refused := value("refusal", chromedp.Text("#page-error"))
	if !strings.Contains(refused, "cannot archive campaign winback-q4") {
		t.Errorf("refusal: %q", refused)
	}
	t.Logf("browser test took %s", time.Since(start).Round(time.Millisecond))
}

// click clicks an SVG element in the page (chromedp's Click waits for an HTML
// box that SVG shapes do not have).
func click(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		ok, err := chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+"`"+sel+"`"+`);
			if (!e) return false; e.dispatchEvent(new MouseEvent("click", {bubbles: true})); return true })()`)(ctx, t)
		if err == nil && !ok {
			err = errors.New("no element " + sel)
		}
		return chromedp.Void{}, err
	}
}

// A run's page follows the run as it goes: counts as transitions are activated,
// a send held for confirmation (and then its confirm button); the server
// refuses the confirmation of an activity that holds nothing, and stops the run.
func TestBrowserFollowsARun(t *testing.T) {
	ctx := browser(t)
	hs, l := serverHome(t)
	st := l.State
	bg := context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	run, _, err := st.StartRun(bg, state.Run{CampaignID: "winback-q4", StartedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	fail := func(what string, err error) {
		t.Helper()
		page, _ := chromedp.Run(ctx, chromedp.OuterHTML("html"))
		t.Fatalf("%s: %v\npage:\n%s", what, err, page)
	}
	waitFor := func(what, js string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); ok {
				return
			}
		}
		fail(what, errors.New("not within 20 s"))
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(hs.URL+"/campaigns/winback-q4?run="+run.ID),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", token),
		chromedp.Submit("#login"),
		chromedp.WaitVisible("#canvas svg"),
	); err != nil {
		fail("open the run", err)
	}
	// A count appears as the run goes on, without a reload.
	chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sameDocument = true`))
	if _, err := st.UpdateTask(bg, run.ID, "lapsed", state.TaskUpdate{Status: state.TaskSucceeded, At: at, Ports: map[string]int64{"out": 12}}); err != nil {
		t.Fatal(err)
	}
	waitFor("a live count", `window.sameDocument === true &&
		document.querySelector('#canvas g.edge[data-from="lapsed"] text.count').textContent === "out: 12" &&
		document.querySelector('#canvas g.act[data-id="lapsed"]').dataset.status === "succeeded"`)
	// A held send: the canvas says so, and the page offers its confirmation.
	st.UpdateTask(bg, run.ID, "sendVip", state.TaskUpdate{Status: state.TaskRunning, At: at})
	if _, err := st.UpdateTask(bg, run.ID, "sendVip", state.TaskUpdate{At: at, Waiting: &state.TaskWait{Reason: state.WaitHeld}}); err != nil {
		t.Fatal(err)
	}
	waitFor("held", `!!document.querySelector('button.confirm[data-activity="sendVip"]') &&
		document.querySelector('#canvas g.act[data-id="sendVip"]').dataset.status === "held for confirmation"`)
	// Quiet hours and a suspended activity, as the canvas says them, through the events.
	st.UpdateTask(bg, run.ID, "sendRegular", state.TaskUpdate{Status: state.TaskRunning, At: at})
	st.UpdateTask(bg, run.ID, "sendRegular", state.TaskUpdate{At: at, Waiting: &state.TaskWait{Reason: state.WaitQuietHours, Until: at.Add(22 * time.Hour), Zone: "Europe/Paris"}})
	st.UpdateTask(bg, run.ID, "saveVips", state.TaskUpdate{Status: state.TaskSuspended, At: at})
	waitFor("quiet hours", `document.querySelector('#canvas g.act[data-id="sendRegular"]').dataset.status === "waiting until 2026-03-02 08:00 Europe/Paris (quiet hours)" &&
		document.querySelector('#canvas g.act[data-id="sendRegular"]').getAttribute("aria-label") === "sendRegular, email, waiting until 2026-03-02 08:00 Europe/Paris (quiet hours)" &&
		document.querySelector('#canvas g.act[data-id="saveVips"]').dataset.status === "suspended" && document.getElementById("campaign").dataset.live === "events"`)
	shot(t, ctx, "canvas-live")
	// Review first, then confirm; sendVip has no confirm: true, so the API holds nothing there and refuses.
	if err := chromedp.Do(ctx, chromedp.Click(`button.confirm[data-activity="sendVip"]`), chromedp.WaitVisible("#confirm-send"),
		chromedp.Click("#confirm-send"), chromedp.WaitVisible("#page-error")); err != nil {
		fail("confirm", err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text("#page-error")); !strings.Contains(msg, "does not hold its sends") {
		t.Errorf("confirm refusal: %q", msg)
	}
	// Stop the run.
	if err := chromedp.Do(ctx, chromedp.Click("#stop")); err != nil {
		fail("stop", err)
	}
	waitFor("stopped", `!!document.getElementById("run-status") && document.getElementById("run-status").textContent === "stopped" && !document.getElementById("stop")`)
	if r, _ := st.GetRun(bg, run.ID); r.Status != state.RunStopped {
		t.Errorf("run is %s, want stopped", r.Status)
	}
}

// shot saves a screenshot of the page as docs/img/console-NAME.png when
// STEPWISE_SCREENSHOTS names a folder (`make console-screenshots`); otherwise
// it does nothing. The viewport is fixed so that shots are comparable.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("STEPWISE_SCREENSHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "console-"+name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}
