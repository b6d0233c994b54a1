package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/state"
)

func (c *Console) routes() {
	m := c.mux
	m.HandleFunc("GET /login", c.loginPage)
	m.HandleFunc("POST /login", c.login)
	m.HandleFunc("POST /logout", c.mutation(c.logout))
	m.HandleFunc("GET /assets/{name}", c.asset)
	m.HandleFunc("GET /{$}", c.page(c.listPage))
	m.HandleFunc("GET /campaigns/{id}", c.page(c.campaignPage))
	m.HandleFunc("POST /campaigns/{id}/test-run", c.mutation(c.startRun("test-run")))
	m.HandleFunc("POST /campaigns/{id}/trigger", c.mutation(c.startRun("trigger")))
	m.HandleFunc("POST /campaigns/{id}/actions/{action}", c.mutation(c.action))
	m.HandleFunc("POST /campaigns/{id}/runs/{run}/stop", c.mutation(c.runAction("stop")))
	m.HandleFunc("POST /campaigns/{id}/runs/{run}/resume", c.mutation(c.runAction("resume")))
	m.HandleFunc("POST /campaigns/{id}/runs/{run}/confirm/{activity}", c.mutation(c.runAction("confirm")))
	m.HandleFunc("GET /ui/runs/{run}", c.page(c.runJSON))
	m.HandleFunc("GET /ui/runs/{run}/transitions/{activity}/{port}", c.page(c.rowsJSON))
	m.HandleFunc("GET /ui/runs/{run}/csv/{activity}/{port}", c.page(c.rowsCSV))
	m.HandleFunc("GET /ui/runs/{run}/activities/{activity}", c.page(c.activityJSON))
	c.editorRoutes()
	m.HandleFunc("GET /ui/campaigns/{id}/activities/{activity}", c.page(c.activityJSON))
	m.HandleFunc("GET /ui/runs/{run}/events", c.page(c.runEvents))
	c.viewRoutes() // proofs, reports, audiences (views.go)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := c.session(r); !ok {
			c.unauthenticated(w, r)
			return
		}
		http.NotFound(w, r)
	})
}

var funcs = template.FuncMap{
	"join": strings.Join,
	"when": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	// launch shows a scheduled launch in the schedule's zone (UTC without one).
	"launch": func(t time.Time, s *state.Schedule) string {
		loc := time.UTC
		if s != nil && s.Timezone != "" {
			if l, err := campaign.LoadLocation(s.Timezone); err == nil {
				loc = l
			}
		}
		return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
	},
	"svg": func(s string) template.HTML { return template.HTML(s) }, // canvas escapes its text
}

func (c *Console) render(w http.ResponseWriter, status int, name string, data any) {
	var b strings.Builder
	if err := c.pages.ExecuteTemplate(&b, name, data); err != nil {
		c.o.Logger.Error("console template", "template", name, "error", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, b.String())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func isJSON(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/ui/") }

// passJSON writes an API answer through.
func passJSON(w http.ResponseWriter, a apiAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// asset serves the stylesheet to anyone (the login page uses it) and the
// script to sessions only.
func (c *Console) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	types := map[string]string{"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8",
		"editor.js": "text/javascript; charset=utf-8", "editor.css": "text/css; charset=utf-8"}
	ct, ok := types[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name != "console.css" {
		if _, _, ok := c.session(r); !ok {
			c.unauthenticated(w, r)
			return
		}
	}
	data, err := fs.ReadFile(files, "assets/"+name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Write(data)
}

type loginData struct {
	Next, Error string
	OIDC        bool // log in with the identity provider, not the token
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, http.StatusOK, "login.html", loginData{Next: safeNext(r.URL.Query().Get("next")), OIDC: c.oidc != nil})
}

// safeNext keeps a redirect after login on this server.
func safeNext(n string) string {
	if !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") || strings.HasPrefix(n, "/\\") {
		return "/"
	}
	return n
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !sameOrigin(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if !c.tokenOK(r.PostFormValue("token")) {
		c.render(w, http.StatusUnauthorized, "login.html", loginData{Next: next, Error: "That is not the server's token."})
		return
	}
	id, _ := c.sessions.create()
	c.setCookie(w, r, id, int(c.o.SessionTTL/time.Second))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// listRow is a campaign of the list with its last run.
type listRow struct {
	api.CampaignView
	Run    *api.RunView
	Counts []string
}

type listData struct {
	CSRF, Status, Error string
	Statuses            []string
	Rows                []listRow
	Create              createForm
}

func (c *Console) listPage(w http.ResponseWriter, r *http.Request, se session) {
	c.list(w, r, se, http.StatusOK, createForm{})
}

// list renders the list page, with the "New campaign" form as sent back.
func (c *Console) list(w http.ResponseWriter, r *http.Request, se session, status int, f createForm) {
	ctx := r.Context()
	d := listData{CSRF: se.csrf, Status: r.URL.Query().Get("status"), Create: f,
		Statuses: []string{"draft", "scheduled", "live", "completed", "stopped", "closed", "archived"}}
	q := url.Values{}
	if d.Status != "" {
		q.Set("status", d.Status)
	}
	var list api.CampaignList
	if err := c.get(ctx, "/v1/campaigns", q, &list); err != nil {
		d.Error = err.Error()
		c.render(w, status, "list.html", d)
		return
	}
	for _, cv := range list.Campaigns {
		row := listRow{CampaignView: cv}
		var runs api.RunList
		if c.get(ctx, "/v1/campaigns/"+cv.ID+"/runs", url.Values{"limit": {"1"}}, &runs) == nil && len(runs.Runs) > 0 {
			var rv api.RunView
			if c.get(ctx, "/v1/runs/"+runs.Runs[0].ID, nil, &rv) == nil {
				row.Run = &rv
				for _, t := range rv.Transitions {
					if t.Count != nil && len(t.To) > 0 {
						row.Counts = append(row.Counts, fmt.Sprintf("%s.%s %d", t.From, t.Port, *t.Count))
					}
				}
			}
		}
		d.Rows = append(d.Rows, row)
	}
	c.render(w, status, "list.html", d)
}

// field is a run parameter's form field.
type field struct {
	Name, Type, Input, Value, Description, Error string
	Required, Checked                            bool
}

type campaignData struct {
	CSRF      string
	Campaign  api.CampaignView
	Runs      []api.RunView
	Run       *api.RunView
	SVG       string
	Fields    []field
	Error     string
	FormError string
	Actions   []string
	CanTest   bool
	CanTrig   bool
	Held      []string
	Parsed    bool
	Confirm   *confirmation // a held send under review: its input's count and sample
}

// buttons are the lifecycle actions the console offers as one-click forms.
var buttons = []string{"publish", "stop", "close", "back-to-draft", "archive", "duplicate", "delete"}

func (c *Console) campaignPage(w http.ResponseWriter, r *http.Request, se session) {
	c.showCampaign(w, r, se, http.StatusOK, r.URL.Query().Get("run"), nil, "")
}

// showCampaign renders the campaign page; form holds a submitted run form to show
// again with errors.
func (c *Console) showCampaign(w http.ResponseWriter, r *http.Request, se session, status int, runID string, form *apiErr, pageErr string) {
	ctx := r.Context()
	id := r.PathValue("id")
	d := campaignData{CSRF: se.csrf, Error: pageErr}
	if a := c.call(ctx, http.MethodGet, "/v1/campaigns/"+url.PathEscape(id), nil, nil); a.status != http.StatusOK {
		e := a.err()
		c.render(w, e.Status, "error.html", e)
		return
	} else if err := json.Unmarshal(a.body, &d.Campaign); err != nil {
		c.render(w, http.StatusBadGateway, "error.html", apiErr{Status: 502, Message: "unreadable campaign"})
		return
	}
	for _, a := range d.Campaign.Actions {
		switch {
		case a == "test-run":
			d.CanTest = true
		case a == "trigger":
			d.CanTrig = true
		case slices.Contains(buttons, a):
			d.Actions = append(d.Actions, a)
		}
	}
	var runs api.RunList
	if err := c.get(ctx, "/v1/campaigns/"+url.PathEscape(id)+"/runs", url.Values{"limit": {"10"}}, &runs); err == nil {
		d.Runs = runs.Runs
	}
	if runID == "" && len(d.Runs) > 0 {
		runID = d.Runs[0].ID
	}
	if runID != "" {
		var rv api.RunView
		if err := c.get(ctx, "/v1/runs/"+url.PathEscape(runID), nil, &rv); err == nil && rv.CampaignID == id {
			d.Run = &rv
			for _, a := range rv.Activities {
				if a.Waiting != nil && a.Waiting.Reason == "held" {
					d.Held = append(d.Held, a.ID)
				}
			}
		}
	}
	if act := r.URL.Query().Get("confirm"); act != "" && slices.Contains(d.Held, act) {
		d.Confirm = c.confirmation(r, d.Run, act)
	}
	parsed, _ := campaign.ParseCampaign(id+".yaml", []byte(d.Campaign.Source))
	d.Parsed = parsed != nil
	d.SVG = drawCanvas(parsed, d.Run)
	d.Fields = fields(parsed, r, form)
	if form != nil {
		d.FormError = form.Message
	}
	c.render(w, status, "campaign.html", d)
}

// fields are the run form's fields, from the campaign's parameters; a
// submitted form's values and the API's errors, by path, when given.
func fields(c *campaign.Campaign, r *http.Request, form *apiErr) []field {
	if c == nil {
		return nil
	}
	var out []field
	for _, name := range campaign.SortedKeys(c.Parameters) {
		p := c.Parameters[name]
		f := field{Name: name, Type: p.Type, Required: p.Required, Description: p.Description, Input: "text"}
		switch p.Type {
		case campaign.TypeInteger, campaign.TypeNumber:
			f.Input = "number"
		case campaign.TypeBoolean:
			f.Input = "checkbox"
		case campaign.TypeDate:
			f.Input = "date"
		}
		if p.Default != nil {
			f.Value = fmt.Sprint(p.Default)
			f.Checked = p.Default == true
		}
		if form != nil {
			f.Value = r.PostFormValue("p." + name)
			f.Checked = f.Value != ""
			for _, dt := range form.Details {
				if dt.Path == "$.params."+name {
					f.Error = dt.Message
				}
			}
			if f.Error == "" && form.Path == "$.params."+name {
				f.Error = form.Message
			}
		}
		out = append(out, f)
	}
	return out
}

// params reads the run form into the API's parameters: typed where the text
// reads as its type, else passed as text for the API to refuse at its path.
func params(c *campaign.Campaign, r *http.Request) map[string]any {
	out := map[string]any{}
	if c == nil {
		return out
	}
	for name, p := range c.Parameters {
		v := strings.TrimSpace(r.PostFormValue("p." + name))
		if p.Type == campaign.TypeBoolean {
			out[name] = v != ""
			continue
		}
		if v == "" {
			continue
		}
		switch p.Type {
		case campaign.TypeInteger:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				out[name] = n
				continue
			}
		case campaign.TypeNumber:
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				out[name] = n
				continue
			}
		}
		out[name] = v
	}
	return out
}

func (c *Console) startRun(kind string) func(w http.ResponseWriter, r *http.Request, se session) {
	return func(w http.ResponseWriter, r *http.Request, se session) {
		ctx := r.Context()
		id := r.PathValue("id")
		var cv api.CampaignView
		if err := c.get(ctx, "/v1/campaigns/"+url.PathEscape(id), nil, &cv); err != nil {
			e, _ := err.(apiErr)
			c.render(w, e.Status, "error.html", e)
			return
		}
		parsed, _ := campaign.ParseCampaign(id+".yaml", []byte(cv.Source))
		a := c.call(ctx, http.MethodPost, "/v1/campaigns/"+url.PathEscape(id)+"/"+kind, nil, api.RunInput{Params: params(parsed, r)})
		if a.status/100 != 2 {
			e := a.err()
			c.showCampaign(w, r, se, e.Status, "", &e, "")
			return
		}
		var rv api.RunView
		json.Unmarshal(a.body, &rv)
		http.Redirect(w, r, "/campaigns/"+url.PathEscape(id)+"?run="+url.QueryEscape(rv.ID), http.StatusSeeOther)
	}
}

// action passes a lifecycle action to the API, which refuses what the
// campaign's status does not allow.
func (c *Console) action(w http.ResponseWriter, r *http.Request, se session) {
	id, act := r.PathValue("id"), r.PathValue("action")
	if !slices.Contains(buttons, act) {
		http.NotFound(w, r)
		return
	}
	method, p := http.MethodPost, "/v1/campaigns/"+url.PathEscape(id)+"/"+act
	if act == "delete" {
		method, p = http.MethodDelete, "/v1/campaigns/"+url.PathEscape(id)
	}
	a := c.call(r.Context(), method, p, nil, nil)
	if a.status/100 != 2 {
		e := a.err()
		c.showCampaign(w, r, se, e.Status, "", nil, e.Message)
		return
	}
	switch act {
	case "delete":
		http.Redirect(w, r, "/", http.StatusSeeOther)
	case "duplicate":
		var cv api.CampaignView
		json.Unmarshal(a.body, &cv)
		http.Redirect(w, r, "/campaigns/"+url.PathEscape(cv.ID), http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/campaigns/"+url.PathEscape(id), http.StatusSeeOther)
	}
}

func (c *Console) runAction(kind string) func(w http.ResponseWriter, r *http.Request, se session) {
	return func(w http.ResponseWriter, r *http.Request, se session) {
		id, run := r.PathValue("id"), r.PathValue("run")
		p := "/v1/runs/" + url.PathEscape(run) + "/" + kind
		if kind == "confirm" {
			p = "/v1/runs/" + url.PathEscape(run) + "/activities/" + url.PathEscape(r.PathValue("activity")) + "/confirm"
		}
		a := c.call(r.Context(), http.MethodPost, p, nil, nil)
		if a.status/100 != 2 {
			e := a.err()
			c.showCampaign(w, r, se, e.Status, run, nil, e.Message)
			return
		}
		http.Redirect(w, r, "/campaigns/"+url.PathEscape(id)+"?run="+url.QueryEscape(run), http.StatusSeeOther)
	}
}

// runJSON is what the canvas polls: the API's run view.
func (c *Console) runJSON(w http.ResponseWriter, r *http.Request, _ session) {
	passJSON(w, c.call(r.Context(), http.MethodGet, "/v1/runs/"+url.PathEscape(r.PathValue("run")), nil, nil))
}

func (c *Console) transitionPath(r *http.Request) string {
	return "/v1/runs/" + url.PathEscape(r.PathValue("run")) + "/transitions/" + url.PathEscape(r.PathValue("activity")) + "/" +
		url.PathEscape(r.PathValue("port")) + "/preview"
}

// rowsJSON is one page of a transition's rows.
func (c *Console) rowsJSON(w http.ResponseWriter, r *http.Request, _ session) {
	q := url.Values{"limit": {"50"}, "offset": {"0"}}
	for _, k := range []string{"limit", "offset"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	passJSON(w, c.call(r.Context(), http.MethodGet, c.transitionPath(r), q, nil))
}

// csvPage is the page size of a CSV download: the API's largest.
const csvPage = 1000

// rowsCSV streams a transition as CSV, a page of the API at a time, so that no
// more than a page is held whatever the transition's size.
func (c *Console) rowsCSV(w http.ResponseWriter, r *http.Request, _ session) {
	ctx := r.Context()
	base := c.transitionPath(r)
	var first api.Preview
	if err := c.get(ctx, base, url.Values{"limit": {strconv.Itoa(csvPage)}, "offset": {"0"}}, &first); err != nil {
		e, _ := err.(apiErr)
		http.Error(w, e.Message, max(e.Status, 400))
		return
	}
	name := path.Base(r.PathValue("activity")) + "." + path.Base(r.PathValue("port")) + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	cw := newCSV(w)
	cw.header(first.Columns)
	page := first
	for off := int64(0); ; {
		cw.rows(page.Rows)
		off += int64(len(page.Rows))
		if len(page.Rows) == 0 || off >= page.Total {
			break
		}
		page = api.Preview{}
		if err := c.get(ctx, base, url.Values{"limit": {strconv.Itoa(csvPage)}, "offset": {strconv.FormatInt(off, 10)}}, &page); err != nil {
			c.o.Logger.Error("console csv", "error", err.Error())
			break // the download ends short; the status is already sent
		}
	}
	cw.flush()
}
