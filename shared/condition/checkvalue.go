package condition

import (
	"fmt"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// comparison checks op and value against subj, and returns the values'
// operands. path is the node holding op and value.
func (k *checker) comparison(path, op string, v *Value, subj subjectInfo, sc scope) []Operand {
	opPath := campaign.JoinPath(path, "op")
	valPath := campaign.JoinPath(path, "value")
	ops := subj.operators()
	if op == "" {
		k.errorf(path, "missing op; valid for %s: %s", subj.desc, strings.Join(ops, ", "))
		return nil
	}
	if contains(DateOps, op) {
		k.errorf(opPath, "operator %s applies to a date or timestamp field, not to %s; valid: %s", op, subj.desc, strings.Join(ops, ", "))
		return nil
	}
	if !contains(Operators, op) {
		k.errorf(opPath, "unknown operator %q%s; valid: %s", op, campaign.DidYouMean(op, append(append([]string(nil), Operators...), DateOps...)), strings.Join(ops, ", "))
		return nil
	}
	if !contains(ops, op) {
		hint := ""
		if subj.ops == nil && isTime(subj.typ) {
			hint = "; on dates also " + strings.Join(DateOps, ", ") + " (with within), or compare a part: " + strings.Join(DateParts, ", ") + " (e.g. part: month, op: eq, value: 12)"
		}
		k.errorf(opPath, "operator %s does not apply to %s; valid: %s%s", op, subj.desc, strings.Join(ops, ", "), hint)
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
