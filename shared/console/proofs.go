package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// proofCSP is the policy of a proof's HTML body, shown in a sandboxed frame
// of the proofs page: no script (sandbox without allow-scripts, and no
// script source), nothing fetched (images only as data: URLs), its own
// inline styles, and framed only by this origin.
const proofCSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

type proofData struct {
	CSRF       string
	Campaign   api.CampaignView
	Activities []string
	Activity   string
	Keys       string
	Sample     int
	Fields     []field
	Error      string
	Errors     map[string]string // by field: activity, keys, sample
	RunID      string
	Proofs     []proofView
	// Pending: the proofs' test run has not reached the activity yet; the
	// page reloads itself (a Refresh header: no script) until it has.
	Pending string
}

// proofRefresh is how often a pending proofs page reloads itself, in seconds.
const proofRefresh = "2"

// proofView is a rendered message as the page shows it.
type proofView struct {
	channel.Proof
	Lines []header
	Frame string // the URL of its HTML body (email)
}

type header struct{ Name, Value string }

// proofActivities are a campaign's channel activities, in document order.
func proofActivities(c *campaign.Campaign) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, a := range c.Activities {
		if _, ok := channel.Kinds[a.Type]; ok {
			out = append(out, a.ID)
		}
	}
	return out
}

// splitKeys reads recipient keys separated by commas or line breaks.
func splitKeys(s string) []string {
	var out []string
	for _, k := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// proofPage shows the form and, with ?run=&activity=&key= (or &sample=),
// the proofs rendered again from that run's send plan; while the run has not
// reached the activity (a proof's test run on AWS), a notice, and the page
// reloads itself.
func (c *Console) proofPage(w http.ResponseWriter, r *http.Request, se session) {
	q := r.URL.Query()
	d, parsed, ok := c.proofBase(w, r, se)
	if !ok {
		return
	}
	d.Fields = fields(parsed, r, nil)
	d.Activity, d.RunID = q.Get("activity"), q.Get("run")
	if d.Activity == "" && len(d.Activities) > 0 {
		d.Activity = d.Activities[0]
	}
	keys, sample := q["key"], q.Get("sample")
	d.Keys = strings.Join(keys, "\n")
	if n, err := strconv.Atoi(sample); err == nil && n > 0 {
		d.Sample = n
	}
	if d.RunID != "" && (len(keys) > 0 || sample != "") {
		sel := url.Values{"key": keys}
		if len(keys) == 0 {
			sel = url.Values{"sample": {sample}}
		}
		a := c.call(r.Context(), http.MethodGet, "/v1/runs/"+url.PathEscape(d.RunID)+"/activities/"+url.PathEscape(d.Activity)+"/proofs", sel, nil)
		var pl api.ProofList
		switch e := a.err(); {
		case a.status == http.StatusConflict && e.Code == "not_ready":
			d.Pending = e.Message
			w.Header().Set("Refresh", proofRefresh)
		case a.status/100 != 2:
			d.Error = e.Message
		case json.Unmarshal(a.body, &pl) != nil:
			d.Error = "unreadable proofs"
		default:
			d.Proofs = c.proofViews(d.Campaign.ID, pl)
		}
	}
	c.render(w, http.StatusOK, "proofs.html", d)
}

// proofBase reads the campaign of a proofs page.
func (c *Console) proofBase(w http.ResponseWriter, r *http.Request, se session) (proofData, *campaign.Campaign, bool) {
	id := r.PathValue("id")
	d := proofData{CSRF: se.csrf, Sample: 3, Errors: map[string]string{}}
	if err := c.get(r.Context(), "/v1/campaigns/"+url.PathEscape(id), nil, &d.Campaign); err != nil {
		e, _ := err.(apiErr)
		c.render(w, max(e.Status, 400), "error.html", e)
		return d, nil, false
	}
	parsed, _ := campaign.ParseCampaign(id+".yaml", []byte(d.Campaign.Source))
	d.Activities = proofActivities(parsed)
	return d, parsed, true
}

// renderProof asks the API for proofs of the draft, then shows them from the
// proof's test run (a URL that can be reloaded and shared).
func (c *Console) renderProof(w http.ResponseWriter, r *http.Request, se session) {
	d, parsed, ok := c.proofBase(w, r, se)
	if !ok {
		return
	}
	d.Activity, d.Keys = r.PostFormValue("activity"), r.PostFormValue("keys")
	in := api.ProofInput{Activity: d.Activity, Keys: splitKeys(d.Keys), Params: params(parsed, r)}
	if len(in.Keys) == 0 {
		n, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("sample")))
		if err != nil || n < 1 {
			d.Errors["sample"] = "give recipient keys, or a sample size of 1 or more"
			d.Fields = fields(parsed, r, nil)
			c.render(w, http.StatusBadRequest, "proofs.html", d)
			return
		}
		in.Sample, d.Sample = n, n
	}
	a := c.call(r.Context(), http.MethodPost, "/v1/campaigns/"+url.PathEscape(d.Campaign.ID)+"/proofs", nil, in)
	if a.status != http.StatusOK && a.status != http.StatusAccepted {
		e := a.err()
		switch e.Path {
		case "$.activity":
			d.Errors["activity"] = e.Message
		case "$.keys":
			d.Errors["keys"] = e.Message
		case "$.sample":
			d.Errors["sample"] = e.Message
		default:
			d.Error = e.Message
		}
		d.Fields = fields(parsed, r, &e)
		c.render(w, e.Status, "proofs.html", d)
		return
	}
	var pl api.ProofList
	if err := json.Unmarshal(a.body, &pl); err != nil {
		c.render(w, http.StatusBadGateway, "error.html", apiErr{Status: 502, Message: "unreadable proofs"})
		return
	}
	q := url.Values{"run": {pl.RunID}, "activity": {pl.Activity}}
	switch {
	case !pl.Pending:
		for _, p := range pl.Proofs {
			q.Add("key", p.Recipient)
		}
	case len(in.Keys) > 0: // rendered once the test run has reached the activity (AWS)
		q["key"] = in.Keys
	default:
		q.Set("sample", strconv.Itoa(in.Sample))
	}
	http.Redirect(w, r, "/campaigns/"+url.PathEscape(d.Campaign.ID)+"/proofs?"+q.Encode(), http.StatusSeeOther)
}

func (c *Console) proofViews(id string, pl api.ProofList) []proofView {
	var out []proofView
	for _, p := range pl.Proofs {
		v := proofView{Proof: p}
		add := func(name, value string) {
			if value != "" {
				v.Lines = append(v.Lines, header{name, value})
			}
		}
		switch p.Channel {
		case "email":
			add("From", p.From)
			add("To", p.To)
			add("Reply-To", p.ReplyTo)
			add("Subject", p.Subject)
			for _, h := range p.Headers {
				add(h.Name, h.Value)
			}
			if p.HTML != "" {
				v.Frame = "/campaigns/" + url.PathEscape(id) + "/proofs/html?" + url.Values{"run": {pl.RunID}, "activity": {pl.Activity}, "key": {p.Recipient}}.Encode()
			}
		case "sms":
			add("From", p.Sender)
			add("To", p.To)
		case "push":
			add("To", p.To)
			add("Title", p.Title)
			names := make([]string, 0, len(p.Data))
			for k := range p.Data {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				add("Data "+k, p.Data[k])
			}
		}
		out = append(out, v)
	}
	return out
}

// proofHTML serves one proof's HTML body for the sandboxed frame of the
// proofs page, under a policy of its own (proofCSP).
func (c *Console) proofHTML(w http.ResponseWriter, r *http.Request, _ session) {
	q := r.URL.Query()
	key := q.Get("key")
	var pl api.ProofList
	err := c.get(r.Context(), "/v1/runs/"+url.PathEscape(q.Get("run"))+"/activities/"+url.PathEscape(q.Get("activity"))+"/proofs", url.Values{"key": {key}}, &pl)
	h := w.Header()
	h.Set("Content-Security-Policy", proofCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	if err != nil || len(pl.Proofs) != 1 || pl.Proofs[0].HTML == "" {
		msg := "no HTML body"
		if err != nil {
			msg = err.Error()
		}
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(msg))
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(pl.Proofs[0].HTML))
}
