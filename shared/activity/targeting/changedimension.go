package targeting

import (
	"strings"
	"sync/atomic"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
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
		Describe: describeChangeDimension,
		Run:      run(d, runChangeDimension),
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
	ins, err := t.inputs()
	if err != nil {
		return nil, err
	}
	in := ins[0]
	from, ok := t.Comp.Catalog.Table(in.Dimension)
	if !ok {
		return nil, invalid("change-dimension needs a population of a catalog table, not %s", in.Schema())
	}
	link, ok := from.Link(x.Via)
	if !ok {
		return nil, invalid("unknown link %q of %q", x.Via, from.Name)
	}
	to, err := t.keyedTable(link.Table)
	if err != nil {
		return nil, err
	}
	var on []string
	var targetCols []string
	for _, p := range link.OnPairs() {
		on = append(on, col("d", p[1])+" = "+col("i", p[0]))
		targetCols = append(targetCols, p[1])
	}
	// The population is read for the link's columns only.
	popView := in.View
	if own, ok, err := t.own(in); err != nil {
		return nil, err
	} else if ok && ownCols(own, colsOf(link.OnPairs(), 0)...) {
		popView = own.View
	}
	res := t.result()
	sel := "SELECT " + selectCols("d", to.Columns)
	var query string
	if x.Keep == "first" {
		query = sel + " FROM " + q(to.View) + " AS d WHERE EXISTS (SELECT 1 FROM " + q(popView) + " AS i WHERE " + strings.Join(on, " AND ") + ")"
	} else {
		targets := q(to.View)
		if link.Cardinality == "one" && !covers(targetCols, to.Key) {
			targets = "(SELECT * FROM " + q(to.View) + " AS d QUALIFY row_number() OVER (PARTITION BY " +
				selectCols("d", colsNamed(targetCols)) + " ORDER BY " + order("d", to) + ") = 1)"
		}
		if semiJoinKeepAll && in.unique && covers(colsOf(link.OnPairs(), 0), in.Key) {
			// The link's input columns hold the input's unique key: a target
			// row matches at most one input row, so the pairs are the linked
			// targets, each once (a semi-join; no pair built, the same rows).
			semiJoins.Add(1)
			query = sel + " FROM " + targets + " AS d WHERE EXISTS (SELECT 1 FROM " + q(popView) + " AS i WHERE " + strings.Join(on, " AND ") + ")"
		} else {
			query = sel + " FROM " + q(popView) + " AS i JOIN " + targets + " AS d ON " + strings.Join(on, " AND ")
		}
	}
	_, err = t.write(res, "out", to, query+" ORDER BY "+order("d", to))
	return res, err
}
