package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// activityPanel is what the panel shows of an activity: its settings (in
// words, or its keys), and in a run its state, task log and error.
type activityPanel struct {
	ID    string `json:"id"`
	Type  string `json:"type,omitempty"`
	Label string `json:"label,omitempty"`
	// Of says whose settings these are: "version 3" (the run's own
	// version) or "draft".
	Of       string            `json:"of,omitempty"`
	Words    []string          `json:"words,omitempty"`
	Settings []setting         `json:"settings,omitempty"`
	Activity *api.ActivityView `json:"activity,omitempty"`
	Log      []string          `json:"log"`
	Dropped  int64             `json:"dropped,omitempty"`
}

// activityJSON is an activity of a campaign (/ui/campaigns/{id}/activities/…)
// or of a run (/ui/runs/{run}/activities/…, the settings of the version the
// run ran, or of the draft for a test run of a draft).
func (c *Console) activityJSON(w http.ResponseWriter, r *http.Request, _ session) {
	ctx, act, id := r.Context(), r.PathValue("activity"), r.PathValue("id")
	out := activityPanel{ID: act, Log: []string{}}
	version := 0 // the run's version; 0: the draft
	if run := r.PathValue("run"); run != "" {
		var rv api.RunView
		if err := c.get(ctx, "/v1/runs/"+url.PathEscape(run), nil, &rv); err != nil {
			e, _ := err.(apiErr)
			writeJSON(w, max(e.Status, 400), map[string]any{"error": e})
			return
		}
		i := slices.IndexFunc(rv.Activities, func(a api.ActivityView) bool { return a.ID == act })
		if i < 0 {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": apiErr{Code: "not_found", Message: "no activity " + act + " in run " + rv.ID}})
			return
		}
		out.Activity, out.Type, id, version = &rv.Activities[i], rv.Activities[i].Type, rv.CampaignID, rv.Version
		var logs api.LogView
		c.get(ctx, "/v1/runs/"+url.PathEscape(rv.ID)+"/logs", url.Values{"activity": {act}}, &logs)
		for _, l := range logs.Activities {
			out.Log, out.Dropped = l.Lines, l.Dropped
		}
	}
	var cv api.CampaignView
	var src string
	if err := c.get(ctx, "/v1/campaigns/"+url.PathEscape(id), nil, &cv); err != nil && out.Activity == nil {
		e, _ := err.(apiErr)
		writeJSON(w, max(e.Status, 400), map[string]any{"error": e})
		return
	}
	src, out.Of = cv.Source, "draft"
	if version > 0 {
		var vv api.VersionView
		if err := c.get(ctx, "/v1/campaigns/"+url.PathEscape(id)+"/versions/"+strconv.Itoa(version), nil, &vv); err == nil && vv.Source != "" {
			src, out.Of = vv.Source, "version "+strconv.Itoa(version)
		}
	}
	if parsed, _ := campaign.ParseCampaign(id+".yaml", []byte(src)); parsed != nil {
		for _, a := range parsed.Activities {
			if a.ID == act {
				out.Type, out.Label = a.Type, a.Label
			}
		}
		out.Words, out.Settings = c.settings(parsed, act)
	}
	if out.Type == "" {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": apiErr{Code: "not_found", Message: "no activity " + act + " in campaign " + id}})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// confirmation is what the page shows before a held send is confirmed: the
// count of its input and a few sample rows.
type confirmation struct {
	Activity string
	Inputs   []confirmInput
	Error    string
}

type confirmInput struct {
	From, Port string
	Count      *int64
	Preview    *api.Preview
}

// confirmSample is how many rows a confirmation shows.
const confirmSample = 5

// confirmation reads the inputs of a held activity of a run: each transition
// into it with its count and its first rows.
func (c *Console) confirmation(r *http.Request, run *api.RunView, act string) *confirmation {
	out := &confirmation{Activity: act}
	for _, t := range run.Transitions {
		if !slices.Contains(t.To, act) {
			continue
		}
		in := confirmInput{From: t.From, Port: t.Port, Count: t.Count}
		if t.Activated {
			var p api.Preview
			q := url.Values{"limit": {"5"}, "offset": {"0"}}
			if err := c.get(r.Context(), "/v1/runs/"+url.PathEscape(run.ID)+"/transitions/"+url.PathEscape(t.From)+"/"+url.PathEscape(t.Port)+"/preview", q, &p); err != nil {
				out.Error = err.Error()
			} else {
				in.Preview = &p
				if in.Count == nil {
					in.Count = &p.Total
				}
			}
		}
		out.Inputs = append(out.Inputs, in)
	}
	return out
}

func init() { funcs["cell"] = cell }

// cell writes a preview value as the panel does: strings as they are, other values as JSON.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}
