package condition

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// DefaultRunPath is the JSONPath of the run facts in a state's input.
const DefaultRunPath = "$.run"

// FactPaths tells ToChoice where the run facts of a test activity are.
//
// Under Run (default $.run) the state input must hold: params.<name> (the
// run's parameters: timestamps as RFC 3339, dates as YYYY-MM-DD; an optional
// parameter without value absent or null), weekday (mon..sun) and hour
// (0..23) of the run's start in the campaign time zone, and id (always
// present; constant rules test it).
type FactPaths struct {
	// Count returns the JSONPath of the integer row count of an activity's
	// port (Port "" is out), or an error when there is no such port.
	Count func(t campaign.Transition) (string, error)
	// ParamTypes are the declared parameters (name → type).
	ParamTypes map[string]string
	// Variables are the campaign variables, evaluated at compile time.
	Variables map[string]any
	// Location is the campaign time zone (nil: UTC), for timestamp literals
	// written without offset.
	Location *time.Location
	// Run is the JSONPath of the run facts; "" is DefaultRunPath.
	Run string
}

// ToChoice checks a test-activity condition once (as Check does in
// TestMode, against facts) and lowers the checked tree (Checked.ToChoice).
// An invalid condition gives an *InvalidError naming the first problem and
// its path.
func ToChoice(c *Condition, facts FactPaths) (asl.ChoiceRule, error) {
	if c == nil {
		return asl.ChoiceRule{}, errors.New("condition: no condition")
	}
	ch, err := checkOnce("", c, CheckEnv{
		Params:    facts.ParamTypes,
		Variables: facts.Variables,
		Mode:      TestMode,
		Count: func(t campaign.Transition) error {
			if facts.Count == nil {
				return errors.New("no count paths (FactPaths.Count is nil)")
			}
			_, err := facts.Count(t)
			return err
		},
	})
	if err != nil {
		return asl.ChoiceRule{}, err
	}
	return ch.ToChoice(facts)
}

// ToChoice lowers a checked test-activity condition to an ASL Choice rule
// (without Next). Of facts it reads Count, Location and Run.
//
// Semantics match ToSQL: a comparison with an absent or null fact is false
// (every comparison is guarded by IsPresent, and for parameters by
// Not IsNull), ne/notIn/notStartsWith/... included; not negates that result;
// isEmpty is true for an absent or null parameter (or ""), and for the count
// of a port that was not activated. Variables are constants: a comparison
// on a variable is decided at compile time and lowered to a rule that is
// always true ({Variable: <run>.id, IsPresent: true}) or its Not. like is
// lowered to StringMatches (% only; _ has no equivalent and is refused by
// the check).
func (c *Checked) ToChoice(facts FactPaths) (asl.ChoiceRule, error) {
	if err := c.complete(TestMode); err != nil {
		return asl.ChoiceRule{}, err
	}
	ch := &chooser{facts: facts, loc: facts.Location, run: facts.Run}
	if ch.loc == nil {
		ch.loc = time.UTC
	}
	if ch.run == "" {
		ch.run = DefaultRunPath
	}
	return ch.node(c.Root)
}

type chooser struct {
	facts FactPaths
	loc   *time.Location
	run   string
}

// and conjoins rules, splicing nested conjunctions.
func and(rules ...asl.ChoiceRule) asl.ChoiceRule {
	var flat []asl.ChoiceRule
	for _, r := range rules {
		if r.And != nil && reflect.DeepEqual(r, asl.ChoiceRule{And: r.And}) {
			flat = append(flat, r.And...)
		} else {
			flat = append(flat, r)
		}
	}
	if len(flat) == 1 {
		return flat[0]
	}
	return asl.ChoiceRule{And: flat}
}

func or(rules ...asl.ChoiceRule) asl.ChoiceRule {
	if len(rules) == 1 {
		return rules[0]
	}
	return asl.ChoiceRule{Or: rules}
}

func not(r asl.ChoiceRule) asl.ChoiceRule { return asl.ChoiceRule{Not: &r} }

func present(path string) asl.ChoiceRule {
	return asl.ChoiceRule{Variable: path, IsPresent: asl.Bool(true)}
}

func isNull(path string) asl.ChoiceRule {
	return asl.ChoiceRule{Variable: path, IsNull: asl.Bool(true)}
}

// always is a rule that is always b. (IsPresent: false is avoided: some
// interpreters treat it as never true.)
func (ch *chooser) always(b bool) asl.ChoiceRule {
	r := present(ch.run + ".id")
	if b {
		return r
	}
	return not(r)
}

var plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (ch *chooser) paramPath(name string) (string, error) {
	if plainName.MatchString(name) {
		return ch.run + ".params." + name, nil
	}
	if strings.ContainsAny(name, `'\`) {
		return "", fmt.Errorf("condition: parameter name %q cannot be written as a JSONPath", name)
	}
	return ch.run + ".params['" + name + "']", nil
}

func (ch *chooser) node(n Node) (asl.ChoiceRule, error) {
	switch n := n.(type) {
	case *Junction:
		if len(n.Items) == 0 {
			return asl.ChoiceRule{}, errors.New("condition: empty all or any")
		}
		rules := make([]asl.ChoiceRule, len(n.Items))
		for i, item := range n.Items {
			r, err := ch.node(item)
			if err != nil {
				return asl.ChoiceRule{}, err
			}
			rules[i] = r
		}
		if n.Any {
			return or(rules...), nil
		}
		return and(rules...), nil
	case *Negation:
		r, err := ch.node(n.Item)
		if err != nil {
			return asl.ChoiceRule{}, err
		}
		return not(r), nil
	case *Weekday:
		rules := make([]asl.ChoiceRule, len(n.Days))
		for i, d := range n.Days {
			rules[i] = asl.ChoiceRule{Variable: ch.run + ".weekday", StringEquals: asl.Str(d)}
		}
		return or(rules...), nil
	case *Compare:
		return ch.fact(n)
	}
	return asl.ChoiceRule{}, errors.New("condition: population conditions need a population; a test activity compares run facts")
}

// fact lowers a comparison of a run fact.
func (ch *chooser) fact(n *Compare) (asl.ChoiceRule, error) {
	switch s := n.Subject.(type) {
	case *CountFact:
		if ch.facts.Count == nil {
			return asl.ChoiceRule{}, errors.New("condition: FactPaths.Count is nil")
		}
		path, err := ch.facts.Count(s.Port)
		if err != nil {
			name := s.Port.Activity
			if s.Port.Port != "" {
				name += "." + s.Port.Port
			}
			return asl.ChoiceRule{}, fmt.Errorf("condition: count %s: %w", name, err)
		}
		if n.Op == "isEmpty" || n.Op == "isNotEmpty" {
			r := not(present(path))
			if n.Op == "isNotEmpty" {
				r = present(path)
			}
			return r, nil
		}
		return ch.compare(path, n, []asl.ChoiceRule{present(path)})
	case *ParamFact:
		path, err := ch.paramPath(s.Name)
		if err != nil {
			return asl.ChoiceRule{}, err
		}
		if n.Op == "isEmpty" || n.Op == "isNotEmpty" {
			empty := []asl.ChoiceRule{not(present(path)), isNull(path)}
			if s.Type == campaign.TypeString {
				empty = append(empty, asl.ChoiceRule{Variable: path, StringEquals: asl.Str("")})
			}
			r := or(empty...)
			if n.Op == "isNotEmpty" {
				r = not(r)
			}
			return r, nil
		}
		return ch.compare(path, n, []asl.ChoiceRule{present(path), not(isNull(path))})
	case *VariableFact:
		vals, err := constants(n.Values)
		if err != nil {
			return asl.ChoiceRule{}, err
		}
		b, err := evalConst(s.Value, n.Op, vals)
		if err != nil {
			return asl.ChoiceRule{}, err
		}
		return ch.always(b), nil
	case *HourFact:
		return ch.compare(ch.run+".hour", n, nil)
	}
	return asl.ChoiceRule{}, errors.New("condition: field and link conditions need a population; a test activity compares run facts")
}

// constants returns the values of a comparison, which in a test activity
// are constants.
func constants(vals []Operand) ([]any, error) {
	out := make([]any, len(vals))
	for i, v := range vals {
		c, ok := v.(Const)
		if !ok {
			return nil, errors.New("condition: a test activity compares with literals and variables only")
		}
		out[i] = c.Value
	}
	return out, nil
}

// compare lowers the comparison n of the fact at path; guard
// rules (presence, non-null) must all hold for any comparison to be true.
func (ch *chooser) compare(path string, n *Compare, guard []asl.ChoiceRule) (asl.ChoiceRule, error) {
	typ, op := n.Type, n.Op
	vals, err := constants(n.Values)
	if err != nil {
		return asl.ChoiceRule{}, err
	}
	rule := func(op string, x any) (asl.ChoiceRule, error) { return ch.rule(path, typ, op, x) }
	eqs := func() (asl.ChoiceRule, error) {
		if len(vals) == 0 {
			return asl.ChoiceRule{}, fmt.Errorf("condition: %s needs at least one value", op)
		}
		rules := make([]asl.ChoiceRule, len(vals))
		for i, x := range vals {
			r, err := rule("eq", x)
			if err != nil {
				return asl.ChoiceRule{}, err
			}
			rules[i] = r
		}
		return or(rules...), nil
	}
	var r asl.ChoiceRule
	negate := false
	switch op {
	case "in", "notIn":
		r, err = eqs()
		negate = op == "notIn"
	case "between":
		if len(vals) != 2 {
			return asl.ChoiceRule{}, errors.New("condition: between takes two values")
		}
		lo, err1 := rule("gte", vals[0])
		hi, err2 := rule("lte", vals[1])
		r, err = and(lo, hi), errors.Join(err1, err2)
	default:
		if len(vals) != 1 {
			return asl.ChoiceRule{}, fmt.Errorf("condition: %s takes one value", op)
		}
		base := op
		switch op {
		case "ne":
			base = "eq"
		case "notStartsWith", "notContains", "notLike":
			base = strings.ToLower(op[3:4]) + op[4:]
		}
		negate = base != op
		r, err = rule(base, vals[0])
	}
	if err != nil {
		return asl.ChoiceRule{}, err
	}
	if negate {
		r = not(r)
	}
	return and(append(append([]asl.ChoiceRule(nil), guard...), r)...), nil
}

// rule is one positive comparison: eq gt gte lt lte startsWith contains like.
func (ch *chooser) rule(path, typ, op string, x any) (asl.ChoiceRule, error) {
	r := asl.ChoiceRule{Variable: path}
	switch op {
	case "startsWith", "contains", "like":
		s, ok := x.(string)
		if !ok {
			return r, fmt.Errorf("condition: %s needs a string, got %s", op, show(x))
		}
		var pattern string
		switch op {
		case "startsWith":
			pattern = escapeMatch(s) + "*"
		case "contains":
			pattern = "*" + escapeMatch(s) + "*"
		default:
			p, err := likeToMatch(s)
			if err != nil {
				return r, err
			}
			pattern = p
		}
		r.StringMatches = asl.Str(pattern)
		return r, nil
	}
	switch kind(typ) {
	case campaign.TypeString, campaign.TypeDate:
		s, ok := x.(string)
		if !ok {
			return r, fmt.Errorf("condition: %s needs a string, got %s", path, show(x))
		}
		setString(&r, op, s)
	case "numeric":
		var f float64
		switch n := x.(type) {
		case int64:
			f = float64(n)
		case float64:
			f = n
		default:
			return r, fmt.Errorf("condition: %s needs a number, got %s", path, show(x))
		}
		setNumber(&r, op, f)
	case campaign.TypeBoolean:
		b, ok := x.(bool)
		if !ok || op != "eq" {
			return r, fmt.Errorf("condition: %s needs true or false with eq, ne, in or notIn", path)
		}
		r.BooleanEquals = asl.Bool(b)
	case campaign.TypeTimestamp:
		s, ok := x.(string)
		if !ok {
			return r, fmt.Errorf("condition: %s needs a timestamp, got %s", path, show(x))
		}
		t, err := parseInstant(s, ch.loc)
		if err != nil {
			return r, fmt.Errorf("condition: %w", err)
		}
		setTimestamp(&r, op, t.UTC().Format(time.RFC3339Nano))
	default:
		return r, fmt.Errorf("condition: cannot compare a %s in a Choice rule", typ)
	}
	return r, nil
}

func setString(r *asl.ChoiceRule, op, s string) {
	p := asl.Str(s)
	switch op {
	case "eq":
		r.StringEquals = p
	case "gt":
		r.StringGreaterThan = p
	case "gte":
		r.StringGreaterThanEquals = p
	case "lt":
		r.StringLessThan = p
	case "lte":
		r.StringLessThanEquals = p
	}
}

func setNumber(r *asl.ChoiceRule, op string, f float64) {
	p := asl.Num(f)
	switch op {
	case "eq":
		r.NumericEquals = p
	case "gt":
		r.NumericGreaterThan = p
	case "gte":
		r.NumericGreaterThanEquals = p
	case "lt":
		r.NumericLessThan = p
	case "lte":
		r.NumericLessThanEquals = p
	}
}

func setTimestamp(r *asl.ChoiceRule, op, s string) {
	p := asl.Str(s)
	switch op {
	case "eq":
		r.TimestampEquals = p
	case "gt":
		r.TimestampGreaterThan = p
	case "gte":
		r.TimestampGreaterThanEquals = p
	case "lt":
		r.TimestampLessThan = p
	case "lte":
		r.TimestampLessThanEquals = p
	}
}

// escapeMatch escapes the StringMatches metacharacters * and \.
func escapeMatch(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`).Replace(s)
}

// likeToMatch turns a LIKE pattern using % into a StringMatches pattern.
func likeToMatch(p string) (string, error) {
	if strings.Contains(p, "_") {
		return "", fmt.Errorf("condition: like pattern %q: _ has no equivalent in a Choice rule", p)
	}
	parts := strings.Split(p, "%")
	for i := range parts {
		parts[i] = escapeMatch(parts[i])
	}
	return strings.Join(parts, "*"), nil
}

// evalConst decides `x op vals` for a compile-time x, with the semantics of
// ToSQL: a comparison with null is false; isEmpty is true for null and "".
func evalConst(x any, op string, vals []any) (bool, error) {
	switch op {
	case "isEmpty":
		return x == nil || x == "", nil
	case "isNotEmpty":
		return !(x == nil || x == ""), nil
	}
	if x == nil {
		return false, nil
	}
	switch op {
	case "in", "notIn":
		found, null := false, false
		for _, y := range vals {
			ok, err := constTest(x, "eq", y)
			if errors.Is(err, errNull) {
				null = true // as in SQL: x NOT IN (..., NULL) is not true
				continue
			}
			if err != nil {
				return false, err
			}
			found = found || ok
		}
		if op == "notIn" {
			return !found && !null, nil
		}
		return found, nil
	case "between":
		if len(vals) != 2 {
			return false, errors.New("condition: between takes two values")
		}
		lo, err1 := constTest(x, "gte", vals[0])
		hi, err2 := constTest(x, "lte", vals[1])
		if errors.Is(err1, errNull) || errors.Is(err2, errNull) {
			return false, nil
		}
		if err := errors.Join(err1, err2); err != nil {
			return false, err
		}
		return lo && hi, nil
	}
	if len(vals) != 1 {
		return false, fmt.Errorf("condition: %s takes one value", op)
	}
	base, negate := op, false
	switch op {
	case "ne":
		base, negate = "eq", true
	case "notStartsWith", "notContains", "notLike":
		base, negate = strings.ToLower(op[3:4])+op[4:], true
	}
	ok, err := constTest(x, base, vals[0])
	if errors.Is(err, errNull) {
		return false, nil // a comparison with null is false, negated or not
	}
	if err != nil {
		return false, err
	}
	return ok != negate, nil
}

// constTest decides one positive comparison `x op y` of non-null x: eq gt
// gte lt lte startsWith contains like. A null y gives errNull.
func constTest(x any, op string, y any) (bool, error) {
	if y == nil {
		return false, errNull
	}
	switch op {
	case "startsWith", "contains", "like":
		a, ok1 := x.(string)
		b, ok2 := y.(string)
		if !ok1 || !ok2 {
			return false, fmt.Errorf("condition: %s needs strings", op)
		}
		switch op {
		case "startsWith":
			return strings.HasPrefix(a, b), nil
		case "contains":
			return strings.Contains(a, b), nil
		}
		return likeMatch(a, b), nil
	}
	n, err := constCompare(x, y)
	if err != nil {
		return false, err
	}
	switch op {
	case "eq":
		return n == 0, nil
	case "gt":
		return n > 0, nil
	case "gte":
		return n >= 0, nil
	case "lt":
		return n < 0, nil
	case "lte":
		return n <= 0, nil
	}
	return false, fmt.Errorf("condition: unknown operator %q", op)
}

// constCompare orders two non-null constants of one kind: -1, 0 or 1
// (booleans: 0 when equal, else 1).
func constCompare(x, y any) (int, error) {
	switch a := x.(type) {
	case string:
		if b, ok := y.(string); ok {
			return strings.Compare(a, b), nil
		}
	case int64, float64:
		fa, _ := toFloat(a)
		if fb, ok := toFloat(y); ok {
			switch {
			case fa < fb:
				return -1, nil
			case fa > fb:
				return 1, nil
			}
			return 0, nil
		}
	case bool:
		if b, ok := y.(bool); ok {
			if a == b {
				return 0, nil
			}
			return 1, nil
		}
	}
	return 0, fmt.Errorf("condition: cannot compare %s with %s", show(x), show(y))
}

var errNull = errors.New("condition: comparison with null")

func toFloat(x any) (float64, bool) {
	switch n := x.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
