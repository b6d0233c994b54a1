package condition

import (
	"fmt"
	"strings"

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
		"part": c.Part != "", "within": c.Within != "",
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
			if c.Part != "" || c.Within != "" || contains(DateOps, c.Op) {
				return k.dateCond(path, c, subj, ref, sc)
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
		"field":    {"field", "op", "value", "part", "within"},
		"count":    {"op", "value"},
		"param":    {"op", "value"},
		"variable": {"op", "value"},
		"link":     {"exists", "notExists", "aggregate", "field", "op", "value", "where"},
	}[form]
	for _, key := range []string{"field", "op", "value", "where", "exists", "notExists", "aggregate", "part", "within"} {
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
