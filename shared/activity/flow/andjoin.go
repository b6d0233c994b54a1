package flow

import (
	"fmt"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// AndJoinConfig waits for several branches and continues with one population.
type AndJoinConfig struct {
	Primary string `json:"primary,omitempty" jsonschema:"description=inbound activity whose population continues; default the first"`
}

// AndJoin is the and-join type.
var AndJoin = activity.Define(activity.Def[AndJoinConfig]{
	Type: "and-join", Family: activity.Flow,
	Summary:  "Continues once every inbound branch is done.",
	Inputs:   activity.Inputs{Min: 2},
	Describe: describeAndJoin,
	Check: func(c *activity.Check, x *AndJoinConfig) {
		if x.Primary != "" && primaryIndex(c.Activity, x.Primary) < 0 {
			c.Errorf(c.Path("primary"), "primary %q is not an inbound activity of this and-join", x.Primary)
		}
	},
	Output: func(c *activity.Check, x *AndJoinConfig, in []campaign.Schema) map[string]campaign.Schema {
		i := max(primaryIndex(c.Activity, x.Primary), 0)
		if i < len(in) {
			return map[string]campaign.Schema{"out": in[i]}
		}
		return map[string]campaign.Schema{"out": {}}
	},
	// The primary population continues; if its branch was not activated, the
	// first activated inbound population does.
	Lower: func(l activity.Lowerer, x *AndJoinConfig) error {
		inputs := l.InputPaths()
		first := max(primaryIndex(l.Activity(), x.Primary), 0)
		order := []int{first}
		for i := range inputs {
			if i != first {
				order = append(order, i)
			}
		}
		choice := &asl.State{Type: "Choice"}
		l.Add(l.Name(""), choice)
		for _, i := range order {
			name := l.Name(fmt.Sprintf("take%d", i))
			choice.Choices = append(choice.Choices, activity.Activated(inputs[i].Ref, name))
			l.Add(name, pass(l, map[string]activity.PortPaths{"out": inputs[i]}))
		}
		choice.Default = l.Name(fmt.Sprintf("take%d", first))
		return nil
	},
})

func primaryIndex(a *campaign.Activity, primary string) int {
	if primary == "" {
		return 0
	}
	for i, t := range a.From {
		if t.Activity == primary {
			return i
		}
	}
	return -1
}
