package targeting

import (
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// BuildAudienceConfig selects rows of a dimension with a condition.
type BuildAudienceConfig struct {
	Dimension   string               `json:"dimension,omitempty"`
	Where       *condition.Condition `json:"where,omitempty" jsonschema:"description=rows to keep; absent keeps every row"`
	EmptyOutput *bool                `json:"emptyOutput,omitempty" jsonschema:"description=activate the output when no row matches (default true)"`
}

// buildAudience is the build-audience type.
func buildAudience(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[BuildAudienceConfig]{
		Type: "build-audience", Family: activity.Targeting, Function: "BuildAudience",
		Summary: "Rows of a dimension that match a condition.",
		Inputs:  activity.Inputs{ReadsOwnData: true},
		Check: func(c *activity.Check, x *BuildAudienceConfig) {
			if t, ok := c.DimensionTable(x.Dimension, c.Path("dimension")); ok {
				c.CheckCondition(c.Path("where"), x.Where, t.Schema())
			}
		},
		Output:   dimensionOutput(func(x *BuildAudienceConfig) string { return x.Dimension }),
		Run:      run(d, runBuildAudience),
		Describe: describeBuildAudience,
	})
}

// build-audience: the rows of the dimension table matching where, with every
// column of the table. emptyOutput false leaves the port off when no row
// matches.
func runBuildAudience(t *task, x *BuildAudienceConfig) (*activity.Result, error) {
	p, err := t.keyedTable(t.dimension(x.Dimension))
	if err != nil {
		return nil, err
	}
	where, args, err := t.Where(x.Where, "t", p.Schema())
	if err != nil {
		return nil, err
	}
	res := t.result()
	m, err := t.writeRows(res, "out", p, false, "SELECT "+selectCols("t", p.Columns)+" FROM "+q(p.View)+" AS t WHERE "+where+
		" ORDER BY "+order("t", p), args...)
	if err != nil {
		return nil, err
	}
	if m.Rows == 0 && x.EmptyOutput != nil && !*x.EmptyOutput {
		res.Ports["out"] = nil
	}
	return res, nil
}
