package condition

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// SQLScope is what a population condition is lowered against.
type SQLScope struct {
	// Alias is the SQL alias of the population relation in the caller's
	// query, e.g. "t". It is always quoted in the output. Generated aliases
	// are l1, l2, ...; an alias of that form is refused.
	Alias string
	// Schema is the population: dimension table and columns with their types.
	Schema  campaign.Schema
	Catalog *campaign.Catalog
	// Relation returns the name of the DuckDB relation (a view or table;
	// ToSQL quotes it) holding the current version of a catalog table read
	// through a link.
	Relation func(table string) (string, error)
	// Audience returns the relation of a saved audience and its key columns,
	// in the order of the dimension table's key.
	Audience func(name string) (AudienceRelation, error)

	// Now is the run's instant; ago/ahead/now are relative to it.
	Now time.Time
	// Location is the campaign time zone (nil: UTC): calendar days of
	// ago/ahead, dates of relative times, timestamps written without offset.
	Location *time.Location
	// ParamTypes are the declared parameters (name → type).
	ParamTypes map[string]string
	// Params are this run's parameter values (canonical JSON values as
	// campaign.CoerceParam returns them). An absent optional parameter is
	// null: every comparison with it is false.
	Params map[string]any
	// Variables are the campaign variables.
	Variables map[string]any
}

// AudienceRelation is where a saved audience's members are.
type AudienceRelation struct {
	Relation string   // DuckDB relation name (quoted by ToSQL)
	Key      []string // its columns matching the dimension key, in key order
}

// ToSQL lowers a population condition to a DuckDB boolean expression over
// the relation aliased sc.Alias. It checks c first (as Check would, in
// PopulationMode) and returns an error instead of SQL for anything invalid.
//
// Identifiers come only from the catalog and the schema and are always
// double-quoted (with " doubled); values are only ever `?` placeholders, in
// args in placeholder order, each wrapped in an explicit CAST to the type it
// is compared as. The output holds no string literal at all.
//
// Semantics:
//   - The expression is never NULL. Each comparison leaf is
//     COALESCE(<comparison>, false): a comparison with null (a missing
//     column value, no linked row, an absent parameter) is false. This
//     includes ne, notIn, notStartsWith, notContains and notLike: they are
//     false, not true, when the column is null.
//   - not negates that two-valued result, so `not: {field: x, op: eq,
//     value: 1}` is true for rows where x is null.
//   - isEmpty is `x IS NULL`, for strings null or empty
//     (COALESCE(length(x), 0) = 0); isNotEmpty is its negation.
//   - Strings compare case-sensitively (binary); like/notLike use SQL LIKE
//     with % and _ and no escape character; startsWith/contains use
//     starts_with()/contains() so the value's % and _ are literal.
//   - between is inclusive.
//   - Dates bind as 'YYYY-MM-DD' with CAST(? AS DATE); timestamps bind as
//     RFC 3339 UTC strings with CAST(? AS TIMESTAMPTZ). A date compared with
//     a timestamp column is midnight in Location. ago/ahead shift Now in
//     Location by calendar days (d, w) and elapsed time (h, m, s); against a
//     date column they compare the date in Location. Catalog timestamp
//     columns must be TIMESTAMPTZ (or the session time zone UTC) for the
//     comparison to be between instants.
//   - A field through a cardinality-one link is a correlated scalar
//     subquery taking max() of the linked rows (null when none; max keeps it
//     deterministic should the data hold duplicates).
//   - exists/notExists are [NOT] EXISTS over the linked relation; count and
//     countDistinct are 0 when no linked row matches, sum/avg/min/max null.
//   - inAudience is EXISTS over the audience relation on the dimension key.
func ToSQL(c *Condition, sc SQLScope) (where string, args []any, err error) {
	l, err := newLowerer(sc)
	if err != nil {
		return "", nil, err
	}
	if c == nil {
		return "", nil, errors.New("condition: no condition")
	}
	if err := l.check(c); err != nil {
		return "", nil, err
	}
	f, err := l.cond(c, l.base())
	if err != nil {
		return "", nil, err
	}
	return f.sql, f.args, nil
}

// FieldSQL lowers a field (a column of the population, or link.column
// through cardinality-one links) to an expression over sc.Alias, for
// enrichment. It has no arguments.
func FieldSQL(name string, sc SQLScope) (string, campaign.Column, error) {
	l, err := newLowerer(sc)
	if err != nil {
		return "", campaign.Column{}, err
	}
	if len(sc.Schema.Columns) == 0 {
		return "", campaign.Column{}, errors.New("condition: the population's columns are unknown")
	}
	f, col, err := l.field(l.base(), name)
	return f.sql, col, err
}

// AggregateSQL lowers an aggregate over a link of the population (as in an
// enrichment `add`), with an optional where on the linked rows, to a scalar
// expression over sc.Alias. It returns the result's column type.
func AggregateSQL(link, aggregate, field string, where *Condition, sc SQLScope) (expr string, args []any, typ string, err error) {
	l, err := newLowerer(sc)
	if err != nil {
		return "", nil, "", err
	}
	probe := &Condition{Link: link, Aggregate: aggregate, Field: field, Where: where, Op: "isNotEmpty"}
	if err := l.check(probe); err != nil {
		return "", nil, "", err
	}
	f, typ, err := l.aggregate(l.base(), probe)
	return f.sql, f.args, typ, err
}

var generatedAlias = regexp.MustCompile(`^[lL][0-9]+$`)

type lowerer struct {
	sc  SQLScope
	loc *time.Location
	n   int // generated aliases so far
}

// lscope is a scope with the SQL alias of its rows.
type lscope struct {
	scope
	alias string // SQL text
}

type frag struct {
	sql  string
	args []any
}

func newLowerer(sc SQLScope) (*lowerer, error) {
	if sc.Alias == "" {
		return nil, errors.New("condition: SQLScope.Alias is empty")
	}
	if generatedAlias.MatchString(sc.Alias) {
		return nil, fmt.Errorf("condition: alias %q clashes with generated aliases l1, l2, ...", sc.Alias)
	}
	loc := sc.Location
	if loc == nil {
		loc = time.UTC
	}
	return &lowerer{sc: sc, loc: loc}, nil
}

func (l *lowerer) base() lscope {
	alias, _ := quoteIdent(l.sc.Alias)
	return lscope{scope: newScope(l.sc.Catalog, l.sc.Schema), alias: alias}
}

// check runs Check on c and turns its errors into one error.
func (l *lowerer) check(c *Condition) error {
	if len(l.sc.Schema.Columns) == 0 {
		return errors.New("condition: the population's columns are unknown")
	}
	var diags campaign.Diagnostics
	Check(campaign.Reporter{Diags: &diags}, "", c, CheckEnv{
		Catalog:   l.sc.Catalog,
		Schema:    l.sc.Schema,
		Params:    l.sc.ParamTypes,
		Variables: l.sc.Variables,
		Mode:      PopulationMode,
	})
	var msgs []string
	for _, d := range diags {
		if d.Severity == campaign.Error {
			msg := d.Message
			if d.Path != "" {
				msg = d.Path + ": " + msg
			}
			msgs = append(msgs, msg)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("condition: invalid: %s", strings.Join(msgs, "; "))
}

func (l *lowerer) alias() string {
	l.n++
	return fmt.Sprintf("l%d", l.n)
}

// quoteIdent double-quotes an identifier, doubling embedded quotes.
func quoteIdent(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("condition: invalid identifier %q", name)
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`, nil
}

func (l *lowerer) col(alias, name string) (string, error) {
	q, err := quoteIdent(name)
	if err != nil {
		return "", err
	}
	return alias + "." + q, nil
}

func (l *lowerer) relation(table string) (string, error) {
	if l.sc.Relation == nil {
		return "", fmt.Errorf("condition: no relation for table %q (SQLScope.Relation is nil)", table)
	}
	rel, err := l.sc.Relation(table)
	if err != nil {
		return "", fmt.Errorf("condition: relation of table %q: %w", table, err)
	}
	return quoteIdent(rel)
}

// on joins a linked relation (alias inner) to the rows it is linked from
// (alias outer).
func (l *lowerer) on(link campaign.Link, inner, outer string) (string, error) {
	var parts []string
	for _, p := range link.OnPairs() {
		a, err := l.col(inner, p[1])
		if err != nil {
			return "", err
		}
		b, err := l.col(outer, p[0])
		if err != nil {
			return "", err
		}
		parts = append(parts, a+" = "+b)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("condition: link %q has no columns", link.Name)
	}
	return strings.Join(parts, " AND "), nil
}

func (l *lowerer) cond(c *Condition, s lscope) (frag, error) {
	forms := c.forms()
	if len(forms) != 1 {
		return frag{}, fmt.Errorf("condition: a node has %d forms", len(forms))
	}
	switch forms[0] {
	case "all", "any":
		list, sep := c.All, " AND "
		if forms[0] == "any" {
			list, sep = c.Any, " OR "
		}
		if len(list) == 0 {
			return frag{}, fmt.Errorf("condition: empty %s", forms[0])
		}
		var out frag
		parts := make([]string, len(list))
		for i := range list {
			f, err := l.cond(&list[i], s)
			if err != nil {
				return frag{}, err
			}
			parts[i] = f.sql
			out.args = append(out.args, f.args...)
		}
		if len(parts) == 1 {
			out.sql = parts[0]
		} else {
			out.sql = "(" + strings.Join(parts, sep) + ")"
		}
		return out, nil
	case "not":
		f, err := l.cond(c.Not, s)
		if err != nil {
			return frag{}, err
		}
		return frag{"(NOT " + f.sql + ")", f.args}, nil
	case "field":
		lhs, col, err := l.field(s, c.Field)
		if err != nil {
			return frag{}, err
		}
		return l.compare(lhs, col.Type, c.Op, c.Value, s)
	case "link":
		switch {
		case c.Exists != nil, c.NotExists != nil:
			return l.exists(s, c)
		case groupable(c):
			return l.groupedAggregate(s, c)
		default:
			lhs, typ, err := l.aggregate(s, c)
			if err != nil {
				return frag{}, err
			}
			return l.compare(lhs, typ, c.Op, c.Value, s)
		}
	case "inAudience":
		return l.inAudience(s, c.InAudience)
	}
	return frag{}, fmt.Errorf("condition: %s is a run fact, only valid in a test activity", forms[0])
}

// field lowers a column or a path through one-links.
func (l *lowerer) field(s lscope, name string) (frag, campaign.Column, error) {
	res, msg := resolveField(l.sc.Catalog, name, s.scope)
	if msg != "" {
		return frag{}, campaign.Column{}, errors.New("condition: " + msg)
	}
	if len(res.hops) == 0 {
		c, err := l.col(s.alias, res.col.Name)
		return frag{sql: c}, res.col, err
	}
	var b strings.Builder
	outer := s.alias
	var where string
	var last string
	for i, h := range res.hops {
		a := l.alias()
		rel, err := l.relation(h.table.Name)
		if err != nil {
			return frag{}, campaign.Column{}, err
		}
		on, err := l.on(h.link, a, outer)
		if err != nil {
			return frag{}, campaign.Column{}, err
		}
		if i == 0 {
			fmt.Fprintf(&b, " FROM %s AS %s", rel, a)
			where = on
		} else {
			fmt.Fprintf(&b, " JOIN %s AS %s ON %s", rel, a, on)
		}
		outer, last = a, a
	}
	c, err := l.col(last, res.col.Name)
	if err != nil {
		return frag{}, campaign.Column{}, err
	}
	return frag{sql: "(SELECT max(" + c + ")" + b.String() + " WHERE " + where + ")"}, res.col, nil
}

// linked resolves a link of s, allocates the linked rows' alias and returns
// their scope and "FROM <relation> AS <alias> WHERE <join>".
func (l *lowerer) linked(s lscope, name string) (lscope, string, error) {
	if s.table == nil {
		return lscope{}, "", fmt.Errorf("condition: %s have no links", s.desc)
	}
	link, ok := s.table.Link(name)
	if !ok {
		return lscope{}, "", fmt.Errorf("condition: unknown link %q of %s", name, s.table.Name)
	}
	target, ok := lookupTable(l.sc.Catalog, link.Table)
	if !ok {
		return lscope{}, "", fmt.Errorf("condition: link %q names unknown table %q", name, link.Table)
	}
	a := l.alias()
	rel, err := l.relation(target.Name)
	if err != nil {
		return lscope{}, "", err
	}
	on, err := l.on(link, a, s.alias)
	if err != nil {
		return lscope{}, "", err
	}
	return lscope{scope: linkedScope(link, target), alias: a}, "FROM " + rel + " AS " + a + " WHERE " + on, nil
}

func (l *lowerer) exists(s lscope, c *Condition) (frag, error) {
	e, prefix := c.Exists, "EXISTS"
	if e == nil {
		e, prefix = c.NotExists, "NOT EXISTS"
	}
	inner, from, err := l.linked(s, c.Link)
	if err != nil {
		return frag{}, err
	}
	out := frag{sql: prefix + " (SELECT 1 " + from}
	if e.Cond != nil {
		w, err := l.cond(e.Cond, inner)
		if err != nil {
			return frag{}, err
		}
		out.sql += " AND " + w.sql
		out.args = w.args
	}
	out.sql += ")"
	return out, nil
}

// groupable tells whether a link aggregate comparison may be lowered as
// membership in the grouped link table: the aggregate is NULL over no rows
// (sum, min, max, avg), the comparison rejects NULL (every operator but
// isEmpty/isNotEmpty), and its value does not name a population field.
func groupable(c *Condition) bool {
	switch c.Aggregate {
	case "sum", "min", "max", "avg":
	default:
		return false
	}
	if c.Op == "isEmpty" || c.Op == "isNotEmpty" || c.Field == "" {
		return false
	}
	var refersField func(v *Value) bool
	refersField = func(v *Value) bool {
		if v == nil {
			return false
		}
		if v.Field != "" {
			return true
		}
		for _, x := range v.List {
			if refersField(x) {
				return true
			}
		}
		return false
	}
	return !refersField(c.Value)
}

// groupedAggregate lowers a groupable link aggregate comparison as
// (key) IN (SELECT fk FROM linked [WHERE ...] GROUP BY fk HAVING cmp): one
// hash aggregate over the linked table instead of a correlated subquery.
// A row without linked rows has a NULL aggregate, which the comparison
// rejects, so both forms select the same rows.
func (l *lowerer) groupedAggregate(s lscope, c *Condition) (frag, error) {
	if s.table == nil {
		return frag{}, fmt.Errorf("condition: %s have no links", s.desc)
	}
	link, ok := s.table.Link(c.Link)
	if !ok {
		return frag{}, fmt.Errorf("condition: unknown link %q of %s", c.Link, s.table.Name)
	}
	target, ok := lookupTable(l.sc.Catalog, link.Table)
	if !ok {
		return frag{}, fmt.Errorf("condition: link %q names unknown table %q", c.Link, link.Table)
	}
	a := l.alias()
	rel, err := l.relation(target.Name)
	if err != nil {
		return frag{}, err
	}
	inner := lscope{scope: linkedScope(link, target), alias: a}
	var outer, fks []string
	for _, p := range link.OnPairs() {
		fk, err := l.col(a, p[1])
		if err != nil {
			return frag{}, err
		}
		k, err := l.col(s.alias, p[0])
		if err != nil {
			return frag{}, err
		}
		fks, outer = append(fks, fk), append(outer, k)
	}
	if len(fks) == 0 {
		return frag{}, fmt.Errorf("condition: link %q has no columns", link.Name)
	}
	expr, typ, err := l.aggregateExpr(inner, c)
	if err != nil {
		return frag{}, err
	}
	// NULL keys link to nothing; COALESCE keeps NOT (...) two-valued.
	where := make([]string, len(fks))
	for i, fk := range fks {
		where[i] = fk + " IS NOT NULL"
	}
	out := frag{}
	if c.Where != nil {
		w, err := l.cond(c.Where, inner)
		if err != nil {
			return frag{}, err
		}
		where = append(where, w.sql)
		out.args = w.args
	}
	cmp, err := l.compare(frag{sql: expr}, typ, c.Op, c.Value, s)
	if err != nil {
		return frag{}, err
	}
	out.sql = "COALESCE((" + strings.Join(outer, ", ") + ") IN (SELECT " + strings.Join(fks, ", ") + " FROM " + rel + " AS " + a +
		" WHERE " + strings.Join(where, " AND ") + " GROUP BY " + strings.Join(fks, ", ") + " HAVING " + cmp.sql + "), false)"
	out.args = append(out.args, cmp.args...)
	return out, nil
}

// aggregate lowers the aggregate of a link condition and returns its type.
func (l *lowerer) aggregate(s lscope, c *Condition) (frag, string, error) {
	inner, from, err := l.linked(s, c.Link)
	if err != nil {
		return frag{}, "", err
	}
	expr, typ, err := l.aggregateExpr(inner, c)
	if err != nil {
		return frag{}, "", err
	}
	out := frag{sql: "(SELECT " + expr + " " + from}
	if c.Where != nil {
		w, err := l.cond(c.Where, inner)
		if err != nil {
			return frag{}, "", err
		}
		out.sql += " AND " + w.sql
		out.args = w.args
	}
	out.sql += ")"
	if c.Aggregate == "count" || c.Aggregate == "countDistinct" {
		out.sql = "COALESCE(" + out.sql + ", 0)"
	}
	return out, typ, nil
}

// aggregateExpr is the SQL aggregate of c over the linked rows at inner.
func (l *lowerer) aggregateExpr(inner lscope, c *Condition) (expr, typ string, err error) {
	if c.Field == "" {
		if c.Aggregate != "count" {
			return "", "", fmt.Errorf("condition: aggregate %s needs a field", c.Aggregate)
		}
		return "count(*)", campaign.TypeInteger, nil
	}
	col, ok := inner.schema.Column(c.Field)
	if !ok {
		return "", "", fmt.Errorf("condition: unknown column %q in %s", c.Field, inner.desc)
	}
	ref, err := l.col(inner.alias, col.Name)
	if err != nil {
		return "", "", err
	}
	switch c.Aggregate {
	case "count":
		return "count(" + ref + ")", campaign.TypeInteger, nil
	case "countDistinct":
		return "count(DISTINCT " + ref + ")", campaign.TypeInteger, nil
	case "sum", "min", "max":
		return c.Aggregate + "(" + ref + ")", col.Type, nil
	case "avg":
		return "avg(" + ref + ")", campaign.TypeNumber, nil
	}
	return "", "", fmt.Errorf("condition: unknown aggregate %q", c.Aggregate)
}

func (l *lowerer) inAudience(s lscope, name string) (frag, error) {
	if s.table == nil {
		return frag{}, fmt.Errorf("condition: %s are not a catalog dimension", s.desc)
	}
	if l.sc.Audience == nil {
		return frag{}, fmt.Errorf("condition: no relation for audience %q (SQLScope.Audience is nil)", name)
	}
	aud, err := l.sc.Audience(name)
	if err != nil {
		return frag{}, fmt.Errorf("condition: audience %q: %w", name, err)
	}
	if len(aud.Key) != len(s.table.Key) || len(aud.Key) == 0 {
		return frag{}, fmt.Errorf("condition: audience %q has key %v; %s has key %v", name, aud.Key, s.table.Name, s.table.Key)
	}
	rel, err := quoteIdent(aud.Relation)
	if err != nil {
		return frag{}, err
	}
	a := l.alias()
	parts := make([]string, len(aud.Key))
	for i := range aud.Key {
		x, err := l.col(a, aud.Key[i])
		if err != nil {
			return frag{}, err
		}
		y, err := l.col(s.alias, s.table.Key[i])
		if err != nil {
			return frag{}, err
		}
		parts[i] = x + " = " + y
	}
	return frag{sql: "EXISTS (SELECT 1 FROM " + rel + " AS " + a + " WHERE " + strings.Join(parts, " AND ") + ")"}, nil
}

// compare lowers `lhs op value` for a subject of column type typ.
func (l *lowerer) compare(lhs frag, typ, op string, v *Value, s lscope) (frag, error) {
	out := frag{args: append([]any(nil), lhs.args...)}
	leaf := func(sql string, vals ...frag) (frag, error) {
		for _, v := range vals {
			out.args = append(out.args, v.args...)
		}
		out.sql = "COALESCE(" + sql + ", false)"
		return out, nil
	}
	switch op {
	case "isEmpty", "isNotEmpty":
		if v != nil {
			return frag{}, fmt.Errorf("condition: %s takes no value", op)
		}
		if typ == campaign.TypeString {
			cmp := "="
			if op == "isNotEmpty" {
				cmp = ">"
			}
			out.sql = "(COALESCE(length(" + lhs.sql + "), 0) " + cmp + " 0)"
		} else {
			out.sql = "(" + lhs.sql + " IS NULL)"
			if op == "isNotEmpty" {
				out.sql = "(" + lhs.sql + " IS NOT NULL)"
			}
		}
		return out, nil
	}
	vals, err := l.values(v, typ, s)
	if err != nil {
		return frag{}, err
	}
	switch arityOf(op) {
	case oneValue:
		if len(vals) != 1 || v.IsList {
			return frag{}, fmt.Errorf("condition: %s takes one value", op)
		}
	case pairValue:
		if len(vals) != 2 {
			return frag{}, fmt.Errorf("condition: between takes two values")
		}
	case listValue:
		if len(vals) == 0 {
			return frag{}, fmt.Errorf("condition: %s needs at least one value", op)
		}
	}
	sqls := make([]string, len(vals))
	for i, v := range vals {
		sqls[i] = v.sql
	}
	switch op {
	case "eq", "ne", "gt", "gte", "lt", "lte":
		sym := map[string]string{"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
		return leaf(lhs.sql+" "+sym+" "+sqls[0], vals...)
	case "in":
		return leaf(lhs.sql+" IN ("+strings.Join(sqls, ", ")+")", vals...)
	case "notIn":
		return leaf(lhs.sql+" NOT IN ("+strings.Join(sqls, ", ")+")", vals...)
	case "between":
		return leaf(lhs.sql+" BETWEEN "+sqls[0]+" AND "+sqls[1], vals...)
	case "startsWith":
		return leaf("starts_with("+lhs.sql+", "+sqls[0]+")", vals...)
	case "notStartsWith":
		return leaf("NOT starts_with("+lhs.sql+", "+sqls[0]+")", vals...)
	case "contains":
		return leaf("contains("+lhs.sql+", "+sqls[0]+")", vals...)
	case "notContains":
		return leaf("NOT contains("+lhs.sql+", "+sqls[0]+")", vals...)
	case "like":
		return leaf(lhs.sql+" LIKE "+sqls[0], vals...)
	case "notLike":
		return leaf(lhs.sql+" NOT LIKE "+sqls[0], vals...)
	}
	return frag{}, fmt.Errorf("condition: unknown operator %q", op)
}

// values lowers the value(s) of a comparison.
func (l *lowerer) values(v *Value, typ string, s lscope) ([]frag, error) {
	if v == nil {
		return nil, nil
	}
	var items []*Value
	switch {
	case v.IsList:
		items = v.List
	case v.Variable != "":
		x, err := l.variable(v.Variable)
		if err != nil {
			return nil, err
		}
		if list, ok := x.([]any); ok {
			out := make([]frag, len(list))
			for i, e := range list {
				if out[i], err = l.bind(typ, e); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		items = []*Value{v}
	default:
		items = []*Value{v}
	}
	out := make([]frag, len(items))
	for i, item := range items {
		f, err := l.value(item, typ, s)
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

func (l *lowerer) variable(name string) (any, error) {
	raw, ok := l.sc.Variables[name]
	if !ok {
		return nil, fmt.Errorf("condition: unknown variable %q", name)
	}
	x, err := constant(raw)
	if err != nil {
		return nil, fmt.Errorf("condition: variable %q: %w", name, err)
	}
	return x, nil
}

// value lowers one scalar value compared with a subject of type typ.
func (l *lowerer) value(v *Value, typ string, s lscope) (frag, error) {
	switch {
	case v.IsList:
		return frag{}, errors.New("condition: nested list")
	case v.Field != "":
		f, _, err := l.field(s, v.Field)
		return f, err
	case v.Param != "":
		ptype, ok := l.sc.ParamTypes[v.Param]
		if !ok {
			return frag{}, fmt.Errorf("condition: unknown parameter %q", v.Param)
		}
		raw := l.sc.Params[v.Param]
		if raw == nil {
			return l.bind(typ, nil)
		}
		x, err := campaign.CoerceParam(ptype, raw)
		if err != nil {
			return frag{}, fmt.Errorf("condition: parameter %q: %w", v.Param, err)
		}
		return l.bind(typ, x)
	case v.Variable != "":
		x, err := l.variable(v.Variable)
		if err != nil {
			return frag{}, err
		}
		return l.bind(typ, x)
	case v.Ago != "" || v.Ahead != "" || v.Now:
		if l.sc.Now.IsZero() {
			return frag{}, errors.New("condition: relative times need SQLScope.Now")
		}
		t := l.sc.Now
		for _, r := range []struct {
			d    string
			sign int
		}{{v.Ago, -1}, {v.Ahead, 1}} {
			if r.d == "" {
				continue
			}
			d, err := campaign.ParseDuration(r.d)
			if err != nil {
				return frag{}, fmt.Errorf("condition: %w", err)
			}
			t = shift(t, l.loc, d, r.sign)
		}
		return l.bindTime(typ, t)
	}
	return l.bind(typ, v.Literal)
}

func placeholder(sqlType string, arg any) (frag, error) {
	return frag{sql: "CAST(? AS " + sqlType + ")", args: []any{arg}}, nil
}

// bind binds a constant compared with a subject of column type typ.
func (l *lowerer) bind(typ string, x any) (frag, error) {
	x, err := constant(x)
	if err != nil {
		return frag{}, fmt.Errorf("condition: %w", err)
	}
	mismatch := func() (frag, error) {
		return frag{}, fmt.Errorf("condition: %s does not compare with a %s", show(x), typ)
	}
	switch typ {
	case campaign.TypeString:
		if _, ok := x.(string); !ok && x != nil {
			return mismatch()
		}
		return placeholder("VARCHAR", x)
	case campaign.TypeInteger, campaign.TypeNumber, campaign.TypeDecimal:
		switch x.(type) {
		case int64:
			return placeholder("BIGINT", x)
		case float64, nil:
			return placeholder("DOUBLE", x)
		}
		return mismatch()
	case campaign.TypeBoolean:
		if _, ok := x.(bool); !ok && x != nil {
			return mismatch()
		}
		return placeholder("BOOLEAN", x)
	case campaign.TypeDate:
		if x == nil {
			return placeholder("DATE", nil)
		}
		s, ok := x.(string)
		if !ok {
			return mismatch()
		}
		if _, ok := parseDate(s); !ok {
			return frag{}, fmt.Errorf("condition: invalid date %q: use YYYY-MM-DD", s)
		}
		return placeholder("DATE", s)
	case campaign.TypeTimestamp:
		if x == nil {
			return placeholder("TIMESTAMPTZ", nil)
		}
		s, ok := x.(string)
		if !ok {
			return mismatch()
		}
		t, err := parseInstant(s, l.loc)
		if err != nil {
			return frag{}, fmt.Errorf("condition: %w", err)
		}
		return l.bindTime(typ, t)
	}
	return mismatch()
}

// bindTime binds an instant compared with a date or timestamp subject.
func (l *lowerer) bindTime(typ string, t time.Time) (frag, error) {
	switch typ {
	case campaign.TypeDate:
		return placeholder("DATE", t.In(l.loc).Format("2006-01-02"))
	case campaign.TypeTimestamp:
		return placeholder("TIMESTAMPTZ", t.UTC().Format(time.RFC3339Nano))
	}
	return frag{}, fmt.Errorf("condition: a time does not compare with a %s", typ)
}

// Refs are the names a condition reads.
type Refs struct {
	Columns   []string // population columns (including link join columns)
	Tables    []string // catalog tables read through links, to stage
	Audiences []string
	Params    []string
	Variables []string
	Counts    []string // test activity: activity[.port] of count facts
}

// References lists, sorted, what c reads when evaluated on s. Names that do
// not resolve are skipped (Check reports them).
func References(c *Condition, s campaign.Schema, cat *campaign.Catalog) Refs {
	w := refWalker{cat: cat, sets: map[string]map[string]bool{}}
	w.cond(c, newScope(cat, s), true)
	get := func(k string) []string { return sortedKeys(w.sets[k]) }
	return Refs{Columns: get("col"), Tables: get("table"), Audiences: get("aud"), Params: get("param"), Variables: get("var"), Counts: get("count")}
}

type refWalker struct {
	cat  *campaign.Catalog
	sets map[string]map[string]bool
}

func (w *refWalker) add(set, name string) {
	if w.sets[set] == nil {
		w.sets[set] = map[string]bool{}
	}
	w.sets[set][name] = true
}

// field records a field read from sc; top says sc is the population.
func (w *refWalker) field(name string, sc scope, top bool) {
	if col, ok := sc.schema.Column(name); ok {
		if top {
			w.add("col", col.Name)
		}
		return
	}
	first, rest, ok := strings.Cut(name, ".")
	if !ok || sc.table == nil {
		return
	}
	if link, ok := sc.table.Link(first); ok {
		if t, ok := lookupTable(w.cat, link.Table); ok {
			w.link(link, top)
			w.field(rest, linkedScope(link, t), false)
		}
	}
}

func (w *refWalker) link(link campaign.Link, top bool) {
	w.add("table", link.Table)
	if top {
		for _, p := range link.OnPairs() {
			w.add("col", p[0])
		}
	}
}

func (w *refWalker) value(v *Value, sc scope, top bool) {
	if v == nil {
		return
	}
	for _, item := range v.List {
		w.value(item, sc, top)
	}
	switch {
	case v.Param != "":
		w.add("param", v.Param)
	case v.Variable != "":
		w.add("var", v.Variable)
	case v.Field != "":
		w.field(v.Field, sc, top)
	}
}

func (w *refWalker) cond(c *Condition, sc scope, top bool) {
	if c == nil {
		return
	}
	for i := range c.All {
		w.cond(&c.All[i], sc, top)
	}
	for i := range c.Any {
		w.cond(&c.Any[i], sc, top)
	}
	w.cond(c.Not, sc, top)
	w.value(c.Value, sc, top)
	if c.Hour != nil {
		w.value(c.Hour.Value, sc, top)
	}
	switch {
	case c.Link != "":
		if sc.table == nil {
			return
		}
		link, ok := sc.table.Link(c.Link)
		if !ok {
			return
		}
		t, ok := lookupTable(w.cat, link.Table)
		if !ok {
			return
		}
		w.link(link, top)
		inner := linkedScope(link, t)
		for _, e := range []*Exists{c.Exists, c.NotExists} {
			if e != nil {
				w.cond(e.Cond, inner, false)
			}
		}
		w.cond(c.Where, inner, false)
	case c.Field != "":
		w.field(c.Field, sc, top)
	case c.InAudience != "":
		w.add("aud", c.InAudience)
		if sc.table != nil && top {
			for _, k := range sc.table.Key {
				w.add("col", k)
			}
		}
	case c.Param != "":
		w.add("param", c.Param)
	case c.Variable != "":
		w.add("var", c.Variable)
	case c.Count != "":
		w.add("count", c.Count)
	}
}
