package flow

import (
	"context"
	"fmt"

	"github.com/stepwise-run/stepwise/shared/activity"
)

// AlertConfig notifies the campaign's operators.
type AlertConfig struct {
	Title   string `json:"title" jsonschema:"required"`
	Message string `json:"message,omitempty"`
}

// Alerter notifies operators (SNS on AWS; the run log locally).
type Alerter interface {
	Alert(ctx context.Context, campaign, runID, title, message string) error
}

// alert is the alert type.
func alert(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[AlertConfig]{
		Type: "alert", Family: activity.Flow, Function: "Alert",
		Summary:  "Records an alert for the campaign's operators and passes the population on.",
		Inputs:   activity.Inputs{Min: 1, Max: 1},
		Describe: describeAlert,
		Output:   activity.SameInput[AlertConfig]("out"),
		Run: func(ctx context.Context, call *activity.Call, x *AlertConfig) (*activity.Result, error) {
			req := call.Req
			call.Logf(ctx, "ALERT %s: %s (%d rows)", x.Title, x.Message, inputCount(req))
			if d.Alerter != nil && !req.Run.Test {
				if err := d.Alerter.Alert(ctx, call.Plan.Campaign.ID, req.Run.ID, x.Title, x.Message); err != nil {
					return nil, fmt.Errorf("alert: %w", err)
				}
			}
			res := activity.NewResult([]string{"out"})
			if len(req.Inputs) > 0 && req.Inputs[0].Ref != nil {
				res.Set("out", *req.Inputs[0].Ref, req.Inputs[0].Count)
			}
			return res, nil
		},
	})
}

func inputCount(req *activity.Request) int64 {
	if len(req.Inputs) == 0 {
		return 0
	}
	return req.Inputs[0].Count
}
