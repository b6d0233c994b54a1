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

	// Dialect is the SQL dialect of the output (zero: DuckDB).
	Dialect Dialect
	// Database, when set, qualifies every relation: "db"."relation" (the
	// Glue database on Athena).
	Database string
	// Zones, on Trino, returns the relation (one VARCHAR column "name") of
	// the time zone names a recipient's zone column may hold, as DuckDB's
	// pg_timezone_names() does: Trino fails a query on a zone it does not
	// know. Only date parts and windows over a zone column read it.
	Zones func() (string, error)
}

// AudienceRelation is where a saved audience's members are.
type AudienceRelation struct {
	Relation string   // relation name (quoted by ToSQL; in SQLScope.Database when set)
	Key      []string // its columns matching the dimension key, in key order
}

// ToSQL checks a population condition once (as Check does in
// PopulationMode, against sc) and lowers the checked tree (Checked.ToSQL).
// An invalid condition gives an *InvalidError naming the first problem and
// its path, and no SQL.
func ToSQL(c *Condition, sc SQLScope) (where string, args []any, err error) {
	if _, err := newLowerer(sc); err != nil {
		return "", nil, err
	}
	if c == nil {
		return "", nil, errors.New("condition: no condition")
	}
	if len(sc.Schema.Columns) == 0 {
		return "", nil, errors.New("condition: " + unknownColumns)
	}
	ch, err := checkOnce("", c, sc.checkEnv())
	if err != nil {
		return "", nil, err
	}
	return ch.ToSQL(sc)
}

// checkEnv is what a condition lowered against sc is checked against.
func (sc SQLScope) checkEnv() CheckEnv {
	return CheckEnv{Catalog: sc.Catalog, Schema: sc.Schema, Params: sc.ParamTypes, Variables: sc.Variables, Mode: PopulationMode}
}

// ToSQL lowers a checked population condition to a DuckDB boolean
// expression over the relation aliased sc.Alias. The tree must have been
// checked against sc's catalog, schema, parameter types and variables; of sc
// it reads Alias, Relation, Audience, Now, Location and Params.
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
//   - Date parts and windows (part; anniversary, inLast, inNext) compare
//     calendar dates in the recipient's zone (the targeting.timezone column
//     of the rows' table, when it names a zone the engine knows: DuckDB's
//     pg_timezone_names(), on Trino the SQLScope.Zones relation) or
//     Location: timezone() (Trino: at_timezone()) of the timestamp and of
//     Now. A window compares whole days
//     and includes both ends; an anniversary compares month*100+day with
//     runs of the window's days (29 February in 28 February's run in years
//     without it), the row's today being one of three days around Now's UTC
//     date.
func (c *Checked) ToSQL(sc SQLScope) (where string, args []any, err error) {
	l, err := newLowerer(sc)
	if err != nil {
		return "", nil, err
	}
	if err := c.complete(PopulationMode); err != nil {
		return "", nil, err
	}
	f, err := l.node(c.Root, l.base())
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
		return "", campaign.Column{}, errors.New("condition: " + unknownColumns)
	}
	ref, msg := resolveField(sc.Catalog, name, newScope(sc.Catalog, sc.Schema))
	if msg != "" {
		return "", campaign.Column{}, errors.New("condition: " + msg)
	}
	f, err := l.field(l.base(), ref)
	if err != nil {
		return "", campaign.Column{}, err
	}
	return f.sql, ref.Column, nil
}

// AggregateSQL lowers an aggregate over a link of the population (as in an
// enrichment `add`), with an optional where on the linked rows, to a scalar
// expression over sc.Alias. It returns the result's column type.
func AggregateSQL(link, aggregate, field string, where *Condition, sc SQLScope) (expr string, args []any, typ string, err error) {
	l, err := newLowerer(sc)
	if err != nil {
		return "", nil, "", err
	}
	if len(sc.Schema.Columns) == 0 {
		return "", nil, "", errors.New("condition: " + unknownColumns)
	}
	probe := &Condition{Link: link, Aggregate: aggregate, Field: field, Where: where, Op: "isNotEmpty"}
	ch, err := checkOnce("", probe, sc.checkEnv())
	if err != nil {
		return "", nil, "", err
	}
	if err := ch.complete(PopulationMode); err != nil {
		return "", nil, "", err
	}
	agg := ch.Root.(*Compare).Subject.(*AggregateRef)
	f, err := l.aggregate(l.base(), agg)
	if err != nil {
		return "", nil, "", err
	}
	return f.sql, f.args, agg.Type, nil
}

var generatedAlias = regexp.MustCompile(`^[lL][0-9]+$`)

type lowerer struct {
	sc  SQLScope
	loc *time.Location
	n   int // generated aliases so far
}

// frag is a piece of SQL and the arguments of its placeholders, in order.
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

// base is the SQL alias of the population rows.
func (l *lowerer) base() string {
	alias, _ := quoteIdent(l.sc.Alias)
	return alias
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
	return l.qualify(rel)
}

// qualify quotes a relation name, in SQLScope.Database when set.
func (l *lowerer) qualify(rel string) (string, error) {
	q, err := quoteIdent(rel)
	if err != nil || l.sc.Database == "" {
		return q, err
	}
	db, err := quoteIdent(l.sc.Database)
	return db + "." + q, err
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

// node lowers a node evaluated on the rows aliased alias.
func (l *lowerer) node(n Node, alias string) (frag, error) {
	switch n := n.(type) {
	case *Junction:
		return l.junction(n, alias)
	case *Negation:
		f, err := l.node(n.Item, alias)
		if err != nil {
			return frag{}, err
		}
		return frag{"(NOT " + f.sql + ")", f.args}, nil
	case *Compare:
		switch s := n.Subject.(type) {
		case *FieldRef:
			lhs, err := l.field(alias, s)
			if err != nil {
				return frag{}, err
			}
			return l.compare(lhs, n, alias)
		case *DatePart:
			lhs, err := l.datePart(alias, s)
			if err != nil {
				return frag{}, err
			}
			return l.compare(lhs, n, alias)
		case *AggregateRef:
			if groupable(s, n) {
				return l.groupedAggregate(alias, s, n)
			}
			lhs, err := l.aggregate(alias, s)
			if err != nil {
				return frag{}, err
			}
			return l.compare(lhs, n, alias)
		}
	case *DateWindow:
		return l.dateWindow(n, alias)
	case *LinkExists:
		return l.exists(n, alias)
	case *InAudience:
		return l.inAudience(n, alias)
	}
	return frag{}, errors.New("condition: a run fact is only valid in a test activity")
}

func (l *lowerer) junction(n *Junction, alias string) (frag, error) {
	if len(n.Items) == 0 {
		return frag{}, errors.New("condition: empty all or any")
	}
	sep := " AND "
	if n.Any {
		sep = " OR "
	}
	var out frag
	parts := make([]string, len(n.Items))
	for i, item := range n.Items {
		f, err := l.node(item, alias)
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
}

// field lowers a column or a path through one-links.
func (l *lowerer) field(alias string, ref *FieldRef) (frag, error) {
	if len(ref.Hops) == 0 {
		c, err := l.col(alias, ref.Column.Name)
		return frag{sql: c}, err
	}
	var b strings.Builder
	outer := alias
	var where string
	for i, h := range ref.Hops {
		a := l.alias()
		rel, err := l.relation(h.Table.Name)
		if err != nil {
			return frag{}, err
		}
		on, err := l.on(h.Link, a, outer)
		if err != nil {
			return frag{}, err
		}
		if i == 0 {
			fmt.Fprintf(&b, " FROM %s AS %s", rel, a)
			where = on
		} else {
			fmt.Fprintf(&b, " JOIN %s AS %s ON %s", rel, a, on)
		}
		outer = a
	}
	c, err := l.col(outer, ref.Column.Name)
	if err != nil {
		return frag{}, err
	}
	return frag{sql: "(SELECT max(" + c + ")" + b.String() + " WHERE " + where + ")"}, nil
}

// linked allocates the alias of the rows of table linked from alias and
// returns it with "FROM <relation> AS <alias> WHERE <join>".
func (l *lowerer) linked(alias string, link campaign.Link, table *campaign.Table) (string, string, error) {
	a := l.alias()
	rel, err := l.relation(table.Name)
	if err != nil {
		return "", "", err
	}
	on, err := l.on(link, a, alias)
	if err != nil {
		return "", "", err
	}
	return a, "FROM " + rel + " AS " + a + " WHERE " + on, nil
}

func (l *lowerer) exists(n *LinkExists, alias string) (frag, error) {
	prefix := "EXISTS"
	if n.Negated {
		prefix = "NOT EXISTS"
	}
	inner, from, err := l.linked(alias, n.Link, n.Table)
	if err != nil {
		return frag{}, err
	}
	out := frag{sql: prefix + " (SELECT 1 " + from}
	if n.Where != nil {
		w, err := l.node(n.Where, inner)
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
func groupable(agg *AggregateRef, cmp *Compare) bool {
	switch agg.Func {
	case "sum", "min", "max", "avg":
	default:
		return false
	}
	if cmp.Op == "isEmpty" || cmp.Op == "isNotEmpty" || agg.Column == nil {
		return false
	}
	for _, v := range cmp.Values {
		if _, ok := v.(*FieldRef); ok {
			return false
		}
	}
	return true
}

// groupedAggregate lowers a groupable link aggregate comparison as
// (key) IN (SELECT fk FROM linked [WHERE ...] GROUP BY fk HAVING cmp): one
// hash aggregate over the linked table instead of a correlated subquery.
// A row without linked rows has a NULL aggregate, which the comparison
// rejects, so both forms select the same rows.
func (l *lowerer) groupedAggregate(alias string, agg *AggregateRef, cmp *Compare) (frag, error) {
	a := l.alias()
	rel, err := l.relation(agg.Table.Name)
	if err != nil {
		return frag{}, err
	}
	var outer, fks []string
	for _, p := range agg.Link.OnPairs() {
		fk, err := l.col(a, p[1])
		if err != nil {
			return frag{}, err
		}
		k, err := l.col(alias, p[0])
		if err != nil {
			return frag{}, err
		}
		fks, outer = append(fks, fk), append(outer, k)
	}
	if len(fks) == 0 {
		return frag{}, fmt.Errorf("condition: link %q has no columns", agg.Link.Name)
	}
	expr, err := l.aggregateExpr(a, agg)
	if err != nil {
		return frag{}, err
	}
	// NULL keys link to nothing; COALESCE keeps NOT (...) two-valued.
	where := make([]string, len(fks))
	for i, fk := range fks {
		where[i] = fk + " IS NOT NULL"
	}
	out := frag{}
	if agg.Where != nil {
		w, err := l.node(agg.Where, a)
		if err != nil {
			return frag{}, err
		}
		where = append(where, w.sql)
		out.args = w.args
	}
	having, err := l.compare(frag{sql: expr}, cmp, alias)
	if err != nil {
		return frag{}, err
	}
	out.sql = "COALESCE((" + strings.Join(outer, ", ") + ") IN (SELECT " + strings.Join(fks, ", ") + " FROM " + rel + " AS " + a +
		" WHERE " + strings.Join(where, " AND ") + " GROUP BY " + strings.Join(fks, ", ") + " HAVING " + having.sql + "), false)"
	out.args = append(out.args, having.args...)
	return out, nil
}

// aggregate lowers an aggregate over linked rows to a scalar subquery.
func (l *lowerer) aggregate(alias string, agg *AggregateRef) (frag, error) {
	inner, from, err := l.linked(alias, agg.Link, agg.Table)
	if err != nil {
		return frag{}, err
	}
	expr, err := l.aggregateExpr(inner, agg)
	if err != nil {
		return frag{}, err
	}
	out := frag{sql: "(SELECT " + expr + " " + from}
	if agg.Where != nil {
		w, err := l.node(agg.Where, inner)
		if err != nil {
			return frag{}, err
		}
		out.sql += " AND " + w.sql
		out.args = w.args
	}
	out.sql += ")"
	if agg.Func == "count" || agg.Func == "countDistinct" {
		out.sql = "COALESCE(" + out.sql + ", 0)"
	}
	return out, nil
}

// aggregateExpr is the SQL aggregate over the linked rows aliased inner.
func (l *lowerer) aggregateExpr(inner string, agg *AggregateRef) (string, error) {
	if agg.Column == nil {
		if agg.Func != "count" {
			return "", fmt.Errorf("condition: aggregate %s needs a field", agg.Func)
		}
		return "count(*)", nil
	}
	ref, err := l.col(inner, agg.Column.Name)
	if err != nil {
		return "", err
	}
	switch agg.Func {
	case "count":
		return "count(" + ref + ")", nil
	case "countDistinct":
		return "count(DISTINCT " + ref + ")", nil
	case "sum", "min", "max", "avg":
		return agg.Func + "(" + ref + ")", nil
	}
	return "", fmt.Errorf("condition: unknown aggregate %q", agg.Func)
}

func (l *lowerer) inAudience(n *InAudience, alias string) (frag, error) {
	if l.sc.Audience == nil {
		return frag{}, fmt.Errorf("condition: no relation for audience %q (SQLScope.Audience is nil)", n.Name)
	}
	aud, err := l.sc.Audience(n.Name)
	if err != nil {
		return frag{}, fmt.Errorf("condition: audience %q: %w", n.Name, err)
	}
	key := n.Table.Key
	if len(aud.Key) != len(key) || len(aud.Key) == 0 {
		return frag{}, fmt.Errorf("condition: audience %q has key %v; %s has key %v", n.Name, aud.Key, n.Table.Name, key)
	}
	rel, err := l.qualify(aud.Relation)
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
		y, err := l.col(alias, key[i])
		if err != nil {
			return frag{}, err
		}
		parts[i] = x + " = " + y
	}
	return frag{sql: "EXISTS (SELECT 1 FROM " + rel + " AS " + a + " WHERE " + strings.Join(parts, " AND ") + ")"}, nil
}
