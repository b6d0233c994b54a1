// Package datafn makes the Lambdas of the targeting and data-management
// activity types: their families bound to the stack's adapters.
package datafn

import (
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/data"
	"github.com/stepwise-run/stepwise/shared/activity/datakit"
	"github.com/stepwise-run/stepwise/shared/activity/targeting"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
)

// Deps are the dataset dependencies of a stack's functions.
func Deps(st *lambdarun.Stack) datakit.Deps {
	return datakit.Deps{Blob: st.Blob, Buckets: st.Buckets, State: st.State}
}

// Function returns the Lambda serving name, an activity type of the
// targeting or the data-management family.
func Function(st *lambdarun.Stack, name string) *lambdarun.Function {
	reg := activity.NewRegistry()
	dk := Deps(st)
	targeting.Register(reg, &targeting.Deps{Data: dk, Audiences: st.State, Incrementals: st.State})
	data.Register(reg, &data.Deps{Data: dk, Roots: &st.Config.FileRoots})
	return st.Function(name, reg)
}
