package console

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/stepwise-run/stepwise/docs"
	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// The editor: a campaign's draft as YAML text (the source of truth), with
// completion from the campaign JSON Schema, the API's diagnostics as you type
// and the canvas drawn from the text; saved with the revision it was read at;
// and the draft's diff against the published version before publishing.
func (c *Console) editorRoutes() {
	m := c.mux
	m.HandleFunc("GET /campaigns/{id}/edit", c.page(c.editPage))
	m.HandleFunc("POST /campaigns/{id}/edit", c.mutation(c.saveForm))
	m.HandleFunc("GET /campaigns/{id}/diff", c.page(c.diffPage))
	m.HandleFunc("POST /campaigns/new", c.mutation(c.create))
	m.HandleFunc("GET /ui/schema/campaign.json", c.page(c.schemaJSON))
	m.HandleFunc("GET /ui/campaigns/{id}", c.page(c.campaignJSON))
	m.HandleFunc("POST /ui/validate", c.jsonMutation(c.validateJSON))
	m.HandleFunc("POST /ui/draw", c.jsonMutation(c.drawJSON))
	m.HandleFunc("POST /ui/campaigns/{id}/save", c.jsonMutation(c.saveJSON))
}

// csrfHeader carries the session's CSRF token on the editor's JSON posts.
const csrfHeader = "X-CSRF-Token"

// jsonMutation wraps a JSON POST of the page's script: a session, a
// same-origin request, the session's CSRF token in csrfHeader, a JSON body.
// Refusals are JSON.
func (c *Console) jsonMutation(h func(w http.ResponseWriter, r *http.Request, se session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, se, ok := c.session(r)
		if !ok {
			c.unauthenticated(w, r)
			return
		}
		refuse := func(status int, code, msg string) {
			writeJSON(w, status, map[string]any{"error": apiErr{Code: code, Message: msg}})
		}
		if !sameOrigin(r) {
			refuse(http.StatusForbidden, "cross_site", "cross-site request refused")
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(se.csrf)) != 1 {
			refuse(http.StatusForbidden, "csrf", "missing or stale form token: reload the page")
			return
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			refuse(http.StatusUnsupportedMediaType, "media_type", "send application/json")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 3*api.MaxCampaignBytes) // the document, JSON-escaped
		h(w, r, se)
	}
}

// docInput is the body of the editor's posts.
type docInput struct {
	Source string `json:"source"`
	Rev    int64  `json:"rev"`
}

func readDoc(w http.ResponseWriter, r *http.Request) (docInput, bool) {
	var in docInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": apiErr{Code: "malformed", Message: "unreadable body: " + err.Error()}})
		return in, false
	}
	return in, true
}

func (c *Console) schemaJSON(w http.ResponseWriter, _ *http.Request, _ session) {
	w.Header().Set("Content-Type", "application/schema+json")
	w.Write(docs.CampaignSchema)
}

// campaignJSON is the campaign as the API has it now: its draft and revision,
// for the editor to show what someone else saved.
func (c *Console) campaignJSON(w http.ResponseWriter, r *http.Request, _ session) {
	passJSON(w, c.call(r.Context(), http.MethodGet, "/v1/campaigns/"+url.PathEscape(r.PathValue("id")), nil, nil))
}

// validateJSON is the API's validate of a document: the diagnostics
// `stepwise validate` prints, with their lines and columns.
func (c *Console) validateJSON(w http.ResponseWriter, r *http.Request, _ session) {
	in, ok := readDoc(w, r)
	if !ok {
		return
	}
	passJSON(w, c.call(r.Context(), http.MethodPost, "/v1/validate", nil, api.CampaignInput{Source: in.Source}))
}

// drawn is the canvas of a document being edited.
type drawn struct {
	// SVG is empty when the document does not parse; Error then says why.
	SVG        string `json:"svg"`
	Activities int    `json:"activities"`
	Error      string `json:"error,omitempty"`
}

// drawJSON draws a document as `stepwise graph` does, when it parses.
func (c *Console) drawJSON(w http.ResponseWriter, r *http.Request, _ session) {
	in, ok := readDoc(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, draw(in.Source))
}

func draw(src string) drawn {
	parsed, diags := campaign.ParseCampaign("draft.yaml", []byte(src))
	if parsed == nil {
		d := drawn{Error: "the document does not parse"}
		if len(diags) > 0 {
			d.Error = diags[0].String()
		}
		return d
	}
	return drawn{SVG: drawCanvas(parsed, nil), Activities: len(parsed.Activities)}
}

// saveJSON replaces the draft, at the revision the page read (a 409 when
// someone saved since); the API's answer as it is.
func (c *Console) saveJSON(w http.ResponseWriter, r *http.Request, _ session) {
	in, ok := readDoc(w, r)
	if !ok {
		return
	}
	if in.Rev <= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": apiErr{Code: "invalid", Message: "rev is missing: reload the page", Path: "$.rev"}})
		return
	}
	passJSON(w, c.call(r.Context(), http.MethodPut, "/v1/campaigns/"+url.PathEscape(r.PathValue("id")), nil, api.CampaignInput{Source: in.Source, Rev: in.Rev}))
}

type editData struct {
	CSRF     string
	Campaign api.CampaignView
	Source   string
	Rev      int64
	SVG      string
	Editable bool
	Saved    string
	Error    string
	Conflict bool
}

func (c *Console) editPage(w http.ResponseWriter, r *http.Request, se session) {
	cv, ok := c.loadCampaign(w, r)
	if !ok {
		return
	}
	d := editData{CSRF: se.csrf, Campaign: cv, Source: cv.Source, Rev: cv.Rev, Editable: cv.Status == "draft"}
	if s := r.URL.Query().Get("saved"); s != "" {
		d.Saved = "Saved: revision " + s + "."
	}
	c.renderEdit(w, http.StatusOK, d)
}

func (c *Console) renderEdit(w http.ResponseWriter, status int, d editData) {
	if !d.Editable && d.Error == "" {
		d.Error = fmt.Sprintf("Campaign %s is %s: only a draft is edited (duplicate it, or take it back to draft).", d.Campaign.ID, d.Campaign.Status)
	}
	d.SVG = draw(d.Source).SVG
	c.render(w, status, "edit.html", d)
}

func (c *Console) loadCampaign(w http.ResponseWriter, r *http.Request) (api.CampaignView, bool) {
	var cv api.CampaignView
	if err := c.get(r.Context(), "/v1/campaigns/"+url.PathEscape(r.PathValue("id")), nil, &cv); err != nil {
		e, _ := err.(apiErr)
		c.render(w, max(e.Status, 400), "error.html", e)
		return cv, false
	}
	return cv, true
}

// saveForm is the editor's form without script: the same save; a refusal
// shows the page again with the text as it was sent.
func (c *Console) saveForm(w http.ResponseWriter, r *http.Request, se session) {
	id := r.PathValue("id")
	src := strings.ReplaceAll(r.PostFormValue("source"), "\r\n", "\n") // browsers send CRLF
	rev, _ := strconv.ParseInt(r.PostFormValue("rev"), 10, 64)
	if rev <= 0 {
		http.Error(w, "rev is missing: reload the page", http.StatusBadRequest)
		return
	}
	a := c.call(r.Context(), http.MethodPut, "/v1/campaigns/"+url.PathEscape(id), nil, api.CampaignInput{Source: src, Rev: rev})
	if a.status/100 == 2 {
		var cv api.CampaignView
		json.Unmarshal(a.body, &cv)
		http.Redirect(w, r, "/campaigns/"+url.PathEscape(id)+"/edit?saved="+strconv.FormatInt(cv.Rev, 10), http.StatusSeeOther)
		return
	}
	cv, ok := c.loadCampaign(w, r)
	if !ok {
		return
	}
	e := a.err()
	d := editData{CSRF: se.csrf, Campaign: cv, Source: src, Rev: rev, Editable: cv.Status == "draft", Error: e.Message,
		Conflict: e.Code == "conflict"}
	for _, dt := range e.Details {
		d.Error += "\n" + dt.Message
	}
	c.renderEdit(w, e.Status, d)
}

// diffLine is a line of a diff: " " kept, "-" only in the published version,
// "+" only in the draft; Old and New are its line numbers (0 where absent).
type diffLine struct {
	Op       string
	Old, New int
	Text     string
}

// hunk is a run of changed lines with up to context kept lines around.
type hunk struct {
	Header string
	Lines  []diffLine
}

// lineDiff compares two documents line by line, as `diff -u` with context
// lines of context would.
func lineDiff(old, new string, context int) []hunk {
	a, b := splitLines(old), splitLines(new)
	m := difflib.NewMatcherWithJunk(a, b, false, nil) // no heuristic "junk": every line counts
	var out []hunk
	for _, g := range m.GetGroupedOpCodes(context) {
		first, last := g[0], g[len(g)-1]
		h := hunk{Header: fmt.Sprintf("@@ -%s +%s @@", hunkRange(first.I1, last.I2), hunkRange(first.J1, last.J2))}
		for _, op := range g {
			switch op.Tag {
			case 'e':
				for i := op.I1; i < op.I2; i++ {
					h.Lines = append(h.Lines, diffLine{Op: " ", Old: i + 1, New: op.J1 + i - op.I1 + 1, Text: a[i]})
				}
			default: // r, d, i: the removed lines, then the added
				for i := op.I1; i < op.I2; i++ {
					h.Lines = append(h.Lines, diffLine{Op: "-", Old: i + 1, Text: a[i]})
				}
				for j := op.J1; j < op.J2; j++ {
					h.Lines = append(h.Lines, diffLine{Op: "+", New: j + 1, Text: b[j]})
				}
			}
		}
		out = append(out, h)
	}
	return out
}

// hunkRange is a unified diff's "start,count" of lines [lo, hi).
func hunkRange(lo, hi int) string {
	n := hi - lo
	switch n {
	case 0:
		return strconv.Itoa(lo) + ",0"
	case 1:
		return strconv.Itoa(lo + 1)
	}
	return strconv.Itoa(lo+1) + "," + strconv.Itoa(n)
}

func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

type diffData struct {
	CSRF       string
	Campaign   api.CampaignView
	Version    *api.VersionView
	Hunks      []hunk
	Added      int
	Removed    int
	CanPublish bool
	Error      string
}

// diffPage shows the draft against the latest published version, and the
// publish button when the server allows it.
func (c *Console) diffPage(w http.ResponseWriter, r *http.Request, se session) {
	ctx := r.Context()
	cv, ok := c.loadCampaign(w, r)
	if !ok {
		return
	}
	d := diffData{CSRF: se.csrf, Campaign: cv, CanPublish: slices.Contains(cv.Actions, "publish")}
	var vs api.VersionList
	if err := c.get(ctx, "/v1/campaigns/"+url.PathEscape(cv.ID)+"/versions", nil, &vs); err != nil {
		d.Error = err.Error()
	} else if len(vs.Versions) > 0 {
		latest := slices.MaxFunc(vs.Versions, func(a, b api.VersionView) int { return a.Number - b.Number })
		var v api.VersionView
		if err := c.get(ctx, "/v1/campaigns/"+url.PathEscape(cv.ID)+"/versions/"+strconv.Itoa(latest.Number), nil, &v); err != nil {
			d.Error = err.Error()
		} else {
			d.Version = &v
			d.Hunks = lineDiff(v.Source, cv.Source, 3)
			for _, h := range d.Hunks {
				for _, l := range h.Lines {
					switch l.Op {
					case "+":
						d.Added++
					case "-":
						d.Removed++
					}
				}
			}
		}
	}
	c.render(w, http.StatusOK, "diff.html", d)
}

// createForm is the list page's "New campaign" form, sent back with its errors.
type createForm struct {
	ID, Source, From          string
	IDError, FromError, Error string
	Lines                     []lineError
	// Sent is true when the form comes back with errors.
	Sent bool
}

// lineError is a diagnostic of the document in the form, at its line.
type lineError struct {
	Line, Col int
	Message   string
}

var diagPos = regexp.MustCompile(`^[^:\s]*:(\d+):(\d+): (.*)$`)

// create makes a draft from the form: a document (its id must be the form's),
// a starter document for an id alone, or a duplicate of another campaign.
func (c *Console) create(w http.ResponseWriter, r *http.Request, se session) {
	f := createForm{ID: strings.TrimSpace(r.PostFormValue("id")), From: r.PostFormValue("from"),
		Source: strings.ReplaceAll(r.PostFormValue("source"), "\r\n", "\n")}
	fail := func(status int) {
		f.Sent = true
		c.list(w, r, se, status, f)
	}
	if f.ID != "" && !campaign.ValidCampaignID(f.ID) {
		f.IDError = "An id is 1 to 64 lower-case letters, digits and dashes."
		fail(http.StatusBadRequest)
		return
	}
	var a apiAnswer
	switch {
	case f.From != "":
		a = c.call(r.Context(), http.MethodPost, "/v1/campaigns/"+url.PathEscape(f.From)+"/duplicate", nil, api.DuplicateInput{ID: f.ID})
	case strings.TrimSpace(f.Source) == "":
		if f.ID == "" {
			f.IDError = "Give the new campaign an id, or paste its YAML."
			fail(http.StatusBadRequest)
			return
		}
		a = c.call(r.Context(), http.MethodPost, "/v1/campaigns", nil, api.CampaignInput{Source: starter(f.ID)})
	default:
		if parsed, _ := campaign.ParseCampaign("new.yaml", []byte(f.Source)); parsed != nil && f.ID != "" && parsed.ID != f.ID {
			f.IDError = fmt.Sprintf("The YAML's id is %q: make them the same, or leave this field empty.", parsed.ID)
			fail(http.StatusBadRequest)
			return
		}
		a = c.call(r.Context(), http.MethodPost, "/v1/campaigns", nil, api.CampaignInput{Source: f.Source})
	}
	if a.status/100 == 2 {
		var cv api.CampaignView
		json.Unmarshal(a.body, &cv)
		http.Redirect(w, r, "/campaigns/"+url.PathEscape(cv.ID)+"/edit", http.StatusSeeOther)
		return
	}
	e := a.err()
	switch {
	case f.From != "" && e.Status == http.StatusNotFound:
		f.FromError = e.Message
	case e.Path == "$.id" || e.Code == "already_exists" || (f.From != "" && e.Status == http.StatusConflict):
		f.IDError = e.Message
	case len(e.Details) > 0:
		f.Error = "The YAML has errors:"
		for _, dt := range e.Details {
			le := lineError{Message: dt.Message}
			if m := diagPos.FindStringSubmatch(dt.Message); m != nil {
				le.Line, _ = strconv.Atoi(m[1])
				le.Col, _ = strconv.Atoi(m[2])
				le.Message = m[3]
			}
			f.Lines = append(f.Lines, le)
		}
	default:
		f.Error = e.Message
	}
	fail(e.Status)
}

// starter is the document of a campaign created from an id alone: one
// activity to build on in the editor.
func starter(id string) string {
	return "version: 1\nid: " + id + "\nname: " + id + "\nactivities:\n  - id: audience\n    type: build-audience\n"
}
