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
				if onAthena(c.Catalog, t.Name) {
					athenaCheck(c, c.Path("where"), x.Where, t.Schema())
				}
			}
		},
		Output: dimensionOutput(func(x *BuildAudienceConfig) string { return x.Dimension }),
		Lower: func(l activity.Lowerer, x *BuildAudienceConfig) error {
			dim := x.Dimension
			if dim == "" {
				dim = l.Campaign().Dimension
			}
			if t, ok := l.Catalog().Table(dim); ok && onAthena(l.Catalog(), dim) && trinoRefuses(l.Catalog(), l.Campaign(), x.Where, t.Schema()) == "" {
				return lowerAthena(l, 1)
			}
			st := l.Task("", nil)
			st.Next = l.Next()
			l.Add(l.Name(""), st)
			return nil
		},
		Run:      run(d, runBuildAudience),
		Describe: describeBuildAudience,
		OnAthena: true,
	})
}

// build-audience: the rows of the dimension table matching where, with every
// column of the table. emptyOutput false leaves the port off when no row
// matches.
func runBuildAudience(t *task, x *BuildAudienceConfig) (*activity.Result, error) {
	switch t.Req.Phase {
	case PhasePlan:
		return planBuildAudience(t, x)
	case PhaseFinish:
		return finishBuildAudience(t, x)
	}
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

// planBuildAudience writes the Athena statement of build-audience: the same
// selection in the Trino dialect, over the run's Glue tables.
func planBuildAudience(t *task, x *BuildAudienceConfig) (*activity.Result, error) {
	res, done, err := t.athenaReady("out")
	if err != nil || done {
		return res, err
	}
	p, err := t.table(t.dimension(x.Dimension))
	if err != nil {
		return nil, err
	}
	rel, err := t.athenaTable(p.Dimension)
	if err != nil {
		return nil, err
	}
	where, args := "true", []any(nil)
	if x.Where != nil {
		if where, args, err = condition.ToSQL(x.Where, t.trinoScope("t", p.Schema())); err != nil {
			return nil, err
		}
	}
	sel := "SELECT " + selectCols("t", p.Columns) + " FROM " + q(t.Comp.Catalog.Athena.Database) + "." + q(rel) + " AS t WHERE " + where
	if res.Extra["query"], err = t.unload("out", sel, args); err != nil {
		return nil, err
	}
	return res, nil
}

// finishBuildAudience records Athena's output as the out dataset.
func finishBuildAudience(t *task, x *BuildAudienceConfig) (*activity.Result, error) {
	tbl, ok := t.Comp.Catalog.Table(t.dimension(x.Dimension))
	if !ok {
		return nil, invalid("unknown table %q", t.dimension(x.Dimension))
	}
	res := t.result()
	m, err := t.recordUnload(res, "out", pop{Dimension: tbl.Name, Key: tbl.Key, Columns: tbl.Columns})
	if err != nil {
		return nil, err
	}
	if m.Rows == 0 && x.EmptyOutput != nil && !*x.EmptyOutput {
		res.Ports["out"] = nil
	}
	return res, nil
}
