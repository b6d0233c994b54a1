package targeting

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

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
func runCombine(t *task) (*activity.Result, error) {
	x := t.Config.(*CombineConfig)
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

// deduplication keeps at most keep rows per group of equal `by` values
// (keep 0: all). Null is a value like any other: rows whose `by` values
// are all null, or null in the same places and equal elsewhere, form one
// group (Adobe treats empty as a value; SQL GROUP BY does the same).
//
// Inside a group rows are ranked by the method, then by the key, then by a
// hash of the row:
//   - random (default): hash(run id, activity, row key) — a retried task
//     keeps the same rows, another run draws again;
//   - first: orderBy (nulls last);
//   - nonEmpty: rows whose field is not null (nor "" for strings) first,
//     then orderBy;
//   - values: rows whose field equals values[0] first, then values[1]...,
//     then the others, then orderBy.
//
// duplicates (complement: true) is exactly the rows not kept.
func runDeduplication(t *task) (*activity.Result, error) {
	x := t.Config.(*DedupConfig)
	ins, err := t.inputs()
	if err != nil {
		return nil, err
	}
	in := ins[0]
	for _, b := range x.By {
		if !in.has(b) {
			return nil, invalid("deduplication: unknown column %q", b)
		}
	}
	res := t.result()
	keep := x.KeepN()
	if keep < 0 {
		return nil, invalid("deduplication: keep must be 0 or more")
	}
	sel := "SELECT " + selectCols("t", in.Columns) + " FROM " + q(in.View) + " AS t"
	if keep == 0 || len(x.By) == 0 {
		if _, err := t.writeRows(res, "out", in, false, sel+" ORDER BY "+order("t", in)); err != nil {
			return nil, err
		}
		if x.Complement {
			_, err = t.writeRows(res, "duplicates", in, false, sel+" WHERE false")
		}
		return res, err
	}
	rank := &sqlb{}
	rank.add("row_number() OVER (PARTITION BY " + selectCols("t", colsNamed(x.By)) + " ORDER BY ")
	var keys []string
	method := x.Method
	if method == "" {
		method = "random"
	}
	switch method {
	case "nonEmpty":
		c, ok := in.Schema().Column(x.Field)
		if !ok {
			return nil, invalid("deduplication: unknown column %q", x.Field)
		}
		empty := col("t", c.Name) + " IS NULL"
		if c.Type == campaign.TypeString {
			empty = "COALESCE(length(" + col("t", c.Name) + "), 0) = 0"
		}
		keys = append(keys, "("+empty+") ASC")
	case "values":
		c, ok := in.Schema().Column(x.Field)
		if !ok {
			return nil, invalid("deduplication: unknown column %q", x.Field)
		}
		typ, err := duckType(c)
		if err != nil {
			return nil, err
		}
		var cases strings.Builder
		cases.WriteString("CASE")
		var args []any
		for i, v := range x.Values {
			fmt.Fprintf(&cases, " WHEN %s IS NOT DISTINCT FROM CAST(? AS %s) THEN %d", col("t", c.Name), typ, i)
			args = append(args, literal(v))
		}
		fmt.Fprintf(&cases, " ELSE %d END ASC", len(x.Values))
		rank.add(cases.String()+", ", args...)
	}
	if method != "random" {
		keys = append(keys, sortKeys("t", x.OrderBy)...)
		keys = append(keys, order("t", in))
		rank.add(strings.Join(keys, ", "))
	} else {
		rank.add(randomOrder("t", in), t.seed("dedup"))
	}
	rank.add(")")

	if !x.Complement {
		b := &sqlb{}
		b.add(sel+" QUALIFY "+rank.String()+" <= ?", append(rank.args, keep)...)
		_, err := t.writeRows(res, "out", in, false, "SELECT * FROM ("+b.String()+") AS t ORDER BY "+order("t", in), b.args...)
		return res, err
	}
	ranked := t.scratchTable("ranked")
	if err := t.exec("CREATE TABLE "+q(ranked)+" AS SELECT "+selectCols("t", in.Columns)+", "+rank.String()+" AS "+q(rnCol)+
		" FROM "+q(in.View)+" AS t", rank.args...); err != nil {
		return nil, err
	}
	from := "SELECT " + selectCols("t", in.Columns) + " FROM " + q(ranked) + " AS t WHERE " + col("t", rnCol)
	if _, err := t.writeRows(res, "out", in, false, from+" <= ? ORDER BY "+order("t", in), keep); err != nil {
		return nil, err
	}
	_, err = t.writeRows(res, "duplicates", in, false, from+" > ? ORDER BY "+order("t", in), keep)
	return res, err
}

// literal converts a decoded YAML scalar to a bindable value.
func literal(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint64:
		return new(big.Int).SetUint64(x).String()
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format("2006-01-02")
		}
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// change-dimension: the rows of `to` linked through `via`.
//   - keep all (default): one row per (input row, linked target) pair — a
//     target linked from several input rows repeats. Through a
//     cardinality-one link an input row yields at most one target (the
//     first in key order, should the data hold several).
//   - keep first: each linked target once.
//
// Null link values link nothing.
func runChangeDimension(t *task) (*activity.Result, error) {
	x := t.Config.(*ChangeDimensionConfig)
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
		query = sel + " FROM " + q(popView) + " AS i JOIN " + targets + " AS d ON " + strings.Join(on, " AND ")
	}
	_, err = t.write(res, "out", to, query+" ORDER BY "+order("d", to))
	return res, err
}

// covers reports whether cols include every key column.
func covers(cols, key []string) bool {
	if len(key) == 0 {
		return false
	}
	for _, k := range key {
		found := false
		for _, c := range cols {
			found = found || c == k
		}
		if !found {
			return false
		}
	}
	return true
}
