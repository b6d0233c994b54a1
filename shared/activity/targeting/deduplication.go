package targeting

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// DedupConfig keeps at most Keep rows per group of equal By columns.
type DedupConfig struct {
	By         []string         `json:"by" jsonschema:"required"`
	Keep       *int             `json:"keep,omitempty" jsonschema:"description=rows kept per group; 0 keeps all; default 1"`
	Method     string           `json:"method,omitempty" jsonschema:"enum=random,enum=first,enum=nonEmpty,enum=values"`
	OrderBy    []activity.Order `json:"orderBy,omitempty"`
	Field      string           `json:"field,omitempty" jsonschema:"description=for nonEmpty and values"`
	Values     []any            `json:"values,omitempty" jsonschema:"description=preferred values of field, best first (method values)"`
	Complement bool             `json:"complement,omitempty"`
}

// KeepN returns the rows to keep per group (default 1).
func (x *DedupConfig) KeepN() int {
	if x.Keep == nil {
		return 1
	}
	return *x.Keep
}

// deduplication is the deduplication type.
func deduplication(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[DedupConfig]{
		Type: "deduplication", Family: activity.Targeting, Function: "Deduplication",
		Summary: "At most N rows per group of equal values.",
		Inputs:  activity.Inputs{Min: 1, Max: 1},
		Ports:   dedupPorts,
		Check: func(c *activity.Check, x *DedupConfig) {
			in := c.Input(0)
			if len(x.By) == 0 {
				c.Errorf(c.Path("by"), "by needs at least one column")
			}
			c.RequireColumns(in, x.By, c.Path("by"))
			if x.KeepN() < 0 {
				c.Errorf(c.Path("keep"), "keep must be 0 (all) or more")
			}
			method := x.Method
			if method == "" {
				method = "random"
			}
			if !c.OneOf(method, c.Path("method"), "method", "random", "first", "nonEmpty", "values") {
				return
			}
			switch method {
			case "first":
				if len(x.OrderBy) == 0 {
					c.Errorf(c.Path("orderBy"), "method first needs orderBy")
				}
				c.RequireOrder(in, x.OrderBy, c.Path("orderBy"))
			case "nonEmpty", "values":
				if x.Field == "" {
					c.Errorf(c.Path("field"), "method %s needs field", method)
				} else {
					c.RequireColumn(in, x.Field, c.Path("field"))
				}
				if method == "values" && len(x.Values) == 0 {
					c.Errorf(c.Path("values"), "method values needs a list of preferred values")
				}
				c.RequireOrder(in, x.OrderBy, c.Path("orderBy"))
			}
		},
		Output: activity.SameInput[DedupConfig]("out", "duplicates"),
		Lower: func(l activity.Lowerer, x *DedupConfig) error {
			return lowerInputs(l, onAthenaInput(l.Catalog()), len(dedupPorts(x)))
		},
		Run:      run(d, runDeduplication),
		Describe: describeDedup,
		OnAthena: true,
	})
}

// deduplication keeps at most keep rows per group of equal `by` values
// (keep 0: all). Null is a value like any other: rows whose `by` values
// are all null, or null in the same places and equal elsewhere, form one
// group (Adobe treats empty as a value; SQL GROUP BY does the same).
//
// Inside a group rows are ranked by the method, then by the key, then by a
// hash of the row:
//   - random (default): md5(run id, activity, row key) — a retried task
//     keeps the same rows, another run draws again;
//   - first: orderBy (nulls last);
//   - nonEmpty: rows whose field is not null (nor "" for strings) first,
//     then orderBy;
//   - values: rows whose field equals values[0] first, then values[1]...,
//     then the others, then orderBy.
//
// duplicates (complement: true) is exactly the rows not kept.
func runDeduplication(t *task, x *DedupConfig) (*activity.Result, error) {
	switch t.Req.Phase {
	case PhasePlan:
		return planDeduplication(t, x)
	case PhaseFinish:
		return finishDeduplication(t, x)
	}
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
	rank, err := dedupRank(condition.DuckDB, in, x, t.seed("dedup"))
	if err != nil {
		return nil, err
	}

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

// dedupRank is the rank of a row of in (alias t) inside its group, in a
// dialect: row_number() by the method's order (the one generator of both
// engines).
func dedupRank(d condition.Dialect, in pop, x *DedupConfig, seed string) (*sqlb, error) {
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
			fmt.Fprintf(&cases, " WHEN %s IS NOT DISTINCT FROM CAST(? AS %s) THEN %d", col("t", c.Name), d.TypeName(typ), i)
			args = append(args, literalIn(d, v))
		}
		fmt.Fprintf(&cases, " ELSE %d END ASC", len(x.Values))
		rank.add(cases.String()+", ", args...)
	}
	if method != "random" {
		keys = append(keys, sortKeys("t", x.OrderBy)...)
		keys = append(keys, orderIn(d, "t", in))
		rank.add(strings.Join(keys, ", "))
	} else {
		rank.add(randomOrderIn(d, "t", in), seed)
	}
	rank.add(")")
	return rank, nil
}

// dedupPorts are the ports a deduplication writes.
func dedupPorts(x *DedupConfig) []string {
	if x.Complement {
		return []string{"out", "duplicates"}
	}
	return []string{"out"}
}

// planDeduplication writes the Athena statements of a deduplication: per
// port, the input's rows whose rank is within keep (out) or beyond it
// (duplicates). Trino has no QUALIFY: the rank is a subquery's column.
func planDeduplication(t *task, x *DedupConfig) (*activity.Result, error) {
	ports := dedupPorts(x)
	res, done, err := t.athenaReady(ports...)
	if err != nil || done {
		return res, err
	}
	in, rel, err := t.athenaInput(0)
	if err != nil {
		return nil, err
	}
	for _, b := range x.By {
		if !in.has(b) {
			return nil, invalid("deduplication: unknown column %q", b)
		}
	}
	keep := x.KeepN()
	if keep < 0 {
		return nil, invalid("deduplication: keep must be 0 or more")
	}
	cols := selectCols("t", in.Columns)
	sel := map[string]*sqlb{}
	if keep == 0 || len(x.By) == 0 {
		sel["out"] = (&sqlb{}).add("SELECT " + cols + " FROM " + rel + " AS t")
		sel["duplicates"] = (&sqlb{}).add("SELECT " + cols + " FROM " + rel + " AS t WHERE false")
	} else {
		rank, err := dedupRank(condition.Trino, in, x, t.seed("dedup"))
		if err != nil {
			return nil, err
		}
		ranked := "SELECT " + cols + " FROM (SELECT " + cols + ", " + rank.String() + " AS " + q(rnCol) + " FROM " + rel +
			" AS t) AS t WHERE " + col("t", rnCol)
		sel["out"] = (&sqlb{}).add(ranked+" <= CAST(? AS BIGINT)", append(slices.Clone(rank.args), int64(keep))...)
		sel["duplicates"] = (&sqlb{}).add(ranked+" > CAST(? AS BIGINT)", append(slices.Clone(rank.args), int64(keep))...)
	}
	for i, port := range ports {
		if res.Extra[queryKey(i)], err = t.unload(port, sel[port].String(), sel[port].args); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// finishDeduplication records Athena's output of each port.
func finishDeduplication(t *task, x *DedupConfig) (*activity.Result, error) {
	return t.recordUnloads(dedupPorts(x), nil)
}

// literalIn is literal for a dialect: an instant as its cast reads it.
func literalIn(d condition.Dialect, v any) any {
	if tm, ok := v.(time.Time); ok && d == condition.Trino && literal(v) != tm.Format("2006-01-02") {
		return d.Timestamp(tm)
	}
	return literal(v)
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
