package flow

import (
	"context"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

func init() {
	Alert.Handler = activity.HandlerFunc(runAlert)
	End.Handler = activity.HandlerFunc(runEnd)
}

// Alerter notifies operators (SNS on AWS; the run log locally).
type Alerter interface {
	Alert(ctx context.Context, campaign, runID, title, message string) error
}

// Triggerer starts a run of another, published campaign.
type Triggerer interface {
	Trigger(ctx context.Context, campaign string, params map[string]any, idempotencyKey string) (runID string, err error)
}

func runAlert(ctx context.Context, env *activity.Env, req *activity.Request) (*activity.Result, error) {
	comp, cfg, err := activity.Load(ctx, env, req)
	if err != nil {
		return nil, err
	}
	x := cfg.(*AlertConfig)
	activity.Logf(ctx, env, req, "ALERT %s: %s (%d rows)", x.Title, x.Message, inputCount(req))
	if a, ok := env.Services["alerter"].(Alerter); ok && !req.Run.Test {
		if err := a.Alert(ctx, comp.Campaign.ID, req.Run.ID, x.Title, x.Message); err != nil {
			return nil, &activity.Retryable{Msg: "alert: " + err.Error()}
		}
	}
	res := activity.NewResult([]string{"out"})
	if len(req.Inputs) > 0 && req.Inputs[0].Ref != nil {
		res.Set("out", *req.Inputs[0].Ref, req.Inputs[0].Count)
	}
	return res, nil
}

func runEnd(ctx context.Context, env *activity.Env, req *activity.Request) (*activity.Result, error) {
	comp, cfg, err := activity.Load(ctx, env, req)
	if err != nil {
		return nil, err
	}
	x := cfg.(*EndConfig)
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
			params[k] = comp.Campaign.Variables[v.Variable]
		default:
			params[k] = v.Literal
		}
	}
	if req.Run.Test {
		activity.Logf(ctx, env, req, "test mode: would trigger campaign %s with %v", x.Trigger.Campaign, params)
		return res, nil
	}
	t, err := activity.Service[Triggerer](env, activity.ServiceTrigger)
	if err != nil {
		return nil, err
	}
	// One trigger per (run, activity): a retried task does not start twice.
	runID, err := t.Trigger(ctx, x.Trigger.Campaign, params, req.Run.ID+"/"+req.Activity)
	if err != nil {
		return nil, err
	}
	activity.Logf(ctx, env, req, "triggered campaign %s: run %s", x.Trigger.Campaign, runID)
	return res, nil
}

func inputCount(req *activity.Request) int64 {
	if len(req.Inputs) == 0 {
		return 0
	}
	return req.Inputs[0].Count
}
