package targeting

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// CombineConfig combines several populations as sets.
type CombineConfig struct {
	Operation  string   `json:"operation" jsonschema:"required,enum=union,enum=intersection,enum=exclusion"`
	Key        []string `json:"key,omitempty" jsonschema:"description=columns rows are matched on; default the dimension's key"`
	Complement bool     `json:"complement,omitempty"`
}

// combine is the combine type.
func combine(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[CombineConfig]{
		Type: "combine", Family: activity.Targeting, Function: "Combine",
		Summary: "Union, intersection or exclusion of several populations.",
		Inputs:  activity.Inputs{Min: 2, SameDimension: true},
		Ports:   combinePorts,
		Check: func(c *activity.Check, x *CombineConfig) {
			c.OneOf(x.Operation, c.Path("operation"), "operation", "union", "intersection", "exclusion")
			if x.Complement && x.Operation == "union" {
				c.Errorf(c.Path("complement"), "a union has no complement; complement applies to intersection and exclusion")
			}
			keys := x.Key
			if len(keys) == 0 {
				if t, ok := c.Catalog.Table(c.Input(0).Dimension); ok {
					keys = t.Key
				} else if len(c.Inputs) > 0 {
					c.Errorf(c.Path("key"), "file rows have no dimension key: set key")
				}
			}
			for i, in := range c.Inputs {
				c.RequireColumns(in, keys, c.Path("key"))
				_ = i
			}
		},
		Output: func(c *activity.Check, x *CombineConfig, in []campaign.Schema) map[string]campaign.Schema {
			var s campaign.Schema
			if len(in) > 0 {
				s = in[0]
			}
			return map[string]campaign.Schema{"out": s, "complement": s}
		},
		Lower: func(l activity.Lowerer, x *CombineConfig) error {
			return lowerInputs(l, onAthenaInput(l.Catalog()), len(combinePorts(x)))
		},
		Describe: describeCombine,
		Run:      run(d, runCombine),
		OnAthena: true,
	})
}

// combinePorts are the ports a combine writes.
func combinePorts(x *CombineConfig) []string {
	if x.Complement {
		return []string{"out", "complement"}
	}
	return []string{"out"}
}

// combine: rows are matched on key (default: the first input's dimension
// key) with null equal to null, as in a GROUP BY. The output has the first
// input's columns; rows taken from another input get them by name (null
// where that input lacks one).
//   - union: one row per key, from the first input that has it (within an
//     input, the first row in key order).
//   - intersection: the first input's rows whose key is in every input;
//     complement: the union's rows whose key is not in every input.
//   - exclusion: the first input's rows whose key is in no other input;
//     complement: the first input's rows that were removed.
//
// An inactive input is an empty population.
func runCombine(t *task, x *CombineConfig) (*activity.Result, error) {
	switch t.Req.Phase {
	case PhasePlan:
		return planCombine(t, x)
	case PhaseFinish:
		return t.recordUnloads(combinePorts(x), nil)
	}
	ins, err := t.inputs()
	if err != nil {
		return nil, err
	}
	rows := ins[0] // the rows of intersections and exclusions
	first := ins[0]
	for _, in := range ins[1:] {
		if in.Base == nil || first.Base == nil || in.Base.Ref != first.Base.Ref || !covers(in.Base.Columns, first.Base.Columns) {
			// Rows of other bases flow into the union: written wide.
			first.Base, first.uniqueBase = nil, false
		}
	}
	key := x.Key
	if len(key) == 0 {
		key = first.Key
	}
	if len(key) == 0 {
		return nil, invalid("combine: the population has no key: set key")
	}
	for _, in := range ins {
		for _, k := range key {
			if !in.has(k) {
				return nil, invalid("combine: the population from %s has no key column %q", in.From, k)
			}
		}
	}
	// Narrow inputs are read from their own files (StagePassThrough: the
	// base's columns are NULL placeholders), not joined to their base: the
	// matches read the key alone, and the outputs, written narrow over the
	// same base, take the base's columns from it.
	thru, err := t.combineThrough(ins, key)
	if err != nil {
		return nil, err
	}
	c := &combiner{d: condition.DuckDB, first: first, key: key, match: make([]string, len(ins))}
	for j, in := range ins { // what the matches read
		c.match[j] = q(in.View)
		if thru[j] != "" {
			c.match[j] = q(thru[j])
		}
	}
	res := t.result()
	writeRows := func(port, where string) error {
		if thru[0] != "" {
			_, err := t.writeRows(res, port, rows, true, "SELECT "+selectCols("t", rows.Columns)+" FROM "+q(thru[0])+" AS t WHERE "+where+
				" ORDER BY "+order("t", rows))
			return err
		}
		_, err := t.write(res, port, first, "SELECT "+selectCols("t", first.Columns)+" FROM "+q(first.View)+" AS t WHERE "+where+
			" ORDER BY "+order("t", first))
		return err
	}
	// The union reads pass-through views when every input is narrow over
	// first's base with the same base columns (a column is then a
	// placeholder in every input or in none).
	unionThrough := first.Base != nil
	for j, in := range ins {
		if !unionThrough || thru[j] == "" || !sameSet(in.Base.Columns, first.Base.Columns) {
			unionThrough = false
		}
	}
	unionRels := make([]string, len(ins))
	for j, in := range ins {
		unionRels[j] = q(in.View)
		if unionThrough {
			unionRels[j] = q(thru[j])
		}
	}
	union := func() string { return c.union(ins, unionRels) }
	writeUnion := func(port, query string) error {
		if unionThrough {
			p := first
			p.unique = false // not vouched: rows of several inputs
			_, err := t.writeRows(res, port, p, true, query)
			return err
		}
		_, err := t.write(res, port, first, query)
		return err
	}
	out, comp, err := c.sets(x.Operation)
	if err != nil {
		return nil, err
	}
	switch {
	case x.Operation == "union":
		err = writeUnion("out", "SELECT * FROM ("+union()+") AS t ORDER BY "+order("t", first))
	case x.Operation == "intersection":
		if err = writeRows("out", out); err == nil && x.Complement {
			err = writeUnion("complement", "SELECT * FROM ("+union()+") AS t WHERE "+comp+" ORDER BY "+order("t", first))
		}
	default:
		if err = writeRows("out", out); err == nil && x.Complement {
			err = writeRows("complement", comp)
		}
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// combiner writes a combine's SQL in a dialect: rows match on key (null
// equal to null); match[j] is the relation the matches read input j as.
type combiner struct {
	d     condition.Dialect
	first pop // the output's columns and row order
	key   []string
	match []string
}

// exists is true when input j holds the key of the row under outer.
func (c *combiner) exists(j int, outer string) string {
	return "EXISTS (SELECT 1 FROM " + c.match[j] + " AS s WHERE " + sameKey("s", outer, c.key) + ")"
}

// sets are the conditions on rows under alias t of each port of an
// operation: out (intersection, exclusion: over the first input's rows)
// and complement (intersection: over the union's rows; exclusion: over the
// first input's).
func (c *combiner) sets(op string) (out, complement string, err error) {
	switch op {
	case "union":
		return "", "", nil
	case "intersection":
		var all []string
		for j := 1; j < len(c.match); j++ {
			all = append(all, c.exists(j, "t"))
		}
		every := make([]string, len(c.match))
		for j := range c.match {
			every[j] = c.exists(j, "t")
		}
		return strings.Join(all, " AND "), "NOT (" + strings.Join(every, " AND ") + ")", nil
	case "exclusion":
		var others []string
		for j := 1; j < len(c.match); j++ {
			others = append(others, c.exists(j, "t"))
		}
		in := "(" + strings.Join(others, " OR ") + ")"
		return "NOT " + in, in, nil
	}
	return "", "", invalid("combine: unknown operation %q", op)
}

// union is the one-row-per-key union of every input (ins[j] read as
// rels[j]) in first's columns: the first input's row of a key, the first
// in row order. DuckDB keeps it with QUALIFY; Trino (no QUALIFY) selects
// from a subquery carrying the row number.
func (c *combiner) union(ins []pop, rels []string) string {
	parts := make([]string, len(ins))
	for j, in := range ins {
		parts[j] = fmt.Sprintf("SELECT %d AS __sw_src, %s FROM %s AS s", j, projectIn(c.d, "s", in, c.first.Columns), rels[j])
	}
	rank := "row_number() OVER (PARTITION BY " + selectCols("u", colsNamed(c.key)) + " ORDER BY u.__sw_src, " + orderIn(c.d, "u", c.first) + ")"
	all := "(" + strings.Join(parts, " UNION ALL ") + ") AS u"
	cols := selectCols("u", c.first.Columns)
	if c.d == condition.Trino {
		return "SELECT " + cols + " FROM (SELECT " + cols + ", " + rank + " AS " + q(rnCol) + " FROM " + all + ") AS u WHERE " + col("u", rnCol) + " = 1"
	}
	return "SELECT " + cols + " FROM " + all + " QUALIFY " + rank + " = 1"
}

// planCombine writes the Athena statements of a combine, one per port, over
// the inputs' Glue tables (an inactive input: an empty relation): the same
// matches and union as on DuckDB (combiner), the output in the first
// input's columns.
func planCombine(t *task, x *CombineConfig) (*activity.Result, error) {
	ports := combinePorts(x)
	res, done, err := t.athenaReady(ports...)
	if err != nil || done {
		return res, err
	}
	ins := make([]pop, len(t.Req.Inputs))
	rels := make([]string, len(ins))
	for j := range ins {
		if ins[j], rels[j], err = t.athenaInput(j); err != nil {
			return nil, err
		}
	}
	key := x.Key
	if len(key) == 0 {
		key = ins[0].Key
	}
	if len(key) == 0 {
		return nil, invalid("combine: the population has no key: set key")
	}
	for _, in := range ins {
		for _, k := range key {
			if !in.has(k) {
				return nil, invalid("combine: the population from %s has no key column %q", in.From, k)
			}
		}
	}
	c := &combiner{d: condition.Trino, first: ins[0], key: key, match: rels}
	out, comp, err := c.sets(x.Operation)
	if err != nil {
		return nil, err
	}
	rows := "SELECT " + selectCols("t", ins[0].Columns) + " FROM " + rels[0] + " AS t WHERE "
	sel := map[string]string{"out": rows + out, "complement": rows + comp}
	switch x.Operation {
	case "union":
		sel["out"] = c.union(ins, rels)
	case "intersection":
		sel["complement"] = "SELECT * FROM (" + c.union(ins, rels) + ") AS t WHERE " + comp
	}
	for i, port := range ports {
		if res.Extra[queryKey(i)], err = t.unload(port, sel[port], nil); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// combineThroughOn lets tests compare with the joined reads;
// combineThroughViews counts the views combineThrough staged.
var (
	combineThroughOn    = true
	combineThroughViews atomic.Int64
)

// combineThrough stages each narrow input whose own files hold key (and,
// with a base whose key is unique, may pass its rows through) as a
// StagePassThrough view; "" for the others.
func (t *task) combineThrough(ins []pop, key []string) ([]string, error) {
	out := make([]string, len(ins))
	if !combineThroughOn {
		return out, nil
	}
	for j, in := range ins {
		if in.Base == nil || in.ref == "" || !in.uniqueBase {
			continue
		}
		own := true
		for _, k := range key {
			own = own && !slices.Contains(in.Base.Columns, k)
		}
		if !own {
			continue
		}
		combineThroughViews.Add(1)
		out[j] = t.View(fmt.Sprintf("thru%d", j))
		if _, err := t.Engine.StagePassThrough(t.Ctx, out[j], in.ref); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sameSet reports whether a and b hold the same names.
func sameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// sameKey matches two rows on key, null equal to null.
func sameKey(a, b string, key []string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = col(a, k) + " IS NOT DISTINCT FROM " + col(b, k)
	}
	return strings.Join(parts, " AND ")
}

// projectIn selects cols from p's rows under alias, by name, cast to their
// types (the dialect's names); columns p lacks are null.
func projectIn(d condition.Dialect, alias string, p pop, cols []campaign.Column) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		typ, err := duckType(c)
		if err != nil {
			typ = "VARCHAR"
		}
		typ = d.TypeName(typ)
		if p.has(c.Name) {
			out[i] = "CAST(" + col(alias, c.Name) + " AS " + typ + ") AS " + q(c.Name)
		} else {
			out[i] = "CAST(NULL AS " + typ + ") AS " + q(c.Name)
		}
	}
	return strings.Join(out, ", ")
}
