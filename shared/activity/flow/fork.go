package flow

import (
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// ForkConfig copies a population onto named branches.
type ForkConfig struct {
	Branches []string `json:"branches" jsonschema:"required"`
}

// Fork is the fork type.
var Fork = activity.Define(activity.Def[ForkConfig]{
	Type: "fork", Family: activity.Flow,
	Summary:  "Sends the population down several branches at once.",
	Inputs:   activity.Inputs{Min: 1, Max: 1},
	Describe: describeFork,
	Ports:    func(x *ForkConfig) []string { return x.Branches },
	Check: func(c *activity.Check, x *ForkConfig) {
		if len(x.Branches) < 2 {
			c.Errorf(c.Path("branches"), "fork needs at least two branches")
		}
		checkPortNames(c, x.Branches, c.Path("branches"))
	},
	Output: func(c *activity.Check, x *ForkConfig, in []campaign.Schema) map[string]campaign.Schema {
		return sameOnAll(x.Branches, in)
	},
	Lower: func(l activity.Lowerer, x *ForkConfig) error {
		in := l.InputPaths()[0]
		ports := map[string]activity.PortPaths{}
		for _, b := range x.Branches {
			ports[b] = in
		}
		l.Add(l.Name(""), pass(l, ports))
		return nil
	},
})
