package targeting

import (
	"fmt"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
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
		Ports: func(x *CombineConfig) []string {
			if x.Complement {
				return []string{"out", "complement"}
			}
			return []string{"out"}
		},
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
		Run: run(d, runCombine),
	})
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
	ins, err := t.inputs()
	if err != nil {
		return nil, err
	}
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
	exists := func(j int, outer string) string {
		return "EXISTS (SELECT 1 FROM " + q(ins[j].View) + " AS s WHERE " + sameKey("s", outer, key) + ")"
	}
	res := t.result()
	writeRows := func(port, where string) error {
		_, err := t.write(res, port, first, "SELECT "+selectCols("t", first.Columns)+" FROM "+q(first.View)+" AS t WHERE "+where+
			" ORDER BY "+order("t", first))
		return err
	}
	// union is the one-row-per-key union of every input, in first's columns.
	union := func() string {
		parts := make([]string, len(ins))
		for j, in := range ins {
			parts[j] = fmt.Sprintf("SELECT %d AS __sw_src, %s FROM %s AS s", j, project("s", in, first.Columns), q(in.View))
		}
		return "SELECT " + selectCols("u", first.Columns) + " FROM (" + strings.Join(parts, " UNION ALL ") + ") AS u " +
			"QUALIFY row_number() OVER (PARTITION BY " + selectCols("u", colsNamed(key)) + " ORDER BY u.__sw_src, " + order("u", first) + ") = 1"
	}
	switch x.Operation {
	case "union":
		_, err = t.write(res, "out", first, "SELECT * FROM ("+union()+") AS t ORDER BY "+order("t", first))
	case "intersection":
		var all []string
		for j := 1; j < len(ins); j++ {
			all = append(all, exists(j, "t"))
		}
		if err = writeRows("out", strings.Join(all, " AND ")); err == nil && x.Complement {
			every := make([]string, len(ins))
			for j := range ins {
				every[j] = exists(j, "t")
			}
			_, err = t.write(res, "complement", first, "SELECT * FROM ("+union()+") AS t WHERE NOT ("+strings.Join(every, " AND ")+
				") ORDER BY "+order("t", first))
		}
	case "exclusion":
		var others []string
		for j := 1; j < len(ins); j++ {
			others = append(others, exists(j, "t"))
		}
		in := "(" + strings.Join(others, " OR ") + ")"
		if err = writeRows("out", "NOT "+in); err == nil && x.Complement {
			err = writeRows("complement", in)
		}
	default:
		return nil, invalid("combine: unknown operation %q", x.Operation)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// sameKey matches two rows on key, null equal to null.
func sameKey(a, b string, key []string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = col(a, k) + " IS NOT DISTINCT FROM " + col(b, k)
	}
	return strings.Join(parts, " AND ")
}

// project selects cols from p's rows under alias, by name, cast to their
// types; columns p lacks are null.
func project(alias string, p pop, cols []campaign.Column) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		typ, err := duckType(c)
		if err != nil {
			typ = "VARCHAR"
		}
		if p.has(c.Name) {
			out[i] = "CAST(" + col(alias, c.Name) + " AS " + typ + ") AS " + q(c.Name)
		} else {
			out[i] = "CAST(NULL AS " + typ + ") AS " + q(c.Name)
		}
	}
	return strings.Join(out, ", ")
}
