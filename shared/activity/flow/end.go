package flow

import (
	"context"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Trigger starts another campaign when a branch ends.
type Trigger struct {
	Campaign   string                      `json:"campaign" jsonschema:"required"`
	Parameters map[string]*condition.Value `json:"parameters,omitempty"`
}

// EndConfig ends a branch, optionally signalling another campaign.
type EndConfig struct {
	Trigger *Trigger `json:"trigger,omitempty"`
}

// Triggerer starts a run of another, published campaign.
type Triggerer interface {
	Trigger(ctx context.Context, campaign string, params map[string]any, idempotencyKey string) (runID string, err error)
}

// end is the end type.
func end(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[EndConfig]{
		Type: "end", Family: activity.Flow, Function: "End",
		Summary:  "Ends a branch; may trigger another campaign with parameters.",
		Inputs:   activity.Inputs{Min: 1},
		Describe: describeEnd,
		Ports:    func(*EndConfig) []string { return nil },
		Check: func(c *activity.Check, x *EndConfig) {
			if x.Trigger == nil {
				return
			}
			if !campaign.ValidCampaignID(x.Trigger.Campaign) {
				c.Errorf(c.Path("trigger", "campaign"), "campaign id %q must match [a-z0-9-]{1,64}", x.Trigger.Campaign)
			}
			for _, k := range campaign.SortedKeys(x.Trigger.Parameters) {
				v := x.Trigger.Parameters[k]
				vp := c.Path("trigger", "parameters", k)
				if v.Param != "" {
					if _, ok := c.Campaign.Parameters[v.Param]; !ok {
						c.Errorf(campaign.JoinPath(vp, "param"), "parameter %q is not declared", v.Param)
					}
				}
				if v.Variable != "" {
					if _, ok := c.Campaign.Variables[v.Variable]; !ok {
						c.Errorf(campaign.JoinPath(vp, "variable"), "variable %q is not declared", v.Variable)
					}
				}
				if v.Field != "" {
					c.Errorf(vp, "a trigger parameter takes a literal, param or variable, not a field")
				}
			}
		},
		Output: func(*activity.Check, *EndConfig, []campaign.Schema) map[string]campaign.Schema { return nil },
		Lower: func(l activity.Lowerer, x *EndConfig) error {
			if x.Trigger != nil {
				st := l.Task("", nil)
				st.Next = l.Next()
				l.Add(l.Name(""), st)
				return nil
			}
			l.Add(l.Name(""), pass(l, nil))
			return nil
		},
		Run: func(ctx context.Context, call *activity.Call, x *EndConfig) (*activity.Result, error) {
			return runEnd(ctx, d, call, x)
		},
	})
}

func runEnd(ctx context.Context, d *Deps, call *activity.Call, x *EndConfig) (*activity.Result, error) {
	req := call.Req
	res := activity.NewResult(nil)
	if x.Trigger == nil {
		return res, nil
	}
	params := map[string]any{}
	for _, k := range campaign.SortedKeys(x.Trigger.Parameters) {
		v := x.Trigger.Parameters[k]
		switch {
		case v.Param != "":
			params[k] = req.Run.Params[v.Param]
		case v.Variable != "":
			params[k] = call.Plan.Campaign.Variables[v.Variable]
		default:
			params[k] = v.Literal
		}
	}
	if req.Run.Test {
		call.Logf(ctx, "test mode: would trigger campaign %s with %v", x.Trigger.Campaign, params)
		return res, nil
	}
	if d.Trigger == nil {
		return nil, &activity.InvalidInput{Msg: "end: no campaign trigger is configured here"}
	}
	// One trigger per (run, activity): a retried task does not start twice.
	runID, err := d.Trigger.Trigger(ctx, x.Trigger.Campaign, params, req.Run.ID+"/"+req.Activity)
	if err != nil {
		return nil, err
	}
	call.Logf(ctx, "triggered campaign %s: run %s", x.Trigger.Campaign, runID)
	return res, nil
}
