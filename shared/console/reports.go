package console

import (
	"html/template"
	"net/http"
	"net/url"

	"github.com/stepwise-run/stepwise/shared/api"
)

type reportData struct {
	CSRF       string
	Campaign   api.CampaignView
	Run        string
	Error      string
	Activities []activityView
}

// activityView is a channel activity's report: the counts shown (the run's,
// or the total over the runs that were not test runs) with their charts.
type activityView struct {
	api.ActivityReport
	Counts       api.Counts
	Counted      bool // some run counts (a live run, or the run asked for)
	Chart        template.HTML
	VariantChart template.HTML
}

func (c *Console) reportPage(w http.ResponseWriter, r *http.Request, se session) {
	ctx := r.Context()
	id := r.PathValue("id")
	d := reportData{CSRF: se.csrf, Run: r.URL.Query().Get("run")}
	if err := c.get(ctx, "/v1/campaigns/"+url.PathEscape(id), nil, &d.Campaign); err != nil {
		e, _ := err.(apiErr)
		c.render(w, max(e.Status, 400), "error.html", e)
		return
	}
	q := url.Values{}
	if d.Run != "" {
		q.Set("run", d.Run)
	}
	var rep api.Report
	if err := c.get(ctx, "/v1/campaigns/"+url.PathEscape(id)+"/report", q, &rep); err != nil {
		d.Error = err.Error()
		c.render(w, http.StatusOK, "report.html", d)
		return
	}
	for _, a := range rep.Activities {
		v := activityView{ActivityReport: a, Counts: a.Total}
		for _, run := range a.Runs {
			v.Counted = v.Counted || !run.Test
		}
		if d.Run != "" && len(a.Runs) == 1 {
			v.Counts, v.Counted = a.Runs[0].Counts, true
		}
		k := v.Counts
		v.Chart = barChart("messages", []bar{
			{"sent", k.Sent, ""}, {"skipped", k.Skipped, ""},
			{"delivered", k.Delivered, pct(k.Delivered, k.Sent)}, {"bounced", k.Bounced, pct(k.Bounced, k.Sent)},
			{"complained", k.Complained, pct(k.Complained, k.Sent)}, {"opened", k.Opened, pct(k.Opened, k.Sent)},
			{"clicked", k.Clicked, pct(k.Clicked, k.Sent)}, {"unsubscribed", k.Unsubscribed, pct(k.Unsubscribed, k.Sent)},
		})
		if len(k.Variants) > 0 {
			var bars []bar
			for _, x := range k.Variants {
				if x.Variant == api.HoldoutVariant {
					bars = append(bars, bar{"holdout held", x.Skipped, ""})
					continue
				}
				bars = append(bars, bar{x.Variant + " sent", x.Sent, ""}, bar{x.Variant + " opened", x.Opened, pct(x.Opened, x.Sent)},
					bar{x.Variant + " clicked", x.Clicked, pct(x.Clicked, x.Sent)})
			}
			v.VariantChart = barChart("variants", bars)
		}
		d.Activities = append(d.Activities, v)
	}
	c.render(w, http.StatusOK, "report.html", d)
}

type reportsData struct {
	CSRF      string
	Error     string
	Campaigns []api.CampaignView
}

// reportsPage lists the campaigns, each with its report and proofs.
func (c *Console) reportsPage(w http.ResponseWriter, r *http.Request, se session) {
	d := reportsData{CSRF: se.csrf}
	var list api.CampaignList
	if err := c.get(r.Context(), "/v1/campaigns", nil, &list); err != nil {
		d.Error = err.Error()
	}
	d.Campaigns = list.Campaigns
	c.render(w, http.StatusOK, "reports.html", d)
}
