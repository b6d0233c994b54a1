package condition

import (
	"fmt"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Mode says what a condition is evaluated on.
type Mode int

const (
	// PopulationMode: rows of a population (build-audience, split, enrichment,
	// reconciliation...). Subjects are columns, links and saved audiences.
	PopulationMode Mode = iota
	// TestMode: a test activity. Subjects are run facts: count, param,
	// variable, weekday, hour.
	TestMode
)

// CheckEnv is what a condition is checked against.
type CheckEnv struct {
	Catalog *campaign.Catalog
	// Schema is the population: its dimension (a catalog table, or "" for
	// file rows) and its columns, including columns added upstream (e.g. by
	// an enrichment). A schema with no columns is unknown: column checks are
	// skipped (the cause was reported upstream).
	Schema campaign.Schema
	// Params are the declared campaign parameters: name → type.
	Params map[string]string
	// Variables are the campaign variables: name → value.
	Variables map[string]any
	// Audiences are the saved audiences known at compile time (saved by this
	// campaign) with their schema. An inAudience naming another audience is
	// a warning, not an error: another campaign may save it before the run.
	Audiences map[string]campaign.Schema
	Mode      Mode
	// Count reports whether a `count: activity[.port]` fact names an
	// activity and one of its ports (TestMode). Nil skips the check.
	Count func(t campaign.Transition) error
}

// ParamTypes returns name → type of declared campaign parameters.
func ParamTypes(ps map[string]campaign.Parameter) map[string]string {
	out := make(map[string]string, len(ps))
	for name, p := range ps {
		out[name] = p.Type
	}
	return out
}

// Check type-checks c, found at path, and reports every problem through r
// with the path of the offending node (e.g. `activities[3].where.all[0].field`).
// It returns the checked tree, or nil when c is nil or Check reported an
// error (a warning does not count).
func Check(r campaign.Reporter, path string, c *Condition, env CheckEnv) *Checked {
	if c == nil {
		return nil
	}
	k := &checker{r: r, env: env}
	root := k.cond(path, c, k.population())
	if k.errs > 0 {
		return nil
	}
	return &Checked{Mode: env.Mode, Root: root, gap: k.gap}
}

type checker struct {
	r     campaign.Reporter
	env   CheckEnv
	links int // link conditions seen so far
	errs  int // errors reported
	gap   string
}

// unknownColumns is the gap of a tree checked on rows of unknown columns.
const unknownColumns = "the population's columns are unknown"

// incomplete records why a node is left out of the tree although no error
// is reported here (the cause is reported elsewhere).
func (k *checker) incomplete(reason string) {
	if k.gap == "" {
		k.gap = reason
	}
}

// Limits on a condition's links, each a correlated subquery at run time. The
// query planner's cost grows exponentially with nested aggregates (21 levels
// took 46 s on 200 customers) and steeply with their number (400 side by side
// took 9.6 s and 470 MB); within these a test run answers in about a second.
const (
	MaxLinkDepth = 8  // links nested inside one another
	MaxLinks     = 64 // link conditions in one condition
)

// scope is the rows a condition node is evaluated on: the population, or a
// linked table inside exists / notExists / aggregate.
type scope struct {
	schema campaign.Schema
	table  *campaign.Table // catalog table of the rows; nil for file rows
	desc   string          // for messages: "customers rows", "purchases (linked)"
	// unknown: the population's columns are unknown; skip column checks.
	unknown bool
	depth   int // links followed to reach these rows
}

func (k *checker) population() scope {
	return newScope(k.env.Catalog, k.env.Schema)
}

func newScope(cat *campaign.Catalog, s campaign.Schema) scope {
	sc := scope{schema: s, desc: s.String(), unknown: len(s.Columns) == 0}
	if cat != nil && s.Dimension != "" {
		sc.table, _ = cat.Table(s.Dimension)
	}
	return sc
}

func linkedScope(link campaign.Link, t *campaign.Table) scope {
	return scope{schema: t.Schema(), table: t, desc: fmt.Sprintf("%s rows (through link %q)", t.Name, link.Name)}
}

// subjectInfo is what a comparison compares, as checked: a column, an
// aggregate or a run fact.
type subjectInfo struct {
	typ    string // column type; "" when unknown (skip type checks)
	enum   []string
	desc   string // `column "age"`, `sum(amount)`, `parameter "region"`
	strict bool   // integer values only (counts, hours)
	lo, hi int64  // value range when hi > lo
	// wildcardOnly: like patterns may use % but not _ (lowered to ASL
	// StringMatches).
	wildcardOnly bool
	ops          []string
}

func (s subjectInfo) operators() []string {
	if s.ops != nil {
		return s.ops
	}
	return OperatorsFor(s.typ)
}

func (k *checker) errorf(path, format string, args ...any) {
	k.errs++
	k.r.Errorf(path, format, args...)
}

// forms lists the forms set on a node; a valid node has exactly one.
func (c *Condition) forms() []string {
	var f []string
	if c.All != nil {
		f = append(f, "all")
	}
	if c.Any != nil {
		f = append(f, "any")
	}
	if c.Not != nil {
		f = append(f, "not")
	}
	if c.Link != "" || c.Exists != nil || c.NotExists != nil || c.Aggregate != "" {
		f = append(f, "link")
	} else if c.Field != "" {
		f = append(f, "field")
	}
	if c.InAudience != "" {
		f = append(f, "inAudience")
	}
	if c.Count != "" {
		f = append(f, "count")
	}
	if c.Param != "" {
		f = append(f, "param")
	}
	if c.Variable != "" {
		f = append(f, "variable")
	}
	if c.Weekday != nil {
		f = append(f, "weekday")
	}
	if c.Hour != nil {
		f = append(f, "hour")
	}
	return f
}

// keys lists the comparison keys set on a node.
func (c *Condition) keys() map[string]bool {
	return map[string]bool{
		"field": c.Field != "", "op": c.Op != "", "value": c.Value != nil, "where": c.Where != nil,
		"exists": c.Exists != nil, "notExists": c.NotExists != nil, "aggregate": c.Aggregate != "",
	}
}

var (
	populationForms = "all, any, not, field, link (with exists, notExists or aggregate), inAudience"
	testForms       = "all, any, not, count, param, variable, weekday, hour"
)

func (k *checker) cond(path string, c *Condition, sc scope) Node {
	all := k.conds(campaign.JoinPath(path, "all"), c.All, sc)
	anyOf := k.conds(campaign.JoinPath(path, "any"), c.Any, sc)
	var not Node
	if c.Not != nil {
		not = k.cond(campaign.JoinPath(path, "not"), c.Not, sc)
	}
	form, ok := k.form(path, c)
	if !ok {
		return nil
	}
	switch form {
	case "all", "any":
		items := all
		if form == "any" {
			items = anyOf
		}
		if len(items) == 0 {
			k.errorf(campaign.JoinPath(path, form), "%s needs at least one condition", form)
		}
		return &Junction{Any: form == "any", Items: items}
	case "not":
		return &Negation{Item: not}
	case "field", "link", "inAudience":
		if k.env.Mode == TestMode {
			k.errorf(campaign.JoinPath(path, form), "%s conditions need a population; in a test activity use run facts: count, param, variable, weekday, hour", form)
			return nil
		}
		switch form {
		case "field":
			subj, ref, ok := k.fieldSubject(campaign.JoinPath(path, "field"), c.Field, sc)
			if !ok {
				return nil
			}
			vals := k.comparison(path, c.Op, c.Value, subj, sc)
			return &Compare{Subject: ref, Type: subj.typ, Op: c.Op, Values: vals}
		case "link":
			return k.link(path, c, sc)
		}
		return k.inAudience(path, c.InAudience, sc)
	}
	// run facts
	if k.env.Mode != TestMode {
		k.errorf(campaign.JoinPath(path, form), "%s is a run fact, only valid in a test activity; in a population condition use field, link or inAudience", form)
		return nil
	}
	return k.fact(path, form, c, sc)
}

// conds checks the items of an all or any at path.
func (k *checker) conds(path string, list []Condition, sc scope) []Node {
	if len(list) == 0 {
		return nil
	}
	out := make([]Node, len(list))
	for i := range list {
		out[i] = k.cond(campaign.JoinPath(path, i), &list[i], sc)
	}
	return out
}

// form returns the one form of c, reporting a node with none or several,
// and keys that the form does not use.
func (k *checker) form(path string, c *Condition) (string, bool) {
	forms := c.forms()
	valid := populationForms
	if k.env.Mode == TestMode {
		valid = testForms
	}
	switch len(forms) {
	case 0:
		if c.Op != "" || c.Value != nil {
			k.errorf(path, "a comparison needs a subject; use one of: %s", valid)
		} else {
			k.errorf(path, "empty condition; use one of: %s", valid)
		}
		return "", false
	case 1:
	default:
		k.errorf(path, "a condition has exactly one form, this one mixes %s; nest them under all or any", strings.Join(forms, " and "))
		return "", false
	}
	form := forms[0]
	keys := c.keys()
	allowed := map[string][]string{
		"field":    {"field", "op", "value"},
		"count":    {"op", "value"},
		"param":    {"op", "value"},
		"variable": {"op", "value"},
		"link":     {"exists", "notExists", "aggregate", "field", "op", "value", "where"},
	}[form]
	for _, key := range []string{"field", "op", "value", "where", "exists", "notExists", "aggregate"} {
		if keys[key] && !contains(allowed, key) {
			a := "a"
			if strings.ContainsRune("aeiou", rune(form[0])) {
				a = "an"
			}
			k.errorf(campaign.JoinPath(path, key), "%s is not used in %s %s condition", key, a, form)
		}
	}
	return form, true
}

// resolve finds a column of sc by name, or a column reached through
// cardinality-one links (`store.city`). It returns a message naming what
// would be valid when the name does not resolve.
func (k *checker) resolve(name string, sc scope) (*FieldRef, string) {
	return resolveField(k.env.Catalog, name, sc)
}

func resolveField(cat *campaign.Catalog, name string, sc scope) (*FieldRef, string) {
	if col, ok := sc.schema.Column(name); ok {
		return &FieldRef{Name: name, Column: col}, ""
	}
	first, rest, dotted := strings.Cut(name, ".")
	if dotted && sc.table != nil {
		if link, ok := sc.table.Link(first); ok {
			if link.Cardinality != "one" {
				return nil, fmt.Sprintf("link %q of %s is one-to-many: a field can only go through a cardinality-one link; use { link: %s, exists: <condition> } or an aggregate", first, sc.table.Name, first)
			}
			target, ok := lookupTable(cat, link.Table)
			if !ok {
				return nil, fmt.Sprintf("link %q names unknown table %q", first, link.Table)
			}
			for _, pair := range link.OnPairs() {
				if _, ok := sc.schema.Column(pair[0]); !ok {
					return nil, fmt.Sprintf("link %q joins on column %q, which %s do not have", first, pair[0], sc.desc)
				}
			}
			if len(target.Columns) == 0 {
				return nil, fmt.Sprintf("table %q declares no columns in the catalog; declare them to use it in conditions", target.Name)
			}
			inner, msg := resolveField(cat, rest, linkedScope(link, target))
			if msg != "" {
				return nil, msg
			}
			inner.Name = name
			inner.Hops = append([]Hop{{Link: link, Table: target}}, inner.Hops...)
			return inner, ""
		}
		if s := campaign.Suggest(first, sc.table.LinkNames()); s != "" && !sc.hasColumnLike(name) {
			return nil, fmt.Sprintf("unknown link %q of %s in %q (did you mean %q?)", first, sc.table.Name, name, s)
		}
	}
	msg := fmt.Sprintf("unknown column %q in %s", name, sc.desc)
	if s := campaign.DidYouMean(name, sc.schema.ColumnNames()); s != "" {
		return nil, msg + s
	}
	if sc.table != nil {
		if l, ok := sc.table.Link(name); ok {
			return nil, fmt.Sprintf("%q is a link of %s, not a column: test it with { link: %s, exists: ... }, or name a column through it such as %s.<column>", name, sc.table.Name, l.Name, l.Name)
		}
	}
	if names := sc.schema.ColumnNames(); len(names) > 0 && len(names) <= 20 {
		msg += "; columns: " + strings.Join(names, ", ")
	}
	if dotted && sc.table == nil {
		msg += " (file rows have no links)"
	} else if dotted && sc.table != nil && len(sc.table.Links) > 0 {
		msg += "; links: " + strings.Join(sc.table.LinkNames(), ", ")
	}
	return nil, msg
}

func (sc scope) hasColumnLike(name string) bool {
	return campaign.Suggest(name, sc.schema.ColumnNames()) != ""
}

func lookupTable(cat *campaign.Catalog, name string) (*campaign.Table, bool) {
	if cat == nil {
		return nil, false
	}
	return cat.Table(name)
}

func (k *checker) fieldSubject(path, name string, sc scope) (subjectInfo, *FieldRef, bool) {
	if sc.unknown {
		k.incomplete(unknownColumns)
		return subjectInfo{desc: fmt.Sprintf("column %q", name)}, nil, true
	}
	ref, msg := k.resolve(name, sc)
	if msg != "" {
		k.errorf(path, "%s", msg)
		return subjectInfo{}, nil, false
	}
	return subjectInfo{typ: ref.Column.Type, enum: ref.Column.Enum, desc: fmt.Sprintf("%s column %q", ref.Column.Type, name)}, ref, true
}

// comparison checks op and value against subj. path is the node holding op
// and value.
// It returns the values' operands.
func (k *checker) comparison(path, op string, v *Value, subj subjectInfo, sc scope) []Operand {
	opPath := campaign.JoinPath(path, "op")
	valPath := campaign.JoinPath(path, "value")
	ops := subj.operators()
	if op == "" {
		k.errorf(path, "missing op; valid for %s: %s", subj.desc, strings.Join(ops, ", "))
		return nil
	}
	if !contains(Operators, op) {
		k.errorf(opPath, "unknown operator %q%s; valid: %s", op, campaign.DidYouMean(op, Operators), strings.Join(ops, ", "))
		return nil
	}
	if !contains(ops, op) {
		k.errorf(opPath, "operator %s does not apply to %s; valid: %s", op, subj.desc, strings.Join(ops, ", "))
		return nil
	}
	switch arityOf(op) {
	case noValue:
		if v != nil {
			k.errorf(valPath, "%s takes no value", op)
		}
	case oneValue:
		switch {
		case v == nil:
			k.errorf(path, "%s needs a value%s", op, nullHint(op))
		case v.IsList:
			k.errorf(valPath, "%s takes one value, not a list (use in for a list)", op)
		default:
			return []Operand{k.value(valPath, v, subj, op, sc, false)}
		}
	case listValue, pairValue:
		return k.listValue(path, op, v, subj, sc)
	}
	return nil
}

func nullHint(op string) string {
	if op == "eq" || op == "ne" {
		return "; to test for a missing value use isEmpty or isNotEmpty"
	}
	return ""
}

func (k *checker) listValue(path, op string, v *Value, subj subjectInfo, sc scope) []Operand {
	valPath := campaign.JoinPath(path, "value")
	want := "a list of values, e.g. [a, b]"
	if op == "between" {
		want = "a list of two values [low, high]"
	}
	if v == nil {
		k.errorf(path, "%s needs %s", op, want)
		return nil
	}
	var out []Operand
	if !v.IsList {
		if v.Variable == "" {
			k.errorf(valPath, "%s needs %s", op, want)
			return nil
		}
		// A variable holding a list.
		x, ok := k.variable(campaign.JoinPath(valPath, "variable"), v.Variable)
		if !ok {
			return nil
		}
		list, isList := x.([]any)
		if !isList {
			k.errorf(valPath, "%s needs %s; variable %q is %s", op, want, v.Variable, show(x))
			return nil
		}
		for _, e := range list {
			out = append(out, Const{k.constant(valPath, e, subj, op, fmt.Sprintf("variable %q holds ", v.Variable))})
		}
	} else {
		for i, item := range v.List {
			out = append(out, k.value(campaign.JoinPath(valPath, i), item, subj, op, sc, true))
		}
	}
	switch n := len(out); {
	case op == "between" && n != 2:
		k.errorf(valPath, "between needs exactly two values [low, high], got %d", n)
	case n == 0:
		k.errorf(valPath, "%s needs at least one value", op)
	}
	return out
}

// value checks one value (a literal or a reference) against subj and
// returns its operand.
func (k *checker) value(path string, v *Value, subj subjectInfo, op string, sc scope, inList bool) Operand {
	if v.IsList {
		k.incomplete("nested lists are not allowed in a value") // reported by the decoder
		return nil
	}
	test := k.env.Mode == TestMode
	switch {
	case v.Param != "":
		if test {
			k.errorf(path, "a test activity compares with constants: use a literal or { variable: name }, not a parameter")
			return nil
		}
		return k.paramValue(path, v, subj, op)
	case v.Variable != "":
		vp := campaign.JoinPath(path, "variable")
		x, ok := k.variable(vp, v.Variable)
		if !ok {
			return nil
		}
		if _, isList := x.([]any); isList {
			if inList {
				k.errorf(vp, "variable %q is a list; a list item must be a single value", v.Variable)
			} else {
				k.errorf(vp, "variable %q is a list; %s takes one value (use in for a list)", v.Variable, op)
			}
			return nil
		}
		return Const{k.constant(path, x, subj, op, fmt.Sprintf("variable %q is ", v.Variable))}
	case v.Field != "":
		if test {
			k.errorf(campaign.JoinPath(path, "field"), "a test activity has no row fields; compare with a literal or { variable: name }")
			return nil
		}
		return k.fieldValue(path, v, subj, sc)
	case v.Ago != "" || v.Ahead != "" || v.Now:
		if test {
			k.errorf(path, "a test activity compares with constants; relative times are not supported there")
			return nil
		}
		return k.relTime(path, v, subj)
	}
	if v.Literal == nil {
		k.errorf(path, "null is not a value; to test for a missing value use isEmpty or isNotEmpty")
		return nil
	}
	return Const{k.constant(path, v.Literal, subj, op, "")}
}

func (k *checker) paramValue(path string, v *Value, subj subjectInfo, op string) Operand {
	pp := campaign.JoinPath(path, "param")
	typ, ok := k.env.Params[v.Param]
	if !ok {
		k.errorf(pp, "unknown parameter %q%s%s", v.Param, campaign.DidYouMean(v.Param, sortedKeys(k.env.Params)), declared(k.env.Params))
		return nil
	}
	if subj.typ != "" && !paramFits(typ, subj.typ) {
		k.errorf(pp, "parameter %q is %s; %s needs %s", v.Param, article(typ), subj.desc, wantType(subj.typ))
	}
	if contains([]string{"startsWith", "notStartsWith", "contains", "notContains", "like", "notLike"}, op) && typ != campaign.TypeString {
		k.errorf(pp, "%s needs a string pattern; parameter %q is %s", op, v.Param, article(typ))
	}
	return &ParamRef{Name: v.Param, Type: typ}
}

func (k *checker) fieldValue(path string, v *Value, subj subjectInfo, sc scope) Operand {
	fp := campaign.JoinPath(path, "field")
	if sc.unknown {
		k.incomplete(unknownColumns)
		return nil
	}
	ref, msg := k.resolve(v.Field, sc)
	if msg != "" {
		k.errorf(fp, "%s", msg)
		return nil
	}
	if subj.typ != "" && kind(ref.Column.Type) != kind(subj.typ) {
		k.errorf(fp, "column %q is %s; %s compares with %s", v.Field, article(ref.Column.Type), subj.desc, wantType(subj.typ))
	} else if ref.Column.Type == campaign.TypeJSON {
		k.errorf(fp, "json column %q cannot be compared", v.Field)
	}
	return ref
}

// relTime checks an ago, ahead or now value.
func (k *checker) relTime(path string, v *Value, subj subjectInfo) Operand {
	d, key := v.Ago, "ago"
	if v.Ahead != "" {
		d, key = v.Ahead, "ahead"
	}
	if d != "" {
		if _, err := campaign.ParseDuration(d); err != nil {
			k.errorf(campaign.JoinPath(path, key), "%v", err)
		}
	}
	if subj.typ != "" && !isTime(subj.typ) {
		k.errorf(path, "relative times (ago, ahead, now) compare with date or timestamp columns; %s is not one", subj.desc)
	}
	out := &RelTime{}
	for _, r := range []struct {
		s string
		d *time.Duration
	}{{v.Ago, &out.Ago}, {v.Ahead, &out.Ahead}} {
		if r.s == "" {
			continue
		}
		x, err := campaign.ParseDuration(r.s)
		if err != nil {
			k.incomplete(err.Error()) // ago and ahead both set: reported by the decoder
			return nil
		}
		*r.d = x
	}
	return out
}

func (k *checker) variable(path, name string) (any, bool) {
	raw, ok := k.env.Variables[name]
	if !ok {
		k.errorf(path, "unknown variable %q%s%s", name, campaign.DidYouMean(name, sortedKeys(k.env.Variables)), declared(k.env.Variables))
		return nil, false
	}
	x, err := constant(raw)
	if err != nil {
		k.errorf(path, "variable %q: %v", name, err)
		return nil, false
	}
	return x, true
}

func declared[V any](m map[string]V) string {
	if len(m) == 0 {
		return "; none is declared"
	}
	if len(m) <= 15 {
		return "; declared: " + strings.Join(sortedKeys(m), ", ")
	}
	return ""
}

// paramFits reports whether a parameter of type p can be compared with a
// subject of type s. A date parameter compares with a timestamp (midnight in
// the campaign time zone); a timestamp parameter does not compare with a date.
func paramFits(p, s string) bool {
	if kind(p) == kind(s) {
		return true
	}
	return p == campaign.TypeDate && s == campaign.TypeTimestamp
}

func article(typ string) string {
	switch typ {
	case campaign.TypeInteger:
		return "an integer"
	case "":
		return "null"
	}
	return "a " + typ
}

func wantType(typ string) string {
	switch kind(typ) {
	case "numeric":
		return "a number"
	case campaign.TypeDate:
		return "a date (YYYY-MM-DD)"
	case campaign.TypeTimestamp:
		return "a timestamp (RFC 3339 such as 2026-01-31T09:00:00Z, or without offset in the campaign time zone) or a date"
	case campaign.TypeBoolean:
		return "true or false"
	}
	return article(typ)
}

// constant checks a compile-time value (literal or variable) against subj.
// what prefixes messages about variables ("variable "x" is "). It returns
// the normalized constant.
func (k *checker) constant(path string, x any, subj subjectInfo, op string, what string) any {
	x, err := constant(x)
	if err != nil {
		k.errorf(path, "%s%v", what, err)
		return nil
	}
	if x == nil {
		k.errorf(path, "%snull; to test for a missing value use isEmpty or isNotEmpty", what)
		return nil
	}
	if subj.typ != "" {
		k.constantType(path, x, subj, op, what)
	}
	return x
}

// constantType checks a non-null constant against subj's type.
func (k *checker) constantType(path string, x any, subj subjectInfo, op string, what string) {
	bad := func() {
		if what != "" {
			k.errorf(path, "%s%s; %s needs %s", what, show(x), subj.desc, wantType(subj.typ))
			return
		}
		hint := ""
		if subj.typ == campaign.TypeString {
			hint = fmt.Sprintf("; write it in quotes: \"%v\"", x)
		}
		k.errorf(path, "%s needs %s, got %s%s", subj.desc, wantType(subj.typ), show(x), hint)
	}
	switch subj.typ {
	case campaign.TypeString:
		s, ok := x.(string)
		if !ok {
			bad()
			return
		}
		if len(subj.enum) > 0 && contains([]string{"eq", "ne", "in", "notIn"}, op) && !contains(subj.enum, s) {
			k.errorf(path, "%s%q is not a value of %s%s; valid: %s", what, s, subj.desc, campaign.DidYouMean(s, subj.enum), strings.Join(subj.enum, ", "))
		}
		if subj.wildcardOnly && (op == "like" || op == "notLike") && strings.Contains(s, "_") {
			k.errorf(path, "%s: in a test activity a like pattern supports %% only, not _ (Step Functions has no single-character wildcard)", show(s))
		}
	case campaign.TypeInteger, campaign.TypeNumber, campaign.TypeDecimal:
		switch n := x.(type) {
		case int64:
			if subj.hi > subj.lo && (n < subj.lo || n > subj.hi) {
				k.errorf(path, "%s%d is out of range for %s: %d to %d", what, n, subj.desc, subj.lo, subj.hi)
			}
		case float64:
			if subj.strict {
				k.errorf(path, "%s needs an integer, got %s", subj.desc, show(x))
			}
		default:
			bad()
		}
	case campaign.TypeBoolean:
		if _, ok := x.(bool); !ok {
			bad()
		}
	case campaign.TypeDate:
		s, ok := x.(string)
		if !ok {
			bad()
			return
		}
		if _, ok := parseDate(s); !ok {
			bad()
		}
	case campaign.TypeTimestamp:
		s, ok := x.(string)
		if !ok {
			bad()
			return
		}
		if _, err := parseInstant(s, time.UTC); err != nil {
			bad()
		}
	default:
		bad()
	}
}

func (k *checker) link(path string, c *Condition, sc scope) Node {
	n := 0
	for _, set := range []bool{c.Exists != nil, c.NotExists != nil, c.Aggregate != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		k.errorf(path, "a link condition needs exactly one of exists, notExists or aggregate")
	}
	if c.Aggregate == "" {
		for _, key := range []string{"field", "op", "value", "where"} {
			if c.keys()[key] {
				k.errorf(campaign.JoinPath(path, key), "%s is only used with aggregate in a link condition; exists and notExists take a condition", key)
			}
		}
	}
	link, inner, ok := k.linkTarget(path, c, sc)
	if !ok {
		return nil
	}
	var exists, notExists Node
	if c.Exists != nil && c.Exists.Cond != nil {
		exists = k.cond(campaign.JoinPath(path, "exists"), c.Exists.Cond, inner)
	}
	if c.NotExists != nil && c.NotExists.Cond != nil {
		notExists = k.cond(campaign.JoinPath(path, "notExists"), c.NotExists.Cond, inner)
	}
	if c.Aggregate == "" || n != 1 {
		if c.Exists != nil {
			return &LinkExists{Link: link, Table: inner.table, Where: exists}
		}
		return &LinkExists{Link: link, Table: inner.table, Negated: true, Where: notExists}
	}
	ap := campaign.JoinPath(path, "aggregate")
	if !contains(Aggregates, c.Aggregate) {
		k.errorf(ap, "unknown aggregate %q%s; valid: %s", c.Aggregate, campaign.DidYouMean(c.Aggregate, Aggregates), strings.Join(Aggregates, ", "))
		return nil
	}
	var where Node
	if c.Where != nil {
		where = k.cond(campaign.JoinPath(path, "where"), c.Where, inner)
	}
	subj, col, ok := k.aggregateSubject(path, c, inner)
	if !ok {
		return nil
	}
	agg := &AggregateRef{Link: link, Table: inner.table, Func: c.Aggregate, Column: col, Where: where, Type: subj.typ}
	return &Compare{Subject: agg, Type: subj.typ, Op: c.Op, Values: k.comparison(path, c.Op, c.Value, subj, sc)}
}

// linkTarget resolves the link of a link condition and returns the scope of
// the linked rows, checking the limits on links.
func (k *checker) linkTarget(path string, c *Condition, sc scope) (campaign.Link, scope, bool) {
	lp := campaign.JoinPath(path, "link")
	if c.Link == "" {
		k.errorf(path, "missing link: name the link of %s to follow", sc.desc)
		return campaign.Link{}, scope{}, false
	}
	if sc.table == nil {
		if !sc.unknown || sc.schema.Dimension == "" {
			k.errorf(lp, "%s have no links; links belong to catalog tables", sc.desc)
		} else {
			k.incomplete(unknownColumns)
		}
		return campaign.Link{}, scope{}, false
	}
	link, ok := sc.table.Link(c.Link)
	if !ok {
		k.errorf(lp, "unknown link %q of %s%s", c.Link, sc.table.Name, suggestOrList(c.Link, sc.table.LinkNames()))
		return campaign.Link{}, scope{}, false
	}
	target, ok := lookupTable(k.env.Catalog, link.Table)
	if !ok {
		k.errorf(lp, "link %q names unknown table %q", c.Link, link.Table)
		return campaign.Link{}, scope{}, false
	}
	if sc.unknown {
		k.incomplete(unknownColumns)
	} else {
		for _, pair := range link.OnPairs() {
			if _, ok := sc.schema.Column(pair[0]); !ok {
				k.errorf(lp, "link %q joins on column %q, which %s do not have", c.Link, pair[0], sc.desc)
			}
		}
	}
	if len(target.Columns) == 0 && (c.Aggregate != "" && c.Aggregate != "count" || c.Where != nil || (c.Exists != nil && c.Exists.Cond != nil) || (c.NotExists != nil && c.NotExists.Cond != nil)) {
		k.errorf(lp, "table %q declares no columns in the catalog; declare them to use it in conditions", target.Name)
		return campaign.Link{}, scope{}, false
	}
	inner := linkedScope(link, target)
	inner.depth = sc.depth + 1
	if k.links++; k.links == MaxLinks+1 {
		k.errorf(lp, "a condition follows at most %d links (each is a subquery at run time); split it across activities", MaxLinks)
	}
	if inner.depth > MaxLinkDepth {
		k.errorf(lp, "links nest at most %d deep in a condition; this one is %d deep", MaxLinkDepth, inner.depth)
		return campaign.Link{}, scope{}, false
	}
	return link, inner, true
}

// aggregateSubject checks the aggregate's field and returns its result and
// column (nil for count(*)).
func (k *checker) aggregateSubject(path string, c *Condition, inner scope) (subjectInfo, *campaign.Column, bool) {
	fp := campaign.JoinPath(path, "field")
	desc := fmt.Sprintf("%s(%s)", c.Aggregate, c.Field)
	if c.Field == "" {
		if c.Aggregate != "count" {
			k.errorf(path, "aggregate %s needs field: a column of %s", c.Aggregate, inner.table.Name)
			return subjectInfo{}, nil, false
		}
		return subjectInfo{typ: campaign.TypeInteger, desc: fmt.Sprintf("count of %s", inner.desc)}, nil, true
	}
	col, ok := inner.schema.Column(c.Field)
	if !ok {
		k.errorf(fp, "unknown column %q in %s%s", c.Field, inner.desc, suggestOrList(c.Field, inner.schema.ColumnNames()))
		return subjectInfo{}, nil, false
	}
	switch c.Aggregate {
	case "count", "countDistinct":
		if col.Type == campaign.TypeJSON {
			k.errorf(fp, "%s cannot count json column %q", c.Aggregate, c.Field)
			return subjectInfo{}, nil, false
		}
		return subjectInfo{typ: campaign.TypeInteger, desc: desc}, &col, true
	case "sum", "avg":
		if !isNumeric(col.Type) {
			k.errorf(fp, "%s needs a numeric column (integer, number, decimal); %q is %s", c.Aggregate, c.Field, article(col.Type))
			return subjectInfo{}, nil, false
		}
		typ := col.Type
		if c.Aggregate == "avg" {
			typ = campaign.TypeNumber
		}
		return subjectInfo{typ: typ, desc: desc}, &col, true
	default: // min, max
		if !isNumeric(col.Type) && !isTime(col.Type) && col.Type != campaign.TypeString {
			k.errorf(fp, "%s needs a numeric, date, timestamp or string column; %q is %s", c.Aggregate, c.Field, article(col.Type))
			return subjectInfo{}, nil, false
		}
		return subjectInfo{typ: col.Type, desc: desc}, &col, true
	}
}

func suggestOrList(name string, valid []string) string {
	if s := campaign.DidYouMean(name, valid); s != "" {
		return s
	}
	if len(valid) == 0 {
		return "; it has none"
	}
	if len(valid) <= 15 {
		return "; valid: " + strings.Join(valid, ", ")
	}
	return ""
}

func (k *checker) inAudience(path, name string, sc scope) Node {
	ap := campaign.JoinPath(path, "inAudience")
	if sc.table == nil {
		if !sc.unknown || sc.schema.Dimension == "" {
			k.errorf(ap, "%s are not a catalog dimension; saved audiences hold dimension rows", sc.desc)
		} else {
			k.incomplete(unknownColumns)
		}
		return nil
	}
	if sc.unknown {
		k.incomplete(unknownColumns)
	} else {
		for _, key := range sc.table.Key {
			if _, ok := sc.schema.Column(key); !ok {
				k.errorf(ap, "inAudience matches on the key of %s, but %s do not have column %q", sc.table.Name, sc.desc, key)
			}
		}
	}
	node := &InAudience{Name: name, Table: sc.table}
	s, known := k.env.Audiences[name]
	if !known {
		k.r.Warnf(ap, "audience %q is not saved by this campaign%s; it must exist when the campaign runs", name, campaign.DidYouMean(name, sortedKeys(k.env.Audiences)))
		return node
	}
	if s.Dimension != "" && s.Dimension != sc.table.Name {
		k.errorf(ap, "audience %q holds %s rows, not %s rows", name, s.Dimension, sc.table.Name)
	}
	return node
}

// fact checks a run fact of a test activity.
func (k *checker) fact(path, form string, c *Condition, sc scope) Node {
	switch form {
	case "count":
		act, port, _ := strings.Cut(c.Count, ".")
		tr := campaign.Transition{Activity: act, Port: port}
		if k.env.Count != nil {
			if err := k.env.Count(tr); err != nil {
				k.errorf(campaign.JoinPath(path, "count"), "%v", err)
			}
		}
		vals := k.comparison(path, c.Op, c.Value, subjectInfo{typ: campaign.TypeInteger, strict: true, desc: fmt.Sprintf("the row count of %s", c.Count)}, sc)
		return &Compare{Subject: &CountFact{Port: tr}, Type: campaign.TypeInteger, Op: c.Op, Values: vals}
	case "param":
		typ, ok := k.env.Params[c.Param]
		if !ok {
			k.errorf(campaign.JoinPath(path, "param"), "unknown parameter %q%s%s", c.Param, campaign.DidYouMean(c.Param, sortedKeys(k.env.Params)), declared(k.env.Params))
			return nil
		}
		vals := k.comparison(path, c.Op, c.Value, subjectInfo{typ: typ, desc: fmt.Sprintf("%s parameter %q", typ, c.Param), wildcardOnly: true}, sc)
		return &Compare{Subject: &ParamFact{Name: c.Param, Type: typ}, Type: typ, Op: c.Op, Values: vals}
	case "variable":
		return k.variableFact(path, c, sc)
	case "weekday":
		wp := campaign.JoinPath(path, "weekday")
		if len(c.Weekday) == 0 {
			k.errorf(wp, "weekday needs at least one day: %s", strings.Join(Weekdays, ", "))
		}
		for i, d := range c.Weekday {
			if !contains(Weekdays, d) {
				k.errorf(campaign.JoinPath(wp, i), "unknown weekday %q%s; valid: %s", d, campaign.DidYouMean(d, Weekdays), strings.Join(Weekdays, ", "))
			}
		}
		return &Weekday{Days: c.Weekday}
	}
	// hour
	vals := k.comparison(campaign.JoinPath(path, "hour"), c.Hour.Op, c.Hour.Value, subjectInfo{
		typ: campaign.TypeInteger, strict: true, lo: 0, hi: 23, desc: "hour",
		ops: []string{"eq", "ne", "gt", "gte", "lt", "lte", "in", "notIn", "between"},
	}, sc)
	return &Compare{Subject: &HourFact{}, Type: campaign.TypeInteger, Op: c.Hour.Op, Values: vals}
}

func (k *checker) variableFact(path string, c *Condition, sc scope) Node {
	x, ok := k.variable(campaign.JoinPath(path, "variable"), c.Variable)
	if !ok {
		return nil
	}
	if _, isList := x.([]any); isList {
		k.errorf(campaign.JoinPath(path, "variable"), "variable %q is a list; a test compares a single value", c.Variable)
		return nil
	}
	typ := constType(x)
	desc := fmt.Sprintf("variable %q", c.Variable)
	if typ != "" {
		desc = fmt.Sprintf("%s variable %q", typ, c.Variable)
	}
	vals := k.comparison(path, c.Op, c.Value, subjectInfo{typ: typ, desc: desc}, sc)
	return &Compare{Subject: &VariableFact{Name: c.Variable, Value: x}, Type: typ, Op: c.Op, Values: vals}
}
