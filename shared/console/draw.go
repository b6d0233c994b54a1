package console

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/canvas"
)

// drawCanvas draws the campaign's graph (the draft's, or the run's when one is
// selected: activities and transitions as the run's version has them) with the
// run's states and counts, laid out as `stepwise graph` does.
func drawCanvas(c *campaign.Campaign, run *api.RunView) string {
	var g canvas.Graph
	if c != nil {
		g = canvas.FromCampaign(c, nil, nil)
	}
	if run != nil && len(run.Activities) > 0 {
		labels := map[string]string{}
		for _, n := range g.Nodes {
			labels[n.ID] = n.Label
		}
		g = canvas.Graph{Title: run.CampaignID}
		for _, a := range run.Activities {
			g.Nodes = append(g.Nodes, canvas.Node{ID: a.ID, Type: a.Type, Label: labels[a.ID], Status: stateText(a)})
		}
		for _, t := range run.Transitions {
			for _, to := range t.To {
				g.Edges = append(g.Edges, canvas.Edge{From: t.From, Port: t.Port, To: to, Count: t.Count, Active: t.Activated})
			}
		}
	}
	if len(g.Nodes) == 0 {
		return ""
	}
	return g.SVG(g.Levels())
}

// stateText is an activity's state as the canvas shows it: the status, or what
// a running activity waits for (console.js says the same).
func stateText(a api.ActivityView) string {
	if a.Waiting == nil {
		return a.Status
	}
	switch a.Waiting.Reason {
	case "held":
		return "held for confirmation"
	}
	if u := a.Waiting.Until; u != nil {
		why := " (" + a.Waiting.Reason + ")"
		if loc, err := time.LoadLocation(a.Waiting.Zone); err == nil && a.Waiting.Zone != "" {
			return "waiting until " + u.In(loc).Format("2006-01-02 15:04") + " " + a.Waiting.Zone + why
		}
		return "waiting until " + u.UTC().Format("2006-01-02 15:04") + " UTC" + why
	}
	return "waiting (" + a.Waiting.Reason + ")"
}

type csvWriter struct{ w *csv.Writer }

func newCSV(w io.Writer) *csvWriter { return &csvWriter{w: csv.NewWriter(w)} }

func (c *csvWriter) header(cols []api.PreviewColumn) {
	rec := make([]string, len(cols))
	for i, col := range cols {
		rec[i] = col.Name
	}
	c.w.Write(rec)
}

// rows writes values as text: strings as they are, other values as JSON.
func (c *csvWriter) rows(rows [][]any) {
	for _, row := range rows {
		rec := make([]string, len(row))
		for i, v := range row {
			switch x := v.(type) {
			case nil:
			case string:
				rec[i] = x
			case float64, bool:
				rec[i] = fmt.Sprint(x)
			default:
				b, _ := json.Marshal(x)
				rec[i] = string(b)
			}
		}
		c.w.Write(rec)
	}
}

func (c *csvWriter) flush() { c.w.Flush() }
