package targeting

import (
	"slices"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Match pairs an input column with a dimension column.
type Match struct {
	Input string `json:"input" jsonschema:"required"`
	Field string `json:"field" jsonschema:"required"`
}

// ReconciliationConfig identifies file rows as rows of a dimension.
type ReconciliationConfig struct {
	Dimension     string               `json:"dimension,omitempty"`
	Match         []Match              `json:"match,omitempty"`
	Where         *condition.Condition `json:"where,omitempty" jsonschema:"description=match condition on the dimension, with {field: inputColumn} values"`
	KeepUnmatched bool                 `json:"keepUnmatched,omitempty"`
}

// reconciliation is the reconciliation type.
func reconciliation(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[ReconciliationConfig]{
		Type: "reconciliation", Family: activity.Targeting, Function: "Reconciliation",
		Summary: "Identifies rows (of a file) as rows of a dimension.",
		Inputs:  activity.Inputs{Min: 1, Max: 1},
		Ports:   reconcilePorts,
		Check: func(c *activity.Check, x *ReconciliationConfig) {
			t, ok := c.DimensionTable(x.Dimension, c.Path("dimension"))
			if len(x.Match) == 0 && x.Where == nil {
				c.Errorf(c.Path("match"), "reconciliation needs match pairs or a where condition")
			}
			in := c.Input(0)
			for i, m := range x.Match {
				mp := campaign.JoinPath(c.Path("match"), i)
				ic, iok := c.RequireColumn(in, m.Input, campaign.JoinPath(mp, "input"))
				if !ok {
					continue
				}
				tc, tok := c.RequireColumn(t.Schema(), m.Field, campaign.JoinPath(mp, "field"))
				if iok && tok && ic.Type != tc.Type {
					c.Errorf(mp, "cannot match %s column %q with %s column %q", ic.Type, m.Input, tc.Type, m.Field)
				}
			}
			if ok && x.Where != nil {
				// {field: x} values in the match condition name input columns.
				c.CheckCondition(c.Path("where"), x.Where, t.Schema().With(in.Columns...))
			}
		},
		Output: func(c *activity.Check, x *ReconciliationConfig, in []campaign.Schema) map[string]campaign.Schema {
			out := tableOutput(c, x.Dimension, "out")
			if len(in) > 0 {
				out["out"] = reconciledSchema(out["out"], in[0])
				out["unmatched"] = in[0].With(campaign.Column{Name: "reason", Type: campaign.TypeString})
			}
			return out
		},
		Lower: func(l activity.Lowerer, x *ReconciliationConfig) error {
			return lowerInputs(l, onAthenaInput(l.Catalog()), len(reconcilePorts(x)))
		},
		Describe: describeReconciliation,
		Run:      run(d, runReconciliation),
		OnAthena: true,
	})
}

// reconcilePorts are the ports a reconciliation writes.
func reconcilePorts(x *ReconciliationConfig) []string {
	if x.KeepUnmatched {
		return []string{"out", "unmatched"}
	}
	return []string{"out"}
}

// reconciledSchema is the dimension's columns followed by the input's
// columns that the dimension does not have.
func reconciledSchema(dim, in campaign.Schema) campaign.Schema {
	if len(dim.Columns) == 0 {
		return dim // columns known only at run time
	}
	out := campaign.Schema{Dimension: dim.Dimension, Columns: append([]campaign.Column(nil), dim.Columns...)}
	for _, c := range in.Columns {
		if _, ok := dim.Column(c.Name); !ok {
			out.Columns = append(out.Columns, c)
		}
	}
	return out
}

// Reconciliation reasons on the unmatched port.
const (
	ReasonNoMatch  = "no match"
	ReasonSeveral  = "several matches"
	inputColPrefix = "__in_"
)

// reconciliation identifies each input row as the dimension row it matches:
// match pairs (input column = dimension column, all of them), or a where
// condition on the dimension whose {field: x} values name input columns
// (a subject names a dimension column, else an input column; a value names
// an input column, else a dimension column; inside link sub-conditions
// names are those of the linked table). Null never matches. An input row
// matching exactly one dimension row gives one row on `out`: the dimension
// row's columns, then the input's columns the dimension lacks. Rows matching
// none or several go to `unmatched` with reason "no match" or "several
// matches" (keepUnmatched), else are dropped: never a guess.
//
// Equalities between a dimension column and an input column at the top of
// the condition (alone or under all) become hash-join keys; the rest is
// evaluated on the joined pairs. A condition without such an equality
// compares every input row with every dimension row.
func runReconciliation(t *task, x *ReconciliationConfig) (*activity.Result, error) {
	switch t.Req.Phase {
	case PhasePlan:
		return planReconciliation(t, x)
	case PhaseFinish:
		return finishReconciliation(t, x)
	}
	ins, err := t.inputs()
	if err != nil {
		return nil, err
	}
	in := ins[0]
	dim, err := t.table(t.dimension(x.Dimension))
	if err != nil {
		return nil, err
	}
	input := t.scratchTable("input")
	if err := t.exec("CREATE TABLE " + q(input) + " AS " + reconcileInput(condition.DuckDB, q(in.View), in)); err != nil {
		return nil, err
	}
	r, err := newReconciler(x, dim, in)
	if err != nil {
		return nil, err
	}
	matched, err := r.matched(q(input), q(dim.View), func(c *condition.Condition, s campaign.Schema) (string, []any, error) {
		return t.Where(c, "m", s)
	})
	if err != nil {
		return nil, err
	}
	counts := t.scratchTable("counts")
	if err := t.exec("CREATE TABLE "+q(counts)+" AS SELECT "+q(ridCol)+", count(*) AS n FROM ("+matched.String()+") GROUP BY "+q(ridCol),
		matched.args...); err != nil {
		return nil, err
	}

	if row, err := t.Engine.QueryRow(t.Ctx, "SELECT count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n > 1) FROM "+q(counts)); err == nil {
		one, several := row[0].(int64), row[1].(int64)
		t.Logf("%d rows matched one %s row, %d none, %d several", one, dim.Dimension, in.Count-one-several, several)
	}
	res := t.result()
	out := r.out
	if reconcileNarrow {
		// The dimension's columns are its row's, by key: written narrow over
		// the table (the key and the input's columns), which readers join
		// back; update-data and channel plans read those own columns alone.
		out.Base = dim.Base
	}
	var keyOrder []string
	for _, k := range dim.Key {
		keyOrder = append(keyOrder, col("m", k))
	}
	keyOrder = append(keyOrder, col("m", ridCol))
	if _, err := t.write(res, "out", out, r.outSelect(matched.String(), q(counts))+" ORDER BY "+strings.Join(keyOrder, ", "), matched.args...); err != nil {
		return nil, err
	}
	if x.KeepUnmatched {
		sel, args := r.unmatchedSelect(condition.DuckDB, q(input), q(counts))
		if _, err := t.write(res, "unmatched", in, sel+" ORDER BY "+col("i", ridCol), args...); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// reconcileInput numbers the input's rows (at rel, alias t) in row order,
// in a dialect: a row's id.
func reconcileInput(d condition.Dialect, rel string, in pop) string {
	return "SELECT " + selectCols("t", in.Columns) + ", row_number() OVER (ORDER BY " + orderIn(d, "t", in) + ") AS " + q(ridCol) +
		" FROM " + rel + " AS t"
}

// reconciler is a reconciliation's join: the pairs that become join keys,
// the rest of its condition, and the merged and output shapes.
type reconciler struct {
	dim, in  pop
	pairs    [][2]string // input column, dimension column
	residual *condition.Condition
	merged   campaign.Schema
	out      pop // the out port's shape (dimension's columns, then the input's it lacks)
}

func newReconciler(x *ReconciliationConfig, dim, in pop) (*reconciler, error) {
	r := &reconciler{dim: dim, in: in}
	for _, m := range x.Match {
		if !in.has(m.Input) || !dim.has(m.Field) {
			return nil, invalid("match: unknown column %s = %s", m.Input, m.Field)
		}
		r.pairs = append(r.pairs, [2]string{m.Input, m.Field})
	}
	if x.Where != nil {
		var more [][2]string
		more, r.residual = splitMatch(x.Where, dim, in)
		r.pairs = append(r.pairs, more...)
	}
	r.merged = dim.Schema()
	for _, c := range in.Columns {
		r.merged.Columns = append(r.merged.Columns, campaign.Column{Name: inputColPrefix + c.Name, Type: c.Type, Scale: c.Scale})
	}
	outSchema := reconciledSchema(dim.Schema(), in.Schema())
	r.out = pop{Dimension: dim.Dimension, Key: dim.Key, Columns: outSchema.Columns}
	return r, nil
}

// matched is every (input row, dimension row) pair that matches, with the
// dimension's columns, the input's columns renamed, and the input row id:
// input and dim are the relations of the numbered input and the dimension;
// where lowers the residual condition over the pair (alias m).
func (r *reconciler) matched(input, dim string, where func(*condition.Condition, campaign.Schema) (string, []any, error)) (*sqlb, error) {
	sel := []string{selectCols("d", r.dim.Columns)}
	for _, c := range r.in.Columns {
		sel = append(sel, col("i", c.Name)+" AS "+q(inputColPrefix+c.Name))
	}
	sel = append(sel, col("i", ridCol))
	join := " CROSS JOIN " + dim + " AS d"
	if len(r.pairs) > 0 {
		on := make([]string, len(r.pairs))
		for i, p := range r.pairs {
			on[i] = col("d", p[1]) + " = " + col("i", p[0])
		}
		join = " JOIN " + dim + " AS d ON " + strings.Join(on, " AND ")
	}
	matched := &sqlb{}
	matched.add("SELECT * FROM (SELECT " + strings.Join(sel, ", ") + " FROM " + input + " AS i" + join + ") AS m")
	if r.residual != nil {
		w, args, err := where(r.residual, r.merged)
		if err != nil {
			return nil, err
		}
		matched.add(" WHERE "+w, args...)
	}
	return matched, nil
}

// outSelect is the out port's rows: the pairs of matched whose input row
// matched exactly one dimension row (counts: rid, n).
func (r *reconciler) outSelect(matched, counts string) string {
	outSel := []string{selectCols("m", r.dim.Columns)}
	for _, c := range r.out.Columns[len(r.dim.Columns):] {
		outSel = append(outSel, col("m", inputColPrefix+c.Name)+" AS "+q(c.Name))
	}
	return "SELECT " + strings.Join(outSel, ", ") + " FROM (" + matched + ") AS m JOIN " + counts +
		" AS c ON " + col("c", ridCol) + " = " + col("m", ridCol) + " AND c.n = 1"
}

// unmatchedColumns are the unmatched port's columns but reason.
func (r *reconciler) unmatchedColumns() []campaign.Column {
	var cols []campaign.Column
	for _, c := range r.in.Columns {
		if c.Name != "reason" {
			cols = append(cols, c)
		}
	}
	return cols
}

// unmatchedSelect is the input rows that matched no dimension row or
// several, with the reason, in a dialect: Trino's values are inlined, each
// in its own cast (condition.Inline).
func (r *reconciler) unmatchedSelect(d condition.Dialect, input, counts string) (string, []any) {
	reason := "CAST(CASE WHEN c.n IS NULL THEN ? ELSE ? END AS VARCHAR)"
	if d == condition.Trino {
		reason = "CASE WHEN c.n IS NULL THEN CAST(? AS VARCHAR) ELSE CAST(? AS VARCHAR) END"
	}
	return "SELECT " + selectCols("i", r.unmatchedColumns()) + ", " + reason + " AS reason FROM " + input + " AS i LEFT JOIN " + counts +
		" AS c ON " + col("c", ridCol) + " = " + col("i", ridCol) + " WHERE c.n IS NULL OR c.n > 1", []any{ReasonNoMatch, ReasonSeveral}
}

// planReconciliation writes the Athena statements of a reconciliation, one
// per port, each WITH the numbered input, the matching pairs and their
// count per input row; out is written wide (the dimension's columns too):
// Athena reads no dataset written over its table.
func planReconciliation(t *task, x *ReconciliationConfig) (*activity.Result, error) {
	ports := reconcilePorts(x)
	res, done, err := t.athenaReady(ports...)
	if err != nil || done {
		return res, err
	}
	in, rel, err := t.athenaInput(0)
	if err != nil {
		return nil, err
	}
	dim, err := t.table(t.dimension(x.Dimension))
	if err != nil {
		return nil, err
	}
	dimRel, err := t.athenaTable(dim.Dimension)
	if err != nil {
		return nil, err
	}
	r, err := newReconciler(x, dim, in)
	if err != nil {
		return nil, err
	}
	matched, err := r.matched(q("input"), q(t.Comp.Catalog.Athena.Database)+"."+q(dimRel), func(c *condition.Condition, s campaign.Schema) (string, []any, error) {
		return t.whereIn(condition.Trino, c, "m", s)
	})
	if err != nil {
		return nil, err
	}
	with := "WITH " + q("input") + " AS (" + reconcileInput(condition.Trino, rel, in) + "), " + q("matched") + " AS (" + matched.String() +
		"), " + q("counts") + " AS (SELECT " + q(ridCol) + ", count(*) AS n FROM " + q("matched") + " GROUP BY " + q(ridCol) + ") "
	sel := map[string]*sqlb{"out": (&sqlb{}).add(with+r.outSelect("SELECT * FROM "+q("matched"), q("counts")), matched.args...)}
	if x.KeepUnmatched {
		u, args := r.unmatchedSelect(condition.Trino, q("input"), q("counts"))
		sel["unmatched"] = (&sqlb{}).add(with+u, append(slices.Clone(matched.args), args...)...)
	}
	for i, port := range ports {
		if res.Extra[queryKey(i)], err = t.unload(port, sel[port].String(), sel[port].args); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// finishReconciliation records Athena's output of each port.
func finishReconciliation(t *task, x *ReconciliationConfig) (*activity.Result, error) {
	in, err := t.inputShape(0)
	if err != nil {
		return nil, err
	}
	dim, err := t.table(t.dimension(x.Dimension))
	if err != nil {
		return nil, err
	}
	r, err := newReconciler(x, dim, in)
	if err != nil {
		return nil, err
	}
	res := t.result()
	m, err := t.recordUnload(res, "out", r.out)
	if err != nil {
		return nil, err
	}
	t.Logf("%d rows matched one %s row", m.Rows, dim.Dimension)
	if x.KeepUnmatched {
		u := in
		u.Columns = append(r.unmatchedColumns(), campaign.Column{Name: "reason", Type: campaign.TypeString})
		if m, err = t.recordUnload(res, "unmatched", u); err != nil {
			return nil, err
		}
		t.Logf("%d rows matched none or several", m.Rows)
	}
	return res, nil
}

// reconcileNarrow lets tests write out wide, to compare.
var reconcileNarrow = true

// splitMatch takes the top-level equalities dimension column = input column
// out of a match condition, as join pairs, and returns the rest rewritten
// for the merged relation (input columns renamed), or nil.
func splitMatch(c *condition.Condition, dim, in pop) ([][2]string, *condition.Condition) {
	leaves := []condition.Condition{*c}
	if len(c.All) > 0 {
		leaves = c.All
	}
	var pairs [][2]string
	var rest []condition.Condition
	for _, l := range leaves {
		if l.Field != "" && l.Op == "eq" && dim.has(l.Field) && l.Value != nil && !l.Value.IsList && l.Value.Field != "" && in.has(l.Value.Field) {
			pairs = append(pairs, [2]string{l.Value.Field, l.Field})
			continue
		}
		rest = append(rest, *renameInputs(&l, dim, in))
	}
	switch len(rest) {
	case 0:
		return pairs, nil
	case 1:
		return pairs, &rest[0]
	}
	return pairs, &condition.Condition{All: rest}
}

// renameInputs copies c with the names of input columns renamed as in the
// merged relation (top level only: link sub-conditions see the linked table).
func renameInputs(c *condition.Condition, dim, in pop) *condition.Condition {
	out := *c
	out.All, out.Any = nil, nil
	for _, s := range c.All {
		out.All = append(out.All, *renameInputs(&s, dim, in))
	}
	for _, s := range c.Any {
		out.Any = append(out.Any, *renameInputs(&s, dim, in))
	}
	if c.Not != nil {
		out.Not = renameInputs(c.Not, dim, in)
	}
	if c.Link != "" {
		return &out
	}
	if c.Field != "" && !dim.has(c.Field) && !strings.Contains(c.Field, ".") && in.has(c.Field) {
		out.Field = inputColPrefix + c.Field
	}
	out.Value = renameValue(c.Value, in)
	return &out
}

func renameValue(v *condition.Value, in pop) *condition.Value {
	if v == nil {
		return nil
	}
	out := *v
	if v.Field != "" && in.has(v.Field) {
		out.Field = inputColPrefix + v.Field
	}
	if v.List != nil {
		out.List = make([]*condition.Value, len(v.List))
		for i, item := range v.List {
			out.List[i] = renameValue(item, in)
		}
	}
	return &out
}
