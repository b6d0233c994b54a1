package targeting

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Addition is one column added by enrichment.
type Addition struct {
	Name      string               `json:"name" jsonschema:"required"`
	Field     string               `json:"field,omitempty" jsonschema:"description=column, or link.column through one-links"`
	Link      string               `json:"link,omitempty"`
	Aggregate string               `json:"aggregate,omitempty" jsonschema:"enum=count,enum=countDistinct,enum=sum,enum=avg,enum=min,enum=max"`
	Where     *condition.Condition `json:"where,omitempty"`
	Collect   int                  `json:"collect,omitempty" jsonschema:"description=first N linked rows as columns <name>1<Field>..."`
	Fields    []string             `json:"fields,omitempty"`
	OrderBy   []activity.Order     `json:"orderBy,omitempty"`
	Join      string               `json:"join,omitempty" jsonschema:"description=another inbound activity (id) to take the value from"`
	On        map[string]string    `json:"on,omitempty" jsonschema:"description=this population's column: the joined population's column"`
}

// EnrichmentConfig adds columns to a population.
type EnrichmentConfig struct {
	Add []Addition `json:"add" jsonschema:"required"`
}

// enrichment is the enrichment type.
func enrichment(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[EnrichmentConfig]{
		Type: "enrichment", Family: activity.Targeting, Function: "Enrichment",
		Summary: "Adds attributes, aggregates and collected rows of linked data.",
		Inputs:  activity.Inputs{Min: 1},
		Check:   checkEnrichment,
		Output: func(c *activity.Check, x *EnrichmentConfig, in []campaign.Schema) map[string]campaign.Schema {
			var s campaign.Schema
			if len(in) > 0 {
				s = in[0]
			}
			cols, _ := enrichmentColumns(c, x, in, false)
			return map[string]campaign.Schema{"out": s.With(cols...)}
		},
		Lower: func(l activity.Lowerer, x *EnrichmentConfig) error {
			return lowerInputs(l, onAthenaInput(l.Catalog()), 1)
		},
		Describe: describeEnrichment,
		Run:      run(d, runEnrichment),
		OnAthena: true,
	})
}

func checkEnrichment(c *activity.Check, x *EnrichmentConfig) {
	if len(x.Add) == 0 {
		c.Errorf(c.Path("add"), "enrichment needs at least one addition")
	}
	enrichmentColumns(c, x, c.Inputs, true)
}

// enrichmentColumns derives the added columns, reporting problems when report is set.
func enrichmentColumns(c *activity.Check, x *EnrichmentConfig, in []campaign.Schema, report bool) ([]campaign.Column, bool) {
	e := &additionCheck{c: c, in: in, report: report}
	if len(in) > 0 {
		e.base = in[0]
	}
	e.dim, e.hasDim = c.Catalog.Table(e.base.Dimension)
	var cols []campaign.Column
	seen := map[string]bool{}
	for _, col := range e.base.Columns {
		seen[col.Name] = true
	}
	for i, a := range x.Add {
		ap := campaign.JoinPath(c.Path("add"), i)
		if seen[a.Name] {
			e.errorf(campaign.JoinPath(ap, "name"), "column %q already exists in the population", a.Name)
		}
		seen[a.Name] = true
		cols = append(cols, e.columns(ap, a)...)
	}
	return cols, true
}

// additionCheck derives the columns of additions to the population base
// (in[0]), reporting problems when report is set.
type additionCheck struct {
	c      *activity.Check
	in     []campaign.Schema
	base   campaign.Schema
	dim    *campaign.Table // base's catalog table (hasDim)
	hasDim bool
	report bool
}

func (e *additionCheck) errorf(path, f string, a ...any) {
	if e.report {
		e.c.Errorf(path, f, a...)
	}
}

// columns returns the columns addition a (at path ap) adds; none when it is
// wrong.
func (e *additionCheck) columns(ap string, a Addition) []campaign.Column {
	forms := 0
	for _, set := range []bool{a.Field != "" && a.Link == "" && a.Join == "", a.Link != "" && a.Aggregate != "", a.Link != "" && a.Collect > 0, a.Join != ""} {
		if set {
			forms++
		}
	}
	if forms != 1 {
		e.errorf(ap, "an addition is one of: field; link + aggregate; link + collect; join + on + field")
		return nil
	}
	switch {
	case a.Join != "":
		return e.joinColumn(ap, a)
	case a.Link == "":
		col, err := resolveField(e.c.Catalog, e.base, a.Field)
		if err != nil {
			e.errorf(campaign.JoinPath(ap, "field"), "%v", err)
			return nil
		}
		return []campaign.Column{{Name: a.Name, Type: col.Type, Scale: col.Scale}}
	}
	return e.linkColumns(ap, a)
}

// joinColumn is the column of join + on + field: a field of another inbound
// population.
func (e *additionCheck) joinColumn(ap string, a Addition) []campaign.Column {
	c := e.c
	idx := -1
	for j, t := range c.Activity.From {
		if t.Activity == a.Join {
			idx = j
		}
	}
	if idx <= 0 {
		e.errorf(campaign.JoinPath(ap, "join"), "join %q must be another inbound activity of this enrichment (listed in from after the main population)", a.Join)
		return nil
	}
	other := e.in[idx]
	if len(a.On) == 0 {
		e.errorf(campaign.JoinPath(ap, "on"), "join needs on: { thisColumn: otherColumn }")
	}
	for _, k := range campaign.SortedKeys(a.On) {
		if e.report {
			c.RequireColumn(e.base, k, campaign.JoinPath(campaign.JoinPath(ap, "on"), k))
			c.RequireColumn(other, a.On[k], campaign.JoinPath(campaign.JoinPath(ap, "on"), k))
		}
	}
	if col, ok := other.Column(a.Field); ok {
		return []campaign.Column{{Name: a.Name, Type: col.Type, Scale: col.Scale}}
	} else if e.report {
		c.RequireColumn(other, a.Field, campaign.JoinPath(ap, "field"))
	}
	return nil
}

// linkColumns are the columns of link + aggregate or link + collect.
func (e *additionCheck) linkColumns(ap string, a Addition) []campaign.Column {
	c := e.c
	if !e.hasDim {
		e.errorf(campaign.JoinPath(ap, "link"), "links need a population of a catalog table")
		return nil
	}
	l, ok := e.dim.Link(a.Link)
	if !ok {
		e.errorf(campaign.JoinPath(ap, "link"), "unknown link %q of %q%s", a.Link, e.dim.Name, campaign.DidYouMean(a.Link, e.dim.LinkNames()))
		return nil
	}
	lt, _ := c.Catalog.Table(l.Table)
	if e.report && a.Where != nil {
		c.CheckCondition(campaign.JoinPath(ap, "where"), a.Where, lt.Schema())
		athenaCheck(c, campaign.JoinPath(ap, "where"), a.Where, lt.Schema())
	}
	if e.report {
		c.RequireOrder(lt.Schema(), a.OrderBy, campaign.JoinPath(ap, "orderBy"))
	}
	if a.Aggregate != "" {
		return e.aggregateColumn(ap, a, lt)
	}
	return e.collectColumns(ap, a, lt)
}

// aggregateColumn is the column of link + aggregate over the linked table lt.
func (e *additionCheck) aggregateColumn(ap string, a Addition, lt *campaign.Table) []campaign.Column {
	if !e.c.OneOf(a.Aggregate, campaign.JoinPath(ap, "aggregate"), "aggregate", "count", "countDistinct", "sum", "avg", "min", "max") {
		return nil
	}
	typ, scale := campaign.TypeInteger, 0
	if a.Aggregate != "count" {
		if a.Field == "" {
			e.errorf(campaign.JoinPath(ap, "field"), "aggregate %s needs field", a.Aggregate)
			return nil
		}
		fc, ok := lt.Column(a.Field)
		if !ok {
			e.errorf(campaign.JoinPath(ap, "field"), "unknown column %q of %q%s", a.Field, lt.Name, campaign.DidYouMean(a.Field, lt.ColumnNames()))
			return nil
		}
		switch a.Aggregate {
		case "sum", "avg":
			if fc.Type != campaign.TypeInteger && fc.Type != campaign.TypeNumber && fc.Type != campaign.TypeDecimal {
				e.errorf(campaign.JoinPath(ap, "field"), "%s needs a numeric column; %q is %s", a.Aggregate, a.Field, fc.Type)
			}
			typ = campaign.TypeNumber
			if a.Aggregate == "sum" && fc.Type != campaign.TypeNumber {
				typ, scale = fc.Type, fc.Scale
			}
		case "min", "max":
			typ, scale = fc.Type, fc.Scale
		}
	}
	return []campaign.Column{{Name: a.Name, Type: typ, Scale: scale}}
}

// collectColumns are the columns of link + collect: each field of the first
// Collect linked rows of lt.
func (e *additionCheck) collectColumns(ap string, a Addition, lt *campaign.Table) []campaign.Column {
	if len(a.Fields) == 0 {
		e.errorf(campaign.JoinPath(ap, "fields"), "collect needs fields")
	}
	var cols []campaign.Column
	for n := 1; n <= a.Collect; n++ {
		for j, f := range a.Fields {
			fc, ok := lt.Column(f)
			if !ok {
				if n == 1 {
					e.errorf(campaign.JoinPath(campaign.JoinPath(ap, "fields"), j), "unknown column %q of %q%s", f, lt.Name, campaign.DidYouMean(f, lt.ColumnNames()))
				}
				continue
			}
			cols = append(cols, campaign.Column{Name: CollectColumn(a.Name, n, f), Type: fc.Type, Scale: fc.Scale})
		}
	}
	return cols
}

// CollectColumn names the column holding field f of the n-th collected row.
func CollectColumn(name string, n int, f string) string {
	if f == "" {
		return fmt.Sprintf("%s%d", name, n)
	}
	return fmt.Sprintf("%s%d%s%s", name, n, strings.ToUpper(f[:1]), f[1:])
}

// resolveField finds a column of the population or, through one-links of its
// dimension, of a linked table ("store.city").
func resolveField(cat *campaign.Catalog, s campaign.Schema, field string) (campaign.Column, error) {
	if col, ok := s.Column(field); ok {
		return col, nil
	}
	parts := splitDots(field)
	if len(parts) == 1 {
		return campaign.Column{}, fmt.Errorf("unknown column %q in %s%s", field, s, campaign.DidYouMean(field, s.ColumnNames()))
	}
	t, ok := cat.Table(s.Dimension)
	if !ok {
		return campaign.Column{}, fmt.Errorf("%q goes through a link, but the population has no dimension", field)
	}
	for _, p := range parts[:len(parts)-1] {
		l, ok := t.Link(p)
		if !ok {
			return campaign.Column{}, fmt.Errorf("unknown link %q of %q%s", p, t.Name, campaign.DidYouMean(p, t.LinkNames()))
		}
		if l.Cardinality != "one" {
			return campaign.Column{}, fmt.Errorf("link %q of %q has many rows: use link + aggregate or collect", p, t.Name)
		}
		t, _ = cat.Table(l.Table)
	}
	last := parts[len(parts)-1]
	col, ok := t.Column(last)
	if !ok {
		return campaign.Column{}, fmt.Errorf("unknown column %q of %q%s", last, t.Name, campaign.DidYouMean(last, t.ColumnNames()))
	}
	return col, nil
}

func splitDots(s string) []string { return strings.Split(s, ".") }

// enrichment adds columns to the population; its rows stay the same.
//   - field: a column, or link.column through cardinality-one links (null
//     when nothing is linked);
//   - link + aggregate: aggregates over the linked rows matching where
//     (count and countDistinct 0 when none, the others null). The
//     aggregates of one link share one GROUP BY over the linked table;
//   - link + collect N: the first N linked rows matching where, in orderBy
//     order (nulls last) then by the linked table's key, as columns
//     <name><n><Field>; missing rows give nulls;
//   - join + on + field: the field of the first row (in its key order) of
//     another inbound population whose `on` columns equal this row's; null
//     when none (null `on` values match nothing).
//
// On Athena the plan phase writes the same SELECT in the Trino dialect
// (enricher) as one UNLOAD; finish records it.
func runEnrichment(t *task, x *EnrichmentConfig) (*activity.Result, error) {
	switch t.Req.Phase {
	case PhasePlan:
		return planEnrichment(t, x)
	case PhaseFinish:
		return finishEnrichment(t, x)
	}
	ins, err := t.inputs()
	if err != nil {
		return nil, err
	}
	in := ins[0]
	rels := make([]string, len(ins))
	for i, p := range ins {
		rels[i] = q(p.View)
	}
	e := &enricher{d: condition.DuckDB, t: t, ins: ins, rels: rels}
	sel, err := e.query(x)
	if err != nil {
		return nil, err
	}
	res := t.result()
	// One row per input row: every join matches at most one row.
	_, err = t.writeRows(res, "out", in, false, sel.String()+" ORDER BY "+order("t", in), sel.args...)
	return res, err
}

// planEnrichment writes the Athena statement of an enrichment: the
// enricher's SELECT over the inputs' Glue tables (an inactive input: an
// empty relation) and the linked tables'.
func planEnrichment(t *task, x *EnrichmentConfig) (*activity.Result, error) {
	res, done, err := t.athenaReady("out")
	if err != nil || done {
		return res, err
	}
	ins := make([]pop, len(t.Req.Inputs))
	rels := make([]string, len(ins))
	for i := range ins {
		if ins[i], rels[i], err = t.athenaInput(i); err != nil {
			return nil, err
		}
	}
	sel, err := (&enricher{d: condition.Trino, t: t, ins: ins, rels: rels}).query(x)
	if err != nil {
		return nil, err
	}
	res.Extra[queryKey(0)], err = t.unload("out", sel.String(), sel.args)
	return res, err
}

// finishEnrichment records Athena's output: the input's columns, then the
// added ones, as the SELECT lists them.
func finishEnrichment(t *task, x *EnrichmentConfig) (*activity.Result, error) {
	ins := make([]pop, len(t.Req.Inputs))
	for i := range ins {
		var err error
		if ins[i], err = t.inputShape(i); err != nil {
			return nil, err
		}
	}
	_, added, err := t.addedColumns(x, ins)
	if err != nil {
		return nil, err
	}
	out := ins[0]
	out.Columns = append(slices.Clone(out.Columns), added...)
	res := t.result()
	_, err = t.recordUnload(res, "out", out)
	return res, err
}

// enricher writes an enrichment's SELECT in a dialect (without ORDER BY):
// ins are the inputs and rels the relations the statement reads them as.
type enricher struct {
	d    condition.Dialect
	t    *task
	ins  []pop
	rels []string
}

// query is the enrichment's SELECT: the first input's columns, then the
// added ones.
func (e *enricher) query(x *EnrichmentConfig) (*sqlb, error) {
	t, ins, in := e.t, e.ins, e.ins[0]
	added, _, err := t.addedColumns(x, ins)
	if err != nil {
		return nil, err
	}
	var sel []string
	joins := &sqlb{}
	groups := map[string]*linkGroup{}
	var groupOrder []*linkGroup
	for i, a := range x.Add {
		switch {
		case a.Join != "":
			idx := -1
			for j := 1; j < len(ins); j++ {
				if ins[j].From == a.Join {
					idx = j
					break
				}
			}
			if idx < 0 {
				return nil, invalid("add[%d]: join %q is not an inbound activity", i, a.Join)
			}
			alias := fmt.Sprintf("j%d", i)
			expr, err := e.joinAddition(joins, alias, a, idx)
			if err != nil {
				return nil, err
			}
			sel = append(sel, castAsIn(e.d, expr, added[a.Name]))
		case a.Link == "":
			expr, _, err := condition.FieldSQL(a.Field, t.scopeIn(e.d, "t", in.Schema()))
			if err != nil {
				return nil, fmt.Errorf("add[%d]: %w", i, err)
			}
			sel = append(sel, castAsIn(e.d, expr, added[a.Name]))
		case a.Aggregate != "":
			g := groups[a.Link]
			if g == nil {
				g = &linkGroup{link: a.Link, alias: fmt.Sprintf("g%d", len(groupOrder))}
				groups[a.Link] = g
				groupOrder = append(groupOrder, g)
			}
			expr := fmt.Sprintf("%s.a%d", q(g.alias), len(g.adds))
			if a.Aggregate == "count" || a.Aggregate == "countDistinct" {
				expr = "COALESCE(" + expr + ", 0)"
			}
			g.adds = append(g.adds, a)
			sel = append(sel, castAsIn(e.d, expr, added[a.Name]))
		default:
			alias := fmt.Sprintf("c%d", i)
			if err := e.collectAddition(joins, alias, a); err != nil {
				return nil, err
			}
			for n := 1; n <= a.Collect; n++ {
				for _, f := range a.Fields {
					name := CollectColumn(a.Name, n, f)
					sel = append(sel, castAsIn(e.d, col(alias, name), added[name]))
				}
			}
		}
	}
	for _, g := range groupOrder {
		if err := e.aggregateGroup(joins, g); err != nil {
			return nil, err
		}
	}
	b := (&sqlb{}).add("SELECT " + selectCols("t", in.Columns) + ", " + strings.Join(sel, ", ") + " FROM " + e.rels[0] + " AS t")
	b.add(joins.String(), joins.args...)
	return b, nil
}

// addedColumns derives the added columns and their types as the compiler
// does, from the run-time schemas: by name, and in the SELECT's order.
func (t *task) addedColumns(x *EnrichmentConfig, ins []pop) (map[string]campaign.Column, []campaign.Column, error) {
	a, _ := t.Comp.Campaign.Activity(t.Req.Activity)
	var diags campaign.Diagnostics
	c := &activity.Check{Reporter: campaign.Reporter{Diags: &diags}, Catalog: t.Comp.Catalog, Campaign: t.Comp.Campaign, Activity: a,
		Dimension: t.Comp.Campaign.Dimension}
	schemas := make([]campaign.Schema, len(ins))
	for i, in := range ins {
		schemas[i] = in.Schema()
	}
	cols, _ := enrichmentColumns(c, x, schemas, true)
	for _, d := range diags {
		if d.Severity == campaign.Error {
			return nil, nil, invalid("%s: %s", d.Path, d.Message)
		}
	}
	out := map[string]campaign.Column{}
	for _, col := range cols {
		out[col.Name] = col
	}
	return out, cols, nil
}

// castAs casts an expression to a column's type and names it.
func castAs(expr string, c campaign.Column) string { return castAsIn(condition.DuckDB, expr, c) }

// castAsIn is castAs in a dialect (its type names).
func castAsIn(d condition.Dialect, expr string, c campaign.Column) string {
	typ, err := duckType(c)
	if err != nil {
		typ = "VARCHAR"
	}
	return "CAST(" + expr + " AS " + d.TypeName(typ) + ") AS " + q(c.Name)
}

// linkGroup is the aggregates over one link.
type linkGroup struct {
	link  string
	alias string
	adds  []Addition
}

// linked resolves a link of the population's dimension to its table and
// join pairs (population column, linked column).
func (t *task) linked(in pop, name string) (pop, [][2]string, error) {
	l, err := t.link(in, name)
	if err != nil {
		return pop{}, nil, err
	}
	lt, err := t.table(l.Table)
	if err != nil {
		return pop{}, nil, err
	}
	return lt, l.OnPairs(), nil
}

// link is a link of the population's dimension.
func (t *task) link(in pop, name string) (campaign.Link, error) {
	dim, ok := t.Comp.Catalog.Table(in.Dimension)
	if !ok {
		return campaign.Link{}, invalid("link %q: the population is not of a catalog table", name)
	}
	l, ok := dim.Link(name)
	if !ok {
		return campaign.Link{}, invalid("unknown link %q of %q", name, dim.Name)
	}
	return l, nil
}

// linked is the linked table of a link of the first input, the relation the
// statement reads it as, and the join pairs: on DuckDB the staged table, on
// Trino its Glue table (its catalog columns).
func (e *enricher) linked(name string) (pop, string, [][2]string, error) {
	if e.d != condition.Trino {
		lt, pairs, err := e.t.linked(e.ins[0], name)
		return lt, q(lt.View), pairs, err
	}
	l, err := e.t.link(e.ins[0], name)
	if err != nil {
		return pop{}, "", nil, err
	}
	tbl, ok := e.t.Comp.Catalog.Table(l.Table)
	if !ok {
		return pop{}, "", nil, invalid("unknown table %q", l.Table)
	}
	if len(tbl.Columns) == 0 {
		return pop{}, "", nil, invalid("link %q: table %s: %v: it declares no columns", name, tbl.Name, condition.ErrNotOnAthena)
	}
	g, err := e.t.athenaTable(l.Table)
	if err != nil {
		return pop{}, "", nil, err
	}
	lt := pop{Dimension: tbl.Name, Key: tbl.Key, Columns: tbl.Columns, Active: true}
	return lt, q(e.t.Comp.Catalog.Athena.Database) + "." + q(g), l.OnPairs(), nil
}

// semiJoin keeps linked rows (alias l) linked from some population row,
// reading a narrow population's own files when they hold the link's columns.
func (t *task) semiJoin(in pop, pairs [][2]string) (string, error) {
	view := in.View
	own, ok, err := t.own(in)
	if err != nil {
		return "", err
	}
	if ok && ownCols(own, colsOf(pairs, 0)...) {
		view = own.View
	}
	return semiOn(q(view), pairs), nil
}

// semiOn is the semi-join of linked rows (alias l) to the rows of rel.
func semiOn(rel string, pairs [][2]string) string {
	on := make([]string, len(pairs))
	for i, p := range pairs {
		on[i] = col("s", p[0]) + " = " + col("l", p[1])
	}
	return "EXISTS (SELECT 1 FROM " + rel + " AS s WHERE " + strings.Join(on, " AND ") + ")"
}

// semiJoin is t.semiJoin in the enricher's dialect (Trino: the first
// input's relation).
func (e *enricher) semiJoin(pairs [][2]string) (string, error) {
	if e.d != condition.Trino {
		return e.t.semiJoin(e.ins[0], pairs)
	}
	return semiOn(e.rels[0], pairs), nil
}

// intArg is the placeholder of an integer: Trino's statements carry their
// values inline, in a cast (condition.Inline).
func (e *enricher) intArg() string {
	if e.d == condition.Trino {
		return "CAST(? AS BIGINT)"
	}
	return "?"
}

// colsOf lists side i (0: population, 1: linked) of join pairs.
func colsOf(pairs [][2]string, i int) []string {
	out := make([]string, len(pairs))
	for j, p := range pairs {
		out[j] = p[i]
	}
	return out
}

// joinOn joins a subquery (alias) holding k0, k1... to the population.
func joinOn(alias string, pairs [][2]string) string {
	on := make([]string, len(pairs))
	for i, p := range pairs {
		on[i] = fmt.Sprintf("%s.k%d = %s", q(alias), i, col("t", p[0]))
	}
	return strings.Join(on, " AND ")
}

func linkKeys(pairs [][2]string) (sel, group string) {
	s := make([]string, len(pairs))
	g := make([]string, len(pairs))
	for i, p := range pairs {
		s[i] = fmt.Sprintf("%s AS k%d", col("l", p[1]), i)
		g[i] = col("l", p[1])
	}
	return strings.Join(s, ", "), strings.Join(g, ", ")
}

// aggregateGroup joins one GROUP BY over a link computing its aggregates,
// each with its own filter. On Trino an avg reads its field as a double
// (Trino's avg of a decimal is a decimal of the field's scale; DuckDB's a
// double), and a countDistinct's filter is a CASE inside it (Presto
// refused FILTER with DISTINCT).
func (e *enricher) aggregateGroup(joins *sqlb, g *linkGroup) error {
	lt, rel, pairs, err := e.linked(g.link)
	if err != nil {
		return err
	}
	keys, group := linkKeys(pairs)
	joins.add(" LEFT JOIN (SELECT " + keys)
	for i, a := range g.adds {
		var arg string
		if a.Field != "" {
			if !lt.has(a.Field) {
				return invalid("aggregate %s: unknown column %q of %s", a.Name, a.Field, lt.Dimension)
			}
			arg = col("l", a.Field)
		}
		var w string
		var wargs []any
		if a.Where != nil {
			if w, wargs, err = e.t.whereIn(e.d, a.Where, "l", lt.Schema()); err != nil {
				return err
			}
		}
		var expr string
		switch a.Aggregate {
		case "count":
			expr = "count(*)"
			if arg != "" {
				expr = "count(" + arg + ")"
			}
		case "countDistinct":
			if e.d == condition.Trino && w != "" {
				joins.add(", count(DISTINCT CASE WHEN "+w+" THEN "+arg+" END)", wargs...)
				joins.add(fmt.Sprintf(" AS a%d", i))
				continue
			}
			expr = "count(DISTINCT " + arg + ")"
		case "avg":
			if e.d == condition.Trino {
				arg = "CAST(" + arg + " AS DOUBLE)"
			}
			expr = "avg(" + arg + ")"
		case "sum", "min", "max":
			expr = a.Aggregate + "(" + arg + ")"
		default:
			return invalid("unknown aggregate %q", a.Aggregate)
		}
		joins.add(", " + expr)
		if a.Where != nil {
			joins.add(" FILTER (WHERE "+w+")", wargs...)
		}
		joins.add(fmt.Sprintf(" AS a%d", i))
	}
	semi, err := e.semiJoin(pairs)
	if err != nil {
		return err
	}
	joins.add(" FROM " + rel + " AS l WHERE " + semi + " GROUP BY " + group + ") AS " + q(g.alias) +
		" ON " + joinOn(g.alias, pairs))
	return nil
}

// collectAddition joins the first N linked rows, pivoted to columns.
func (e *enricher) collectAddition(joins *sqlb, alias string, a Addition) error {
	lt, rel, pairs, err := e.linked(a.Link)
	if err != nil {
		return err
	}
	keys, group := linkKeys(pairs)
	where, wargs := "true", []any(nil)
	if a.Where != nil {
		if where, wargs, err = e.t.whereIn(e.d, a.Where, "l", lt.Schema()); err != nil {
			return err
		}
	}
	kcols := make([]string, len(pairs))
	for i := range pairs {
		kcols[i] = fmt.Sprintf("k%d", i)
	}
	joins.add(" LEFT JOIN (SELECT " + strings.Join(kcols, ", "))
	for n := 1; n <= a.Collect; n++ {
		for _, f := range a.Fields {
			if !lt.has(f) {
				return invalid("collect %s: unknown column %q of %s", a.Name, f, lt.Dimension)
			}
			joins.add(", max("+q(f)+") FILTER (WHERE "+q(rnCol)+" = "+e.intArg()+") AS "+q(CollectColumn(a.Name, n, f)), int64(n))
		}
	}
	orderBy := append(sortKeys("l", a.OrderBy), orderIn(e.d, "l", lt))
	joins.add(" FROM (SELECT "+keys+", "+selectCols("l", colsNamed(a.Fields))+", row_number() OVER (PARTITION BY "+group+
		" ORDER BY "+strings.Join(orderBy, ", ")+") AS "+q(rnCol)+" FROM "+rel+" AS l WHERE "+where, wargs...)
	semi, err := e.semiJoin(pairs)
	if err != nil {
		return err
	}
	joins.add(" AND "+semi+") WHERE "+q(rnCol)+" <= "+e.intArg()+" GROUP BY "+strings.Join(kcols, ", ")+") AS "+q(alias)+
		" ON "+joinOn(alias, pairs), int64(a.Collect))
	return nil
}

// joinAddition joins the value of another inbound population (input idx)
// and returns the expression of the added column: its first row per `on`
// values, kept with QUALIFY on DuckDB and by a subquery's row number on
// Trino (no QUALIFY).
func (e *enricher) joinAddition(joins *sqlb, alias string, a Addition, idx int) (string, error) {
	in, other := e.ins[0], e.ins[idx]
	if !other.has(a.Field) {
		return "", invalid("join %s: unknown column %q", a.Join, a.Field)
	}
	mine := campaign.SortedKeys(a.On)
	sel := make([]string, len(mine))
	part := make([]string, len(mine))
	on := make([]string, len(mine))
	ks := make([]string, len(mine))
	for i, m := range mine {
		theirs := a.On[m]
		if !in.has(m) || !other.has(theirs) {
			return "", invalid("join %s: unknown column in on: %s: %s", a.Join, m, theirs)
		}
		sel[i] = fmt.Sprintf("%s AS k%d", col("s", theirs), i)
		part[i] = col("s", theirs)
		on[i] = fmt.Sprintf("%s.k%d = %s", q(alias), i, col("t", m))
		ks[i] = fmt.Sprintf("k%d", i)
	}
	rank := "row_number() OVER (PARTITION BY " + strings.Join(part, ", ") + " ORDER BY " + orderIn(e.d, "s", other) + ")"
	first := "SELECT " + strings.Join(sel, ", ") + ", " + col("s", a.Field) + " AS v FROM " + e.rels[idx] + " AS s QUALIFY " + rank + " = 1"
	if e.d == condition.Trino {
		first = "SELECT " + strings.Join(ks, ", ") + ", v FROM (SELECT " + strings.Join(sel, ", ") + ", " + col("s", a.Field) + " AS v, " +
			rank + " AS " + q(rnCol) + " FROM " + e.rels[idx] + " AS s) AS s WHERE " + col("s", rnCol) + " = 1"
	}
	joins.add(" LEFT JOIN (" + first + ") AS " + q(alias) + " ON " + strings.Join(on, " AND "))
	return q(alias) + ".v", nil
}
