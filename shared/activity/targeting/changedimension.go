package targeting

import (
	"strings"
	"sync/atomic"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// ChangeDimensionConfig pivots a population to another dimension through a link.
type ChangeDimensionConfig struct {
	To   string `json:"to" jsonschema:"required"`
	Via  string `json:"via" jsonschema:"required,description=link of the input dimension leading to the target table"`
	Keep string `json:"keep,omitempty" jsonschema:"enum=all,enum=first"`
}

// changeDimension is the change-dimension type.
func changeDimension(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[ChangeDimensionConfig]{
		Type: "change-dimension", Family: activity.Targeting, Function: "ChangeDimension",
		Summary: "The linked rows of another dimension.",
		Inputs:  activity.Inputs{Min: 1, Max: 1},
		Check: func(c *activity.Check, x *ChangeDimensionConfig) {
			if x.Keep != "" {
				c.OneOf(x.Keep, c.Path("keep"), "keep", "all", "first")
			}
			to, ok := c.DimensionTable(x.To, c.Path("to"))
			in := c.Input(0)
			from, fok := c.Catalog.Table(in.Dimension)
			if !ok || !fok {
				if !fok && in.Dimension == "" && len(c.Inputs) > 0 {
					c.Errorf(c.Path("from"), "change-dimension needs a population of a catalog table, not file rows (use reconciliation first)")
				}
				return
			}
			l, ok := from.Link(x.Via)
			if !ok {
				c.Errorf(c.Path("via"), "unknown link %q of %q%s", x.Via, from.Name, campaign.DidYouMean(x.Via, from.LinkNames()))
				return
			}
			if l.Table != to.Name {
				c.Errorf(c.Path("via"), "link %q of %q leads to %q, not %q", x.Via, from.Name, l.Table, to.Name)
			}
		},
		Output: func(c *activity.Check, x *ChangeDimensionConfig, _ []campaign.Schema) map[string]campaign.Schema {
			return tableOutput(c, x.To, "out")
		},
		Lower: func(l activity.Lowerer, x *ChangeDimensionConfig) error {
			return lowerInputs(l, onAthenaInput(l.Catalog()), 1)
		},
		Describe: describeChangeDimension,
		Run:      run(d, runChangeDimension),
		OnAthena: true,
	})
}

// semiJoinKeepAll lets tests build the pairs always, to compare; semiJoins
// counts the semi-joins written.
var (
	semiJoinKeepAll = true
	semiJoins       atomic.Int64
)

// change-dimension: the rows of `to` linked through `via`.
//   - keep all (default): one row per (input row, linked target) pair — a
//     target linked from several input rows repeats. Through a
//     cardinality-one link an input row yields at most one target (the
//     first in key order, should the data hold several).
//   - keep first: each linked target once.
//
// Null link values link nothing.
func runChangeDimension(t *task, x *ChangeDimensionConfig) (*activity.Result, error) {
	switch t.Req.Phase {
	case PhasePlan:
		return planChangeDimension(t, x)
	case PhaseFinish:
		return finishChangeDimension(t, x)
	}
	ins, err := t.inputs()
	if err != nil {
		return nil, err
	}
	in := ins[0]
	link, err := t.changeLink(in, x)
	if err != nil {
		return nil, err
	}
	to, err := t.keyedTable(link.Table)
	if err != nil {
		return nil, err
	}
	// The population is read for the link's columns only.
	popView := in.View
	if own, ok, err := t.own(in); err != nil {
		return nil, err
	} else if ok && ownCols(own, colsOf(link.OnPairs(), 0)...) {
		popView = own.View
	}
	// The link's input columns hold the input's unique key: a target row
	// matches at most one input row, so the pairs are the linked targets,
	// each once (a semi-join; no pair built, the same rows).
	semi := semiJoinKeepAll && in.unique && covers(colsOf(link.OnPairs(), 0), in.Key)
	if semi && x.Keep != "first" {
		semiJoins.Add(1)
	}
	res := t.result()
	query := changeDimensionSelect(condition.DuckDB, q(popView), q(to.View), to, link, x.Keep, semi)
	_, err = t.write(res, "out", to, query+" ORDER BY "+order("d", to))
	return res, err
}

// changeLink is the link of the input's dimension change-dimension follows.
func (t *task) changeLink(in pop, x *ChangeDimensionConfig) (campaign.Link, error) {
	from, ok := t.Comp.Catalog.Table(in.Dimension)
	if !ok {
		return campaign.Link{}, invalid("change-dimension needs a population of a catalog table, not %s", in.Schema())
	}
	link, ok := from.Link(x.Via)
	if !ok {
		return campaign.Link{}, invalid("unknown link %q of %q", x.Via, from.Name)
	}
	return link, nil
}

// changeDimensionSelect is the rows of to (alias d) linked from the input
// rows (alias i) in a dialect: inRel and toRel are the relations read.
// Through a cardinality-one link whose target columns are not to's key,
// an input row takes the first target in row order: DuckDB keeps it with
// QUALIFY, Trino (no QUALIFY) from a subquery numbering the targets.
func changeDimensionSelect(d condition.Dialect, inRel, toRel string, to pop, link campaign.Link, keep string, semi bool) string {
	var on, targetCols []string
	for _, p := range link.OnPairs() {
		on = append(on, col("d", p[1])+" = "+col("i", p[0]))
		targetCols = append(targetCols, p[1])
	}
	sel := "SELECT " + selectCols("d", to.Columns)
	exists := " WHERE EXISTS (SELECT 1 FROM " + inRel + " AS i WHERE " + strings.Join(on, " AND ") + ")"
	if keep == "first" {
		return sel + " FROM " + toRel + " AS d" + exists
	}
	targets := toRel
	if link.Cardinality == "one" && !covers(targetCols, to.Key) {
		rank := "row_number() OVER (PARTITION BY " + selectCols("d", colsNamed(targetCols)) + " ORDER BY " + orderIn(d, "d", to) + ")"
		if d == condition.Trino {
			targets = "(SELECT " + selectCols("d", to.Columns) + " FROM (SELECT " + selectCols("d", to.Columns) + ", " + rank + " AS " + q(rnCol) +
				" FROM " + toRel + " AS d) AS d WHERE " + col("d", rnCol) + " = 1)"
		} else {
			targets = "(SELECT * FROM " + toRel + " AS d QUALIFY " + rank + " = 1)"
		}
	}
	if semi {
		return sel + " FROM " + targets + " AS d" + exists
	}
	return sel + " FROM " + inRel + " AS i JOIN " + targets + " AS d ON " + strings.Join(on, " AND ")
}

// planChangeDimension writes the Athena statement of change-dimension: the
// same selection in the Trino dialect over the input's and the target's
// Glue tables. Every (input row, target) pair is built (no manifest of an
// Athena output vouches its key unique): the same rows as the semi-join.
func planChangeDimension(t *task, x *ChangeDimensionConfig) (*activity.Result, error) {
	res, done, err := t.athenaReady("out")
	if err != nil || done {
		return res, err
	}
	in, rel, err := t.athenaInput(0)
	if err != nil {
		return nil, err
	}
	link, err := t.changeLink(in, x)
	if err != nil {
		return nil, err
	}
	to, err := t.table(link.Table)
	if err != nil {
		return nil, err
	}
	toRel, err := t.athenaTable(link.Table)
	if err != nil {
		return nil, err
	}
	query := changeDimensionSelect(condition.Trino, rel, q(t.Comp.Catalog.Athena.Database)+"."+q(toRel), to, link, x.Keep, false)
	if res.Extra["query"], err = t.unload("out", query, nil); err != nil {
		return nil, err
	}
	return res, nil
}

// finishChangeDimension records Athena's output as the out dataset.
func finishChangeDimension(t *task, x *ChangeDimensionConfig) (*activity.Result, error) {
	in, err := t.inputShape(0)
	if err != nil {
		return nil, err
	}
	link, err := t.changeLink(in, x)
	if err != nil {
		return nil, err
	}
	to, err := t.table(link.Table)
	if err != nil {
		return nil, err
	}
	res := t.result()
	_, err = t.recordUnload(res, "out", to)
	return res, err
}
