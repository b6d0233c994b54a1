package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/feedback"
	"github.com/stepwise-run/stepwise/shared/sampledata"
)

// viewsCampaign sends an email with an A/B experiment and a holdout to every
// customer, and saves them as the audience "everyone".
const viewsCampaign = `version: 1
id: rep
dimension: customers
activities:
  - { id: all, type: build-audience }
  - id: mail
    type: email
    from: all
    message: { from: "Shop <news@shop.example>", subject: "Hi {{ recipient.firstName }}", html: "<p>Dear {{ recipient.firstName }}</p>", text: "Hi" }
    experiment:
      holdout: 10%
      variants:
        - { name: A, weight: 50 }
        - { name: B, weight: 50, subject: "B for {{ recipient.firstName }}" }
  - { id: keep, type: save-audience, from: all, audience: everyone }
`

// viewsEnv is an API over 20 sample customers with the campaign rep as a draft.
func viewsEnv(t *testing.T) *env {
	t.Helper()
	return viewsEnvWith(t, nil)
}

// viewsEnvWith is viewsEnv with options changed by edit.
func viewsEnvWith(t *testing.T, edit func(*api.Options)) *env {
	t.Helper()
	return viewsEnvOf(t, 20, edit)
}

// viewsEnvOf is viewsEnvWith over that many sample customers.
func viewsEnvOf(t *testing.T, customers int, edit func(*api.Options)) *env {
	t.Helper()
	dir := t.TempDir()
	if err := sampledata.Generate(context.Background(), filepath.Join(dir, "data"), sampledata.Options{Customers: customers, Seed: 1,
		Today: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Threads: 1}); err != nil {
		t.Fatal(err)
	}
	cat, err := os.ReadFile(filepath.Join(dir, "data", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The catalog's sources are relative to it: keep it beside the data.
	os.WriteFile(filepath.Join(dir, "catalog.yaml"), []byte(strings.ReplaceAll(string(cat), "source: ", "source: data/")), 0o644)
	e := newEnvWith(t, -1, func(o *api.Options) {
		o.Sources = api.DirSources{Dir: dir}
		if edit != nil {
			edit(o)
		}
	})
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": viewsCampaign}), 201, "create rep")
	return e
}

// rowsOf reads a whole transition through the preview route: column name → values per row.
func (e *env) rowsOf(run, act, port string) []map[string]any {
	e.t.Helper()
	r := e.expect(e.do("GET", "/v1/runs/"+run+"/transitions/"+act+"/"+port+"/preview?limit=1000", nil), 200, "preview "+act+"."+port)
	var p api.Preview
	json.Unmarshal(r.raw, &p)
	var out []map[string]any
	for _, row := range p.Rows {
		m := map[string]any{}
		for i, c := range p.Columns {
			m[c.Name] = row[i]
		}
		out = append(out, m)
	}
	return out
}

// Proofs of the draft: chosen keys in the order asked, with each recipient's
// values; a sample is deterministic; the same keys rendered again from the
// run's plan give the same messages; bad requests name what is wrong.
func TestRenderProofsRoute(t *testing.T) {
	e := viewsEnv(t)
	first := e.expect(e.do("POST", "/v1/campaigns/rep/proofs", map[string]any{"activity": "mail", "sample": 4}), 200, "sample")
	var sample api.ProofList
	json.Unmarshal(first.raw, &sample)
	if sample.Activity != "mail" || sample.RunID == "" || len(sample.Proofs) != 4 {
		t.Fatalf("sample: %s", first.raw)
	}
	again := e.expect(e.do("POST", "/v1/campaigns/rep/proofs", map[string]any{"activity": "mail", "sample": 4}), 200, "sample again")
	var sample2 api.ProofList
	json.Unmarshal(again.raw, &sample2)
	for i := range sample.Proofs {
		if sample.Proofs[i].Recipient != sample2.Proofs[i].Recipient {
			t.Fatalf("the sample is not deterministic: %s vs %s", sample.Proofs[i].Recipient, sample2.Proofs[i].Recipient)
		}
	}
	// The proof run is a test run, recorded stopped once mail has run.
	run := e.expect(e.do("GET", "/v1/runs/"+sample.RunID, nil), 200, "proof run")
	if run.body["test"] != true || run.str("status") != "stopped" {
		t.Fatalf("proof run: %s", run.raw)
	}
	// Chosen keys: each recipient's own first name and address, in the order asked.
	people := map[string]map[string]any{}
	for _, row := range e.rowsOf(sample.RunID, "all", "out") {
		people[row["customerId"].(string)] = row
	}
	if len(people) != 20 {
		t.Fatalf("%d customers", len(people))
	}
	var keys []string
	for k := range people {
		keys = append(keys, k)
	}
	keys = []string{max(keys[0], keys[1]), min(keys[0], keys[1])}
	r := e.expect(e.do("POST", "/v1/campaigns/rep/proofs", map[string]any{"activity": "mail", "keys": keys}), 200, "keys")
	var pl api.ProofList
	json.Unmarshal(r.raw, &pl)
	if len(pl.Proofs) != 2 {
		t.Fatalf("keys: %s", r.raw)
	}
	for i, p := range pl.Proofs {
		who := people[keys[i]]
		name, _ := who["firstName"].(string)
		if p.Recipient != keys[i] || p.To != who["email"] || p.HTML != "<p>Dear "+name+"</p>" {
			t.Errorf("proof %d: %+v, want %s (%s, %v)", i, p, keys[i], name, who["email"])
		}
		if p.Skip != "holdout" && p.Subject != "Hi "+name && p.Subject != "B for "+name {
			t.Errorf("subject %q for %s", p.Subject, name)
		}
		if p.Skip == "" && (p.UnsubscribeURL == "" || !strings.Contains(p.EML, "Subject: ")) {
			t.Errorf("proof %d without its unsubscribe link or message: %+v", i, p)
		}
	}
	// The same keys again from that run's plan.
	q := url.Values{"key": keys}
	rr := e.expect(e.do("GET", "/v1/runs/"+pl.RunID+"/activities/mail/proofs?"+q.Encode(), nil), 200, "run proofs by key")
	var pl2 api.ProofList
	json.Unmarshal(rr.raw, &pl2)
	if len(pl2.Proofs) != 2 || pl2.Proofs[0].EML != pl.Proofs[0].EML || pl2.Proofs[1].HTML != pl.Proofs[1].HTML || pl2.RunID != pl.RunID {
		t.Fatalf("rendered again:\n%s\nfirst:\n%s", rr.raw, r.raw)
	}
	// Bad requests.
	for _, c := range []struct {
		body       map[string]any
		status     int
		code, path string
		says       string
	}{
		{map[string]any{"activity": "all"}, 400, "invalid_request", "$.activity", "its channel activities: mail"},
		{map[string]any{"activity": "mail", "sample": 51}, 400, "invalid_request", "$.sample", "want 1 to 50"},
		{map[string]any{"activity": "mail", "keys": []string{"nobody"}}, 422, "proof_failed", "", `no recipient with key \"nobody\"`},
		{map[string]any{"activity": "mail", "params": map[string]any{"x": 1}}, 400, "invalid_parameters", "", "x"},
		{map[string]any{}, 400, "invalid_request", "$.activity", "no channel activity"},
	} {
		r := e.do("POST", "/v1/campaigns/rep/proofs", c.body)
		if r.status != c.status || r.errCode() != c.code || (c.path != "" && r.errPath() != c.path) || !strings.Contains(r.raw2(), c.says) {
			t.Errorf("%v: %d %s", c.body, r.status, r.raw)
		}
	}
	if r := e.do("POST", "/v1/campaigns/nope/proofs", map[string]any{"activity": "mail"}); r.status != 404 {
		t.Errorf("unknown campaign: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/v1/runs/"+pl.RunID+"/activities/mail/proofs?sample=x", nil); r.status != 400 || r.errPath() != "sample" {
		t.Errorf("sample=x: %d %s", r.status, r.raw)
	}
}

// A report counts each figure as computed here by hand: sends by variant and
// skips by reason as the transitions hold them, feedback events seeded with
// known counts (an event repeated for a message counts once; another run's
// and another activity's do not count); test runs are listed but not in the
// total; ?run= reports one run.
//
// Over 200 customers: the experiment's draw is seeded by each run's random
// id, and at 20 (18 with consent) no one was held out in one run of seven
// (0.9^18); at 200 the chance is below 1e-8.
func TestReportRoute(t *testing.T) {
	e := viewsEnvOf(t, 200, nil)
	ctx := context.Background()
	e.expect(e.do("POST", "/v1/campaigns/rep/test-run?wait=30s", map[string]any{}), 200, "test run")
	e.expect(e.do("POST", "/v1/campaigns/rep/publish", nil), 200, "publish")
	var runs []string
	for i := 0; i < 2; i++ {
		r := e.expect(e.do("POST", "/v1/campaigns/rep/trigger?wait=30s", map[string]any{}), 200, "trigger")
		if r.str("status") != "succeeded" {
			t.Fatalf("run: %s", r.raw)
		}
		runs = append(runs, r.str("id"))
	}
	// What each run sent and skipped, counted here from its transitions.
	type tally struct {
		sent      map[string]int64 // by variant
		skipped   map[string]int64 // by reason
		byVariant map[string][]string
	}
	count := func(run string) tally {
		t := tally{sent: map[string]int64{}, skipped: map[string]int64{}, byVariant: map[string][]string{}}
		for _, row := range e.rowsOf(run, "mail", "out") {
			v, _ := row["variant"].(string)
			t.sent[v]++
			t.byVariant[v] = append(t.byVariant[v], row["messageId"].(string))
		}
		for _, row := range e.rowsOf(run, "mail", "skipped") {
			reason, _ := row["reason"].(string)
			reason, _, _ = strings.Cut(reason, ": ")
			t.skipped[reason]++
		}
		return t
	}
	t1, t2 := count(runs[0]), count(runs[1])
	if len(t1.byVariant["A"]) < 2 || len(t1.byVariant["B"]) < 2 || t1.skipped["holdout"] == 0 {
		t.Fatalf("the sample data no longer gives two messages of each variant and a holdout: %+v", t1)
	}
	a1, a2, b1, b2 := t1.byVariant["A"][0], t1.byVariant["A"][1], t1.byVariant["B"][0], t1.byVariant["B"][1]
	at := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	rec := func(id string, ev feedback.Event, msg, run, act string) feedback.Record {
		return feedback.Record{ID: id, Event: ev, Channel: "email", Campaign: "rep", Activity: act, Run: run, Recipient: "r-" + msg, MessageID: msg, At: at}
	}
	recs := []feedback.Record{
		rec("d1", feedback.Delivered, a1, runs[0], "mail"),
		rec("d2", feedback.Delivered, a2, runs[0], "mail"),
		rec("d3", feedback.Delivered, b1, runs[0], "mail"),
		rec("o1", feedback.Opened, a1, runs[0], "mail"),
		rec("o2", feedback.Opened, a1, runs[0], "mail"), // the same message opened again
		rec("o3", feedback.Opened, b1, runs[0], "mail"),
		rec("c1", feedback.Clicked, a1, runs[0], "mail"),
		rec("x1", feedback.Complained, a2, runs[0], "mail"),
		rec("b1", feedback.Bounced, b2, runs[0], "mail"),
		rec("u1", feedback.Unsubscribed, "", runs[0], "mail"), // a one-click unsubscribe: no message id
		rec("n1", feedback.Opened, a2, runs[1], "mail"),       // the other run (a2 is not its message)
		rec("n2", feedback.Clicked, a2, runs[0], "other"),     // another activity
	}
	if _, err := e.l.AppendFeedback(ctx, recs); err != nil {
		t.Fatal(err)
	}
	r := e.expect(e.do("GET", "/v1/campaigns/rep/report", nil), 200, "report")
	var rep api.Report
	if err := json.Unmarshal(r.raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Activities) != 1 {
		t.Fatalf("report: %s", r.raw)
	}
	a := rep.Activities[0]
	if a.Activity != "mail" || a.Channel != "email" || fmt.Sprint(a.Variants) != "[A B]" || a.Holdout != "10%" || len(a.Runs) != 3 {
		t.Fatalf("activity: %s", r.raw)
	}
	// Newest first: run 2, run 1, the test run.
	if a.Runs[0].RunID != runs[1] || a.Runs[1].RunID != runs[0] || !a.Runs[2].Test || a.Runs[0].Test {
		t.Fatalf("runs: %+v", a.Runs)
	}
	sum := func(m map[string]int64) (n int64) {
		for _, v := range m {
			n += v
		}
		return n
	}
	want1 := api.Counts{Figures: api.Figures{Sent: sum(t1.sent), Skipped: sum(t1.skipped), Delivered: 3, Bounced: 1, Complained: 1, Opened: 2, Clicked: 1, Unsubscribed: 1}}
	check := func(what string, got, want api.Counts, skipped map[string]int64) {
		t.Helper()
		g, w := got, want
		g.SkippedBy, g.Variants, w.SkippedBy, w.Variants = nil, nil, nil, nil
		if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
			t.Errorf("%s: %+v, want %+v", what, g, w)
		}
		if len(got.SkippedBy) != len(skipped) {
			t.Errorf("%s: skipped by %+v, want %v", what, got.SkippedBy, skipped)
		}
		for _, rc := range got.SkippedBy {
			if skipped[rc.Reason] != rc.Count {
				t.Errorf("%s: skipped %s %d, want %d", what, rc.Reason, rc.Count, skipped[rc.Reason])
			}
		}
	}
	check("run 1", a.Runs[1].Counts, want1, t1.skipped)
	want2 := api.Counts{Figures: api.Figures{Sent: sum(t2.sent), Skipped: sum(t2.skipped), Opened: 1}}
	check("run 2", a.Runs[0].Counts, want2, t2.skipped)
	both := map[string]int64{}
	for k, v := range t1.skipped {
		both[k] += v
	}
	for k, v := range t2.skipped {
		both[k] += v
	}
	check("total", a.Total, api.Counts{Figures: api.Figures{Sent: want1.Sent + want2.Sent, Skipped: want1.Skipped + want2.Skipped, Delivered: 3, Bounced: 1,
		Complained: 1, Opened: 3, Clicked: 1, Unsubscribed: 1}}, both)
	// Per variant in run 1: A delivered 2 (a1, a2), opened 1 (a1, twice), clicked 1, complained 1;
	// B delivered 1, opened 1, bounced 1; the holdout sent nothing. The unsubscribe has no message: no variant.
	v := a.Runs[1].Counts.Variants
	if len(v) != 3 || v[0].Variant != "A" || v[1].Variant != "B" || v[2].Variant != "holdout" {
		t.Fatalf("variants: %+v", v)
	}
	wantV := []api.VariantCounts{
		{Variant: "A", Figures: api.Figures{Sent: t1.sent["A"], Delivered: 2, Opened: 1, Clicked: 1, Complained: 1}},
		{Variant: "B", Figures: api.Figures{Sent: t1.sent["B"], Delivered: 1, Opened: 1, Bounced: 1}},
		{Variant: "holdout", Figures: api.Figures{Skipped: t1.skipped["holdout"]}},
	}
	if fmt.Sprintf("%+v", v) != fmt.Sprintf("%+v", wantV) {
		t.Errorf("variants of run 1:\n%+v\nwant\n%+v", v, wantV)
	}
	// In total, run 2's open is of a message that run 2 did not send (a1 is run 1's): no variant.
	wantV = []api.VariantCounts{
		{Variant: "A", Figures: api.Figures{Sent: t1.sent["A"] + t2.sent["A"], Delivered: 2, Opened: 1, Clicked: 1, Complained: 1}},
		{Variant: "B", Figures: api.Figures{Sent: t1.sent["B"] + t2.sent["B"], Delivered: 1, Opened: 1, Bounced: 1}},
		{Variant: "holdout", Figures: api.Figures{Skipped: t1.skipped["holdout"] + t2.skipped["holdout"]}},
	}
	if tv := a.Total.Variants; fmt.Sprintf("%+v", tv) != fmt.Sprintf("%+v", wantV) {
		t.Errorf("total variants:\n%+v\nwant\n%+v", tv, wantV)
	}
	// The test run would have sent as many as run 1 would, and has no feedback.
	if tr := a.Runs[2].Counts; tr.Sent == 0 || tr.Delivered != 0 {
		t.Errorf("test run: %+v", tr)
	}
	// One run.
	one := e.expect(e.do("GET", "/v1/campaigns/rep/report?run="+runs[0], nil), 200, "one run")
	var rep1 api.Report
	json.Unmarshal(one.raw, &rep1)
	if rep1.Run != runs[0] || len(rep1.Activities[0].Runs) != 1 {
		t.Fatalf("one run: %s", one.raw)
	}
	check("one run", rep1.Activities[0].Total, want1, t1.skipped)
	for path, status := range map[string]int{
		"/v1/campaigns/rep/report?run=nope":    404,
		"/v1/campaigns/rep/report?run=a%2Fb":   400,
		"/v1/campaigns/nope/report":            404,
		"/v1/campaigns/rep/report?run=" + "x!": 400,
	} {
		if r := e.do("GET", path, nil); r.status != status {
			t.Errorf("%s: %d %s", path, r.status, r.raw)
		}
	}
}

// A saved audience with its versions and the campaigns that read or save it.
func TestAudienceRoute(t *testing.T) {
	e := viewsEnv(t)
	e.expect(e.do("POST", "/v1/campaigns/rep/publish", nil), 200, "publish")
	for i := 0; i < 2; i++ {
		e.expect(e.do("POST", "/v1/campaigns/rep/trigger?wait=30s", map[string]any{}), 200, "trigger")
	}
	reader := "version: 1\nid: reader\ndimension: customers\nactivities:\n  - { id: back, type: read-audience, audience: everyone }\n  - { id: other, type: read-audience, audience: someone-else }\n"
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": reader}), 201, "create reader")
	r := e.expect(e.do("GET", "/v1/audiences/everyone", nil), 200, "audience")
	var d api.AudienceDetail
	json.Unmarshal(r.raw, &d)
	if d.Name != "everyone" || len(d.Versions) != 2 || d.Versions[0].Version != 2 || d.Versions[1].Version != 1 ||
		d.Versions[0].Count != 20 || d.Versions[1].Count != 20 || d.Versions[0].Dimension != "customers" {
		t.Fatalf("versions: %s", r.raw)
	}
	if len(d.Campaigns) != 2 {
		t.Fatalf("campaigns: %s", r.raw)
	}
	byID := map[string]api.AudienceUse{}
	for _, u := range d.Campaigns {
		byID[u.CampaignID] = u
	}
	if u := byID["rep"]; fmt.Sprint(u.Saves) != "[keep]" || len(u.Reads) != 0 || u.Status != "live" {
		t.Errorf("rep: %+v", u)
	}
	if u := byID["reader"]; fmt.Sprint(u.Reads) != "[back]" || len(u.Saves) != 0 || u.Status != "draft" {
		t.Errorf("reader: %+v", u)
	}
	if r := e.do("GET", "/v1/audiences/someone-else", nil); r.status != 404 || r.errCode() != "not_found" {
		t.Errorf("unknown audience: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/v1/audiences/a.b", nil); r.status != 400 || r.errCode() != "invalid_id" {
		t.Errorf("bad name: %d %s", r.status, r.raw)
	}
}
