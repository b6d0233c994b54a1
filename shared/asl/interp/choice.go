package interp

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

type choiceOp uint8

const (
	opAnd choiceOp = iota
	opOr
	opNot
	opStringEq
	opStringLt
	opStringGt
	opStringLe
	opStringGe
	opStringMatches
	opNumEq
	opNumLt
	opNumGt
	opNumLe
	opNumGe
	opBoolEq
	opTsEq
	opTsLt
	opTsGt
	opTsLe
	opTsGe
	opIsNull
	opIsPresent
	opIsNumeric
	opIsString
	opIsBoolean
	opIsTimestamp
)

type opInfo struct {
	op   choiceOp
	kind byte // 's' string, 'n' number, 'b' boolean, 't' timestamp, '?' type test
}

var choiceOps = map[string]opInfo{
	"StringEquals": {opStringEq, 's'}, "StringLessThan": {opStringLt, 's'}, "StringGreaterThan": {opStringGt, 's'},
	"StringLessThanEquals": {opStringLe, 's'}, "StringGreaterThanEquals": {opStringGe, 's'}, "StringMatches": {opStringMatches, 's'},
	"NumericEquals": {opNumEq, 'n'}, "NumericLessThan": {opNumLt, 'n'}, "NumericGreaterThan": {opNumGt, 'n'},
	"NumericLessThanEquals": {opNumLe, 'n'}, "NumericGreaterThanEquals": {opNumGe, 'n'},
	"BooleanEquals":   {opBoolEq, 'b'},
	"TimestampEquals": {opTsEq, 't'}, "TimestampLessThan": {opTsLt, 't'}, "TimestampGreaterThan": {opTsGt, 't'},
	"TimestampLessThanEquals": {opTsLe, 't'}, "TimestampGreaterThanEquals": {opTsGe, 't'},
	"IsNull": {opIsNull, '?'}, "IsPresent": {opIsPresent, '?'}, "IsNumeric": {opIsNumeric, '?'},
	"IsString": {opIsString, '?'}, "IsBoolean": {opIsBoolean, '?'}, "IsTimestamp": {opIsTimestamp, '?'},
}

// choiceRule is a compiled Choice rule.
type choiceRule struct {
	next     string
	op       choiceOp
	kind     byte
	subs     []*choiceRule
	variable *path
	operand  any   // literal: string, float64, bool or time.Time
	opPath   *path // for the *Path variants
	opName   string
}

func compileChoice(o *object, top bool) (*choiceRule, error) {
	r := &choiceRule{}
	allowed := map[string]bool{"Variable": true, "Comment": true}
	if top {
		allowed["Next"] = true
		n, ok := o.get("Next")
		s, isStr := n.(string)
		if !ok || !isStr || s == "" {
			return nil, fmt.Errorf("choice rule lacks Next")
		}
		r.next = s
	} else if _, ok := o.get("Next"); ok {
		return nil, fmt.Errorf("nested choice rule must not have Next")
	}
	var opKey string
	for _, k := range o.keys {
		if allowed[k] {
			continue
		}
		if opKey != "" {
			return nil, fmt.Errorf("choice rule has both %s and %s", opKey, k)
		}
		opKey = k
	}
	val, _ := o.get(opKey)
	switch opKey {
	case "":
		return nil, fmt.Errorf("choice rule has no comparison operator")
	case "And", "Or":
		arr, ok := val.([]any)
		if !ok || len(arr) == 0 {
			return nil, fmt.Errorf("%s must be a non-empty array", opKey)
		}
		r.op = opAnd
		if opKey == "Or" {
			r.op = opOr
		}
		for _, e := range arr {
			eo, ok := e.(*object)
			if !ok {
				return nil, fmt.Errorf("%s entries must be objects", opKey)
			}
			sub, err := compileChoice(eo, false)
			if err != nil {
				return nil, err
			}
			r.subs = append(r.subs, sub)
		}
		return r, nil
	case "Not":
		eo, ok := val.(*object)
		if !ok {
			return nil, fmt.Errorf("Not must be an object")
		}
		sub, err := compileChoice(eo, false)
		if err != nil {
			return nil, err
		}
		r.op, r.subs = opNot, []*choiceRule{sub}
		return r, nil
	}
	vs, ok := o.get("Variable")
	vstr, isStr := vs.(string)
	if !ok || !isStr {
		return nil, fmt.Errorf("choice rule with %s lacks Variable", opKey)
	}
	vp, err := parsePath(vstr)
	if err != nil {
		return nil, err
	}
	r.variable = vp
	r.opName = opKey
	isPath := strings.HasSuffix(opKey, "Path")
	info, ok := choiceOps[strings.TrimSuffix(opKey, "Path")]
	if !ok || (isPath && (info.kind == '?' || info.op == opStringMatches)) {
		return nil, fmt.Errorf("unknown choice operator %q", opKey)
	}
	r.op, r.kind = info.op, info.kind
	if isPath {
		s, ok := val.(string)
		if !ok {
			return nil, fmt.Errorf("%s must be a path string", opKey)
		}
		if r.opPath, err = parsePath(s); err != nil {
			return nil, err
		}
		return r, nil
	}
	bad := func(want string) error { return fmt.Errorf("%s must be %s", opKey, want) }
	switch info.kind {
	case 's':
		s, ok := val.(string)
		if !ok {
			return nil, bad("a string")
		}
		r.operand = s
	case 'n':
		f, ok := toFloat(val)
		if !ok {
			return nil, bad("a number")
		}
		r.operand = f
	case 'b', '?':
		b, ok := val.(bool)
		if !ok {
			return nil, bad("a boolean")
		}
		r.operand = b
	case 't':
		s, ok := val.(string)
		t, tok := parseTimestamp(s)
		if !ok || !tok {
			return nil, bad("an RFC 3339 timestamp")
		}
		r.operand = t
	}
	return r, nil
}

func parseTimestamp(s string) (time.Time, bool) {
	if len(s) < 20 || s[10] != 'T' {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// eval reports whether the rule matches input.
func (r *choiceRule) eval(ev *evalEnv, input any) (bool, error) {
	switch r.op {
	case opAnd:
		for _, s := range r.subs {
			ok, err := s.eval(ev, input)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case opOr:
		for _, s := range r.subs {
			ok, err := s.eval(ev, input)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case opNot:
		ok, err := r.subs[0].eval(ev, input)
		return !ok, err
	}
	root := input
	if r.variable.context {
		root = ev.contextObject()
	}
	v, found := r.variable.get(root)
	if r.op == opIsPresent {
		return found == r.operand.(bool), nil
	}
	if !found {
		return false, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("Invalid path %q: the choice state's condition path references an invalid value", r.variable.src)}
	}
	if r.kind == '?' {
		var is bool
		switch r.op {
		case opIsNull:
			is = v == nil
		case opIsNumeric:
			_, is = v.(json.Number)
		case opIsString:
			_, is = v.(string)
		case opIsBoolean:
			_, is = v.(bool)
		case opIsTimestamp:
			s, ok := v.(string)
			_, is = parseTimestamp(s)
			is = ok && is
		}
		return is == r.operand.(bool), nil
	}
	operand := r.operand
	if r.opPath != nil {
		ov, err := ev.resolve(r.opPath, input)
		if err != nil {
			return false, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("Invalid path %q in %s: the choice state's condition path references an invalid value", r.opPath.src, r.opName)}
		}
		switch r.kind {
		case 's':
			operand = ov
		case 'n':
			f, ok := toFloat(ov)
			if !ok {
				return false, nil
			}
			operand = f
		case 'b':
			operand = ov
		case 't':
			s, _ := ov.(string)
			t, ok := parseTimestamp(s)
			if !ok {
				return false, nil
			}
			operand = t
		}
	}
	switch r.kind {
	case 's':
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		if r.op == opStringMatches {
			return wildcardMatch(b, a), nil
		}
		return compareOp(r.op-opStringEq, strings.Compare(a, b)), nil
	case 'n':
		a, ok := toFloat(v)
		if !ok {
			return false, nil
		}
		b := operand.(float64)
		c := 0
		if a < b {
			c = -1
		} else if a > b {
			c = 1
		}
		return compareOp(r.op-opNumEq, c), nil
	case 'b':
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b, nil
	case 't':
		s, ok := v.(string)
		if !ok {
			return false, nil
		}
		a, ok := parseTimestamp(s)
		if !ok {
			return false, nil
		}
		return compareOp(r.op-opTsEq, a.Compare(operand.(time.Time))), nil
	}
	return false, nil
}

// compareOp applies the n-th of Equals, LessThan, GreaterThan,
// LessThanEquals, GreaterThanEquals to a comparison result.
func compareOp(n choiceOp, c int) bool {
	switch n {
	case 0:
		return c == 0
	case 1:
		return c < 0
	case 2:
		return c > 0
	case 3:
		return c <= 0
	default:
		return c >= 0
	}
}

// wildcardMatch implements StringMatches: '*' matches any run of
// characters; "\*" and "\\" are a literal star and backslash.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		c    rune
	}
	var toks []tok
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		switch {
		case pr[i] == '\\' && i+1 < len(pr):
			i++
			toks = append(toks, tok{c: pr[i]})
		case pr[i] == '*':
			toks = append(toks, tok{star: true})
		default:
			toks = append(toks, tok{c: pr[i]})
		}
	}
	sr := []rune(s)
	// Iterative glob matching with backtracking to the last star.
	ti, si, starT, starS := 0, 0, -1, 0
	for si < len(sr) {
		switch {
		case ti < len(toks) && toks[ti].star:
			starT, starS = ti, si
			ti++
		case ti < len(toks) && toks[ti].c == sr[si]:
			ti++
			si++
		case starT >= 0:
			starS++
			ti, si = starT+1, starS
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
