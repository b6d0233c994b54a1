package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The editor in a real browser: a typo's diagnostic underlined at its line and
// column (the API's, as `stepwise validate` prints it), completion from the
// schema by keyboard, the canvas redrawn from the text, a save, a 409 on a
// stale revision that keeps the text, and the diff before publishing.
func TestBrowserEditor(t *testing.T) {
	ctx := browser(t)
	hs := server(t)
	start := time.Now()
	// A published version to compare with: the win-back on a weekly schedule,
	// published, then back to draft (it has not run).
	_, cv := apiCall(t, hs.URL, "GET", "/v1/campaigns/winback-q4", nil)
	src := strings.Replace(cv["source"].(string), "timezone: Europe/Paris\n", "timezone: Europe/Paris\nschedule: { cron: \"0 8 * * 1\" }\n", 1)
	for _, step := range [][2]string{{"PUT", "/v1/campaigns/winback-q4"}, {"POST", "/v1/campaigns/winback-q4/publish"}, {"POST", "/v1/campaigns/winback-q4/back-to-draft"}} {
		var body any
		if step[0] == "PUT" {
			body = map[string]any{"source": src}
		}
		if st, out := apiCall(t, hs.URL, step[0], step[1], body); st != http.StatusOK {
			t.Fatalf("%s %s: %d %v", step[0], step[1], st, out)
		}
	}

	setup := time.Since(start)
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
	eval := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](js)); err != nil {
			fail(what, err)
		}
	}
	var waits []string // what the test waited for, when it took a while
	waitFor := func(what, js string) {
		t.Helper()
		t0 := time.Now()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); ok {
				if d := time.Since(t0); d > 300*time.Millisecond {
					waits = append(waits, fmt.Sprintf("%s %s", what, d.Round(10*time.Millisecond)))
				}
				return
			}
		}
		fail(what, errors.New("not within 15 s"))
	}
	text := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			fail(js, err)
		}
		return s
	}
	// caret puts the caret (or a selection) in the editor, in JavaScript string offsets.
	caret := func(from, to int) {
		t.Helper()
		eval("caret", fmt.Sprintf(`(() => { const ta = document.getElementById("source"); ta.focus(); ta.setSelectionRange(%d, %d); return true })()`, from, to))
	}
	at := func(s, sub string) int { // JavaScript offset of sub (the text is ASCII)
		t.Helper()
		i := strings.Index(s, sub)
		if i < 0 {
			t.Fatalf("no %q in the document", sub)
		}
		return i
	}
	const value = `document.getElementById("source").value`

	run("start the browser", chromedp.Navigate("about:blank"))
	browserAt := time.Since(start)
	run("log in to the editor",
		chromedp.Navigate(hs.URL+"/campaigns/winback-q4/edit"),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", token),
		chromedp.Submit("#login"),
		chromedp.WaitVisible("#source"),
	)
	waits = append(waits, fmt.Sprintf("(published and back to draft in %s, browser at %s, logged in at %s)", setup.Round(10*time.Millisecond), browserAt.Round(10*time.Millisecond), time.Since(start).Round(10*time.Millisecond)))
	waitFor("the draft checked", `document.getElementById("diag-summary").textContent.startsWith("No problems. winback-q4.yaml: valid (7 activities)")`)
	if got := text(value); got != src {
		t.Fatalf("the editor does not hold the draft:\n%s", got)
	}
	var rev0 int
	fmt.Sscan(text(`document.getElementById("rev").value`), &rev0)
	lines := text(`document.getElementById("gutter").textContent.trim().split("\n").length + ""`)
	if want := fmt.Sprint(strings.Count(src, "\n") + 1); lines != want {
		t.Errorf("gutter: %s line numbers, want %s", lines, want)
	}

	// A typo on a known line: an operator that does not exist.
	opAt := at(src, "op: lt,") + len("op: lt")
	line := strings.Count(src[:opAt], "\n") + 1
	col := opAt - strings.LastIndex(src[:opAt], "\n") - 2 // the column of "ltt", from 1
	caret(opAt, opAt)
	run("type the typo", chromedp.KeyEvent("t"))
	waitFor("the diagnostic underlined", fmt.Sprintf(`!!document.querySelector('#marks span.diag[data-line="%d"][data-col="%d"]')`, line, col))
	if w := text(`document.querySelector("#marks span.diag").textContent`); w != "ltt" {
		t.Errorf("underlined %q, want ltt", w)
	}
	// Where it is drawn: at that line and column of the text on screen.
	var pos struct{ DY, DX, Line, Ch float64 }
	geo, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const ta = document.getElementById("source"), m = document.querySelector("#marks span.diag");
		const cs = getComputedStyle(ta), a = ta.getBoundingClientRect(), b = m.getClientRects()[0];
		const c = document.createElement("canvas").getContext("2d"); c.font = cs.font;
		return JSON.stringify({dy: b.top - a.top - parseFloat(cs.paddingTop) + ta.scrollTop, dx: b.left - a.left - parseFloat(cs.paddingLeft) + ta.scrollLeft,
			line: parseFloat(cs.lineHeight), ch: c.measureText("M").width}) })()`))
	if err != nil {
		fail("geometry", err)
	}
	json.Unmarshal([]byte(strings.ToLower(geo)), &pos)
	if math.Abs(pos.DY-float64(line-1)*pos.Line) > 2 || math.Abs(pos.DX-float64(col-1)*pos.Ch) > 2 {
		t.Errorf("the underline is at %+v, want line %d column %d", pos, line, col)
	}
	// The same diagnostics as the API's validate (and so as `stepwise validate`).
	typo := text(value)
	_, want := apiCall(t, hs.URL, "POST", "/v1/validate", map[string]any{"source": typo})
	listed := text(`[...document.querySelectorAll("#diagnostics li")].map(li => li.textContent).join("\n") + "\n"`)
	if listed != want["output"] || !strings.Contains(listed, fmt.Sprintf("winback-q4.yaml:%d:%d ", line, col)) {
		t.Errorf("listed diagnostics:\n%s\nwant the API's:\n%s", listed, want["output"])
	}
	if s := text(`document.getElementById("diag-summary").textContent`); !strings.Contains(s, fmt.Sprintf("1 error. First: line %d, column %d: unknown operator", line, col)) {
		t.Errorf("summary (announced): %q", s)
	}
	if live := text(`document.getElementById("diag-summary").getAttribute("aria-live")`); live != "polite" {
		t.Errorf("the summary is not announced: aria-live %q", live)
	}
	shot(t, ctx, "editor")

	// Completion by keyboard: the operators in place of the typo.
	caret(opAt-2, opAt+1)
	run("complete an operator", chromedp.KeyEvent(kb.Backspace), chromedp.KeyEvent(" ", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	waitFor("operators offered", `!document.getElementById("completions").hidden && [...document.querySelectorAll('#completions [role="option"]')].map(o => o.dataset.value).join() === "eq,ne,gt,gte,lt,lte,in,notIn,isEmpty,isNotEmpty,startsWith,notStartsWith,contains,notContains,like,notLike,between,anniversary,inLast,inNext"`)
	if role := text(`document.getElementById("completions").getAttribute("role") + " " + document.getElementById("source").getAttribute("aria-expanded")`); role != "listbox true" {
		t.Errorf("completions: %q, want a listbox, expanded", role)
	}
	run("filter and choose", chromedp.KeyEvent("l"))
	waitFor("filtered", `[...document.querySelectorAll('#completions [role="option"]')].map(o => o.dataset.value).join() === "lt,lte,like"`)
	run("arrows", chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowUp))
	if sel := text(`document.getElementById(document.getElementById("source").getAttribute("aria-activedescendant")).dataset.value`); sel != "lte" {
		t.Errorf("selected %q after down, down, up; want lte", sel)
	}
	run("accept", enter)
	waitFor("inserted and valid again", value+`.includes("op: lte, value: { ago: 90d }") && document.getElementById("completions").hidden &&
		document.getElementById("diag-summary").textContent.startsWith("No problems") && !document.querySelector("#marks span.diag")`)
	// Keys of an email activity: its configuration's, less those it has.
	rateAt := at(text(value), "    rate: 200") + len("    rate: 200")
	caret(rateAt, rateAt)
	run("complete a key", enter, chromedp.KeyEvent(" ", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	waitFor("keys offered", `!document.getElementById("completions").hidden`)
	shot(t, ctx, "editor-complete")
	keys := "," + text(`[...document.querySelectorAll('#completions [role="option"]')].map(o => o.dataset.value).join()`) + ","
	for _, k := range []string{"window", "confirm", "experiment", "label"} {
		if !strings.Contains(keys, ","+k+",") {
			t.Errorf("keys of an email activity %s lack %s", keys, k)
		}
	}
	for _, k := range []string{"rate", "purpose", "id", "segments", "where"} {
		if strings.Contains(keys, ","+k+",") {
			t.Errorf("keys of an email activity %s offer %s", keys, k)
		}
	}
	run("close", chromedp.KeyEvent(kb.Escape))
	waitFor("closed", `document.getElementById("completions").hidden && document.getElementById("source").getAttribute("aria-expanded") === "false"`)
	// Tab inserts two spaces; Escape, then Tab, leaves the editor.
	run("tab", tab)
	if !strings.Contains(text(value), "    rate: 200\n      \n    capping") {
		t.Errorf("Enter did not indent as the line above, or Tab did not add two spaces: %q", text(value))
	}
	run("leave", chromedp.KeyEvent(kb.Escape), tab)
	if id := text(`document.activeElement.id`); id != "save" {
		t.Errorf("Escape, Tab: the focus is on %q, want the save button", id)
	}
	end := strings.Index(text(value), "    rate: 200\n") + len("    rate: 200\n      ")
	caret(end, end)
	run("undo the new line", chromedp.KeyEvent(strings.Repeat(kb.Backspace, 7)))
	if !strings.Contains(text(value), "    rate: 200\n    capping") {
		t.Errorf("the new line is not gone: %q", text(value))
	}

	// The canvas follows the text: a renamed activity appears.
	idAt := at(text(value), "id: saveVips") + len("id: ")
	caret(idAt, idAt+len("save"))
	run("rename", chromedp.KeyEvent("keep"))
	waitFor("the canvas redrawn", `!!document.querySelector('#canvas g.act[data-id="keepVips"]') && !document.querySelector('#canvas g.act[data-id="saveVips"]')`)

	// Save at the revision read.
	run("save", chromedp.Click("#save"))
	waitFor("saved", fmt.Sprintf(`document.getElementById("save-status").textContent === "Saved: revision %d."`, rev0+1))

	// Someone else saves; our next save is refused and our text kept.
	_, now := apiCall(t, hs.URL, "GET", "/v1/campaigns/winback-q4", nil)
	theirs := strings.Replace(now["source"].(string), "name: Win back lapsed customers", "name: Win back, Q4", 1)
	if st, out := apiCall(t, hs.URL, "PUT", "/v1/campaigns/winback-q4", map[string]any{"source": theirs, "rev": now["rev"]}); st != http.StatusOK {
		t.Fatalf("their save: %d %v", st, out)
	}
	end = len(text(value))
	caret(end, end)
	run("edit and save again", chromedp.KeyEvent("# mine"), enter, chromedp.Click("#save"))
	waitFor("409", `!document.getElementById("conflict").hidden`)
	mine := text(value)
	if msg := text(`document.getElementById("conflict-message").textContent`); !strings.Contains(msg, "Someone else saved winback-q4") || !strings.HasSuffix(mine, "# mine\n") {
		t.Errorf("conflict: %q; text %q", msg, mine[max(0, len(mine)-40):])
	}
	run("load theirs", chromedp.Click("#load-theirs"))
	waitFor("theirs loaded, mine kept", value+` === `+jsString(theirs)+` && document.getElementById("mine").value === `+jsString(mine))
	run("put mine back and save", chromedp.Click("#put-mine-back"))
	waitFor("mine back", value+` === `+jsString(mine))
	run("save over theirs", chromedp.Click("#save"))
	waitFor("saved over theirs", fmt.Sprintf(`document.getElementById("save-status").textContent === "Saved: revision %d."`, rev0+3))

	// The diff against the published version, then publish.
	run("review", chromedp.Click("#review"), chromedp.WaitVisible("#diff"))
	rows := text(`[...document.querySelectorAll("#diff tr.add, #diff tr.del")].map(r => r.className + " " + r.querySelector("td.text").textContent).join("\n")`)
	if rows != "del         - { field: lastPurchaseAt, op: lt, value: { ago: 90d } }\nadd         - { field: lastPurchaseAt, op: lte, value: { ago: 90d } }\n"+
		"del   - id: saveVips\nadd   - id: keepVips\nadd # mine" {
		page, _ := chromedp.Run(ctx, chromedp.OuterHTML("main"))
		t.Errorf("diff rows:\n%s\n%s", rows, page)
	}
	shot(t, ctx, "diff")
	run("publish", chromedp.Click("#publish"), chromedp.WaitVisible("#campaign"))
	if st := text(`document.querySelector("h1 .badge").textContent`); st != "scheduled" {
		t.Errorf("after publish: %s", st)
	}
	t.Logf("editor browser test took %s; waited for %s", time.Since(start).Round(time.Millisecond), strings.Join(waits, ", "))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// enter presses Enter as a person does: one keyDown carrying its text, which
// the page's handler may prevent (chromedp's KeyEvent sends the text in a
// char event of its own, which nothing prevents).
var enter = press("Enter", 13, "\r")

// tab presses Tab (no text: the browser moves the focus unless prevented).
var tab = press("Tab", 9, "")

func press(key string, code int64, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: key, Code: key,
			WindowsVirtualKeyCode: code, NativeVirtualKeyCode: code, Text: text, UnmodifiedText: text}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := down
		up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, up)
		return err
	})
}
