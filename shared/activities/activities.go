// Package activities assembles the registry of every activity type and the
// sub-language checkers (conditions, Liquid) the compiler uses.
package activities

import (
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/activity/data"
	"github.com/stepwise-run/stepwise/shared/activity/flow"
	"github.com/stepwise-run/stepwise/shared/activity/targeting"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
)

// Registry returns a registry holding every activity type.
func Registry() *activity.Registry {
	r := activity.NewRegistry()
	targeting.Register(r)
	data.Register(r)
	flow.Register(r)
	channel.Register(r)
	return r
}

// CompileFiles compiles a campaign file with every activity type and checker.
func CompileFiles(campaignFile, catalogFile string) (*compile.Program, campaign.Diagnostics) {
	return compile.CompileFiles(campaignFile, catalogFile, Registry(), Checkers())
}
