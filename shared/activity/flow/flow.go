// Package flow holds the flow-control activity types: fork, and-join, test,
// wait, alert, end and scheduler. Most lower to pure ASL (Pass, Choice, Wait).
package flow

import (
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Deps are what the flow types that run tasks need from their host.
type Deps struct {
	Alerter Alerter   // nil: alerts go to the run log only
	Trigger Triggerer // nil: end cannot trigger campaigns (test runs only log)
}

// Register adds the flow types to r, their tasks bound to d.
func Register(r *activity.Registry, d *Deps) {
	r.Register(Fork, AndJoin, Test, Wait, alert(d), end(d), Scheduler)
}

func pass(l activity.Lowerer, ports map[string]activity.PortPaths) *asl.State {
	return &asl.State{Type: "Pass", Parameters: l.ResultParameters(activity.StatusSucceeded, ports), ResultPath: asl.Path(l.ResultPath()), Next: l.Next()}
}

func sameOnAll(ports []string, in []campaign.Schema) map[string]campaign.Schema {
	out := map[string]campaign.Schema{}
	for _, p := range ports {
		if len(in) > 0 {
			out[p] = in[0]
		}
	}
	return out
}

func checkPortNames(c *activity.Check, names []string, path string) {
	seen := map[string]bool{}
	for i, n := range names {
		p := campaign.JoinPath(path, i)
		if !campaign.ValidPortName(n) {
			c.Errorf(p, "port name %q must match [a-zA-Z0-9_]{1,64}", n)
		}
		if seen[n] {
			c.Errorf(p, "duplicate port %q", n)
		}
		seen[n] = true
	}
}
