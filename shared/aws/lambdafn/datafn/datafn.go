// Package datafn makes the Lambdas of the targeting and data-management
// activity types: their families bound to the stack's adapters.
package datafn

import (
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/data"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/activity/targeting"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

// Function returns the Lambda serving name, an activity type of the
// targeting or the data-management family.
func Function(st *lambdafn.Stack, name string) *lambdafn.Function {
	return WithAthena(st, name, nil)
}

// WithAthena is Function with the Athena engine's host bound (nil: none),
// for the functions whose types run on Athena; only their roles are
// granted Glue.
func WithAthena(st *lambdafn.Stack, name string, athena targeting.Athena) *lambdafn.Function {
	reg := activity.NewRegistry()
	dk := datatask.Deps{Blob: st.Blob, Buckets: st.Buckets, State: st.State}
	targeting.Register(reg, &targeting.Deps{Data: dk, Audiences: st.State, Incrementals: st.State, Athena: athena})
	dd := &data.Deps{Data: dk, Roots: &st.Config.FileRoots}
	if a, ok := athena.(data.Athena); ok {
		dd.Athena = a // update-data's MERGE into Iceberg
	}
	data.Register(reg, dd)
	return st.Function(name, reg)
}
