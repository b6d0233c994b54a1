package interp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// path is a parsed JSONPath: "$..." against the state data or "$$..."
// against the context object. It supports names, indices (negative from
// the end), wildcards, unions, slices, recursive descent, simple filters
// ([?(@.a > 1)], with && and ||) and a trailing length().
type path struct {
	src      string
	context  bool
	segs     []segment
	definite bool // a single value, not a list of matches
	length   bool // ends with .length()
}

type segKind uint8

const (
	segName segKind = iota
	segIndex
	segWild
	segNames
	segIndices
	segSlice
	segFilter
)

type segment struct {
	kind    segKind
	descend bool // preceded by ".."
	name    string
	index   int
	names   []string
	indices []int
	slice   [3]*int
	filter  *filterExpr
}

func parsePath(src string) (*path, error) {
	p := &path{src: src, definite: true}
	s := src
	switch {
	case strings.HasPrefix(s, "$$"):
		p.context = true
		s = s[2:]
	case strings.HasPrefix(s, "$"):
		s = s[1:]
	default:
		return nil, fmt.Errorf("invalid JSONPath %q: must start with '$'", src)
	}
	bad := func(why string) error { return fmt.Errorf("invalid JSONPath %q: %s", src, why) }
	for len(s) > 0 {
		if p.length {
			return nil, bad("length() must come last")
		}
		var sg segment
		switch {
		case strings.HasPrefix(s, ".."):
			sg.descend = true
			s = s[2:]
			if strings.HasPrefix(s, "[") {
				break
			}
			fallthrough
		case s[0] == '.':
			if !sg.descend {
				s = s[1:]
			}
			n := strings.IndexAny(s, ".[")
			if n < 0 {
				n = len(s)
			}
			name := s[:n]
			s = s[n:]
			switch {
			case name == "":
				return nil, bad("empty name")
			case name == "*":
				sg.kind = segWild
			case name == "length()" && !sg.descend:
				p.length = true
				continue
			default:
				sg.kind, sg.name = segName, name
			}
			p.segs = append(p.segs, sg)
			continue
		}
		if len(s) == 0 || s[0] != '[' {
			return nil, bad("unexpected " + strconv.Quote(s))
		}
		end, err := bracketEnd(s)
		if err != nil {
			return nil, bad(err.Error())
		}
		inner := strings.TrimSpace(s[1:end])
		s = s[end+1:]
		if err := parseBracket(inner, &sg); err != nil {
			return nil, bad(err.Error())
		}
		p.segs = append(p.segs, sg)
	}
	for _, sg := range p.segs {
		if sg.descend || (sg.kind != segName && sg.kind != segIndex) {
			p.definite = false
		}
	}
	return p, nil
}

// bracketEnd finds the ']' closing s[0]=='[' , skipping quoted text and
// nested brackets/parentheses.
func bracketEnd(s string) (int, error) {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '[', '(':
			depth++
		case ']', ')':
			depth--
			if depth == 0 {
				if c != ']' {
					return 0, fmt.Errorf("unbalanced brackets")
				}
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unclosed '['")
}

func parseBracket(inner string, sg *segment) error {
	switch {
	case inner == "*":
		sg.kind = segWild
		return nil
	case strings.HasPrefix(inner, "?(") && strings.HasSuffix(inner, ")"):
		f, err := parseFilter(inner[2 : len(inner)-1])
		if err != nil {
			return err
		}
		sg.kind, sg.filter = segFilter, f
		return nil
	case inner == "":
		return fmt.Errorf("empty brackets")
	case inner[0] == '\'' || inner[0] == '"':
		parts, err := splitTopLevel(inner, ',')
		if err != nil {
			return err
		}
		for _, part := range parts {
			name, err := unquote(strings.TrimSpace(part))
			if err != nil {
				return err
			}
			sg.names = append(sg.names, name)
		}
		if len(sg.names) == 1 {
			sg.kind, sg.name = segName, sg.names[0]
			sg.names = nil
		} else {
			sg.kind = segNames
		}
		return nil
	case strings.Contains(inner, ":"):
		parts := strings.Split(inner, ":")
		if len(parts) > 3 {
			return fmt.Errorf("invalid slice")
		}
		sg.kind = segSlice
		for i, part := range parts {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil {
				return fmt.Errorf("invalid slice bound %q", part)
			}
			sg.slice[i] = &n
		}
		if sg.slice[2] != nil && *sg.slice[2] == 0 {
			return fmt.Errorf("slice step cannot be 0")
		}
		return nil
	}
	for _, part := range strings.Split(inner, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("invalid index %q", part)
		}
		sg.indices = append(sg.indices, n)
	}
	if len(sg.indices) == 1 {
		sg.kind, sg.index = segIndex, sg.indices[0]
		sg.indices = nil
	} else {
		sg.kind = segIndices
	}
	return nil
}

func unquote(s string) (string, error) {
	if len(s) < 2 || s[0] != s[len(s)-1] || (s[0] != '\'' && s[0] != '"') {
		return "", fmt.Errorf("invalid quoted name %s", s)
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '\\' && i+1 < len(s)-1 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

// splitTopLevel splits on sep outside quotes and brackets.
func splitTopLevel(s string, sep byte) ([]string, error) {
	var parts []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '[', '(':
			depth++
		case ']', ')':
			depth--
		case sep:
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	if quote != 0 || depth != 0 {
		return nil, fmt.Errorf("unbalanced quotes or brackets")
	}
	return append(parts, s[start:]), nil
}

// get evaluates the path. A definite path yields its value; an indefinite
// one yields the array of matches. ok is false when a definite path
// matches nothing.
func (p *path) get(root any) (any, bool) {
	var v any
	if p.definite {
		cur := root
		for i := range p.segs {
			next, ok := p.segs[i].child(cur)
			if !ok {
				return nil, false
			}
			cur = next
		}
		v = cur
	} else {
		cur := []any{root}
		for i := range p.segs {
			cur = p.segs[i].apply(cur)
		}
		v = cur
	}
	if p.length {
		switch x := v.(type) {
		case []any:
			return intNumber(int64(len(x))), true
		case *object:
			return intNumber(int64(x.len())), true
		case string:
			return intNumber(int64(len([]rune(x)))), true
		}
		return nil, false
	}
	return v, true
}

// child applies a definite segment.
func (sg *segment) child(v any) (any, bool) {
	switch sg.kind {
	case segName:
		if o, ok := v.(*object); ok {
			return o.get(sg.name)
		}
	case segIndex:
		if a, ok := v.([]any); ok {
			i := sg.index
			if i < 0 {
				i += len(a)
			}
			if i >= 0 && i < len(a) {
				return a[i], true
			}
		}
	}
	return nil, false
}

func (sg *segment) apply(in []any) []any {
	var out []any
	for _, v := range in {
		if sg.descend {
			walk(v, func(n any) { out = sg.select1(n, out) })
		} else {
			out = sg.select1(v, out)
		}
	}
	if out == nil {
		out = []any{}
	}
	return out
}

func walk(v any, fn func(any)) {
	fn(v)
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	case *object:
		for _, e := range x.vals {
			walk(e, fn)
		}
	}
}

func (sg *segment) select1(v any, out []any) []any {
	switch sg.kind {
	case segName, segIndex:
		if c, ok := sg.child(v); ok {
			out = append(out, c)
		}
	case segWild:
		switch x := v.(type) {
		case []any:
			out = append(out, x...)
		case *object:
			out = append(out, x.vals...)
		}
	case segNames:
		if o, ok := v.(*object); ok {
			for _, n := range sg.names {
				if c, ok := o.get(n); ok {
					out = append(out, c)
				}
			}
		}
	case segIndices:
		if a, ok := v.([]any); ok {
			for _, i := range sg.indices {
				if i < 0 {
					i += len(a)
				}
				if i >= 0 && i < len(a) {
					out = append(out, a[i])
				}
			}
		}
	case segSlice:
		if a, ok := v.([]any); ok {
			out = appendSlice(out, a, sg.slice)
		}
	case segFilter:
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if sg.filter.match(e) {
					out = append(out, e)
				}
			}
		case *object:
			for _, e := range x.vals {
				if sg.filter.match(e) {
					out = append(out, e)
				}
			}
		}
	}
	return out
}

func appendSlice(out, a []any, sl [3]*int) []any {
	n := len(a)
	step := 1
	if sl[2] != nil {
		step = *sl[2]
	}
	norm := func(p *int, def int) int {
		if p == nil {
			return def
		}
		i := *p
		if i < 0 {
			i += n
		}
		return min(max(i, -1), n)
	}
	if step > 0 {
		start, end := max(norm(sl[0], 0), 0), norm(sl[1], n)
		for i := start; i < end; i += step {
			out = append(out, a[i])
		}
	} else {
		start, end := min(norm(sl[0], n-1), n-1), norm(sl[1], -1)
		for i := start; i > end && i >= 0; i += step {
			out = append(out, a[i])
		}
	}
	return out
}

// ---- filters ----

type filterExpr struct {
	or [][]filterCmp // disjunction of conjunctions
}

type filterCmp struct {
	lhs *path // relative to @
	op  string
	rhs any
}

func parseFilter(s string) (*filterExpr, error) {
	f := &filterExpr{}
	for _, disj := range strings.Split(s, "||") {
		var conj []filterCmp
		for _, term := range strings.Split(disj, "&&") {
			c, err := parseFilterCmp(strings.TrimSpace(term))
			if err != nil {
				return nil, err
			}
			conj = append(conj, c)
		}
		f.or = append(f.or, conj)
	}
	return f, nil
}

var filterOps = []string{"==", "!=", "<=", ">=", "<", ">"}

func parseFilterCmp(s string) (filterCmp, error) {
	var c filterCmp
	if !strings.HasPrefix(s, "@") {
		return c, fmt.Errorf("filter term %q must start with '@'", s)
	}
	lhs, rest := s, ""
	for i := 0; i < len(s); i++ {
		for _, op := range filterOps {
			if strings.HasPrefix(s[i:], op) {
				lhs, c.op, rest = strings.TrimSpace(s[:i]), op, strings.TrimSpace(s[i+len(op):])
				goto found
			}
		}
	}
found:
	p, err := parsePath("$" + lhs[1:])
	if err != nil {
		return c, err
	}
	c.lhs = p
	if c.op == "" {
		return c, nil
	}
	if rest == "" {
		return c, fmt.Errorf("filter term %q lacks a value", s)
	}
	if rest[0] == '\'' {
		v, err := unquote(rest)
		if err != nil {
			return c, err
		}
		c.rhs = v
		return c, nil
	}
	v, err := decodeJSON([]byte(rest))
	if err != nil {
		return c, fmt.Errorf("invalid filter value %q", rest)
	}
	if _, ok := v.(*object); ok {
		return c, fmt.Errorf("invalid filter value %q", rest)
	}
	c.rhs = v
	return c, nil
}

func (f *filterExpr) match(v any) bool {
	for _, conj := range f.or {
		all := true
		for i := range conj {
			if !conj[i].match(v) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (c *filterCmp) match(v any) bool {
	x, ok := c.lhs.get(v)
	if !ok {
		return false
	}
	switch c.op {
	case "":
		return true
	case "==":
		return equalJSON(x, c.rhs)
	case "!=":
		return !equalJSON(x, c.rhs)
	}
	var cmp int
	if a, ok := x.(json.Number); ok {
		b, ok := c.rhs.(json.Number)
		if !ok {
			return false
		}
		fa, _ := toFloat(a)
		fb, _ := toFloat(b)
		switch {
		case fa < fb:
			cmp = -1
		case fa > fb:
			cmp = 1
		}
	} else if a, ok := x.(string); ok {
		b, ok := c.rhs.(string)
		if !ok {
			return false
		}
		cmp = strings.Compare(a, b)
	} else {
		return false
	}
	switch c.op {
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	default:
		return cmp >= 0
	}
}

// ---- ResultPath ----

// refPath is a ResultPath: "$" or a chain of names and indices.
type refPath struct {
	src  string
	segs []segment
}

func parseRefPath(src string) (*refPath, error) {
	p, err := parsePath(src)
	if err != nil {
		return nil, err
	}
	if p.context || !p.definite || p.length {
		return nil, fmt.Errorf("invalid ResultPath %q: must be a reference path into the state input", src)
	}
	return &refPath{src: src, segs: p.segs}, nil
}

// set returns root with the value at the path replaced by v.
func (r *refPath) set(root, v any) (any, error) {
	return setAt(root, r.segs, v, r.src)
}

func setAt(cur any, segs []segment, v any, src string) (any, error) {
	if len(segs) == 0 {
		return v, nil
	}
	sg := &segs[0]
	switch sg.kind {
	case segName:
		var o *object
		switch x := cur.(type) {
		case *object:
			o = x
		case nil:
			o = newObject(1)
		default:
			return nil, &Failure{Name: ErrResultPathMatchFailure, Cause: fmt.Sprintf("Unable to apply ResultPath %q: the input at %q is a %s, not an object", src, sg.name, typeName(cur))}
		}
		old, _ := o.get(sg.name)
		nv, err := setAt(old, segs[1:], v, src)
		if err != nil {
			return nil, err
		}
		return o.with(sg.name, nv), nil
	case segIndex:
		a, ok := cur.([]any)
		i := sg.index
		if ok && i < 0 {
			i += len(a)
		}
		if !ok || i < 0 || i >= len(a) {
			return nil, &Failure{Name: ErrResultPathMatchFailure, Cause: fmt.Sprintf("Unable to apply ResultPath %q: index %d is not in the input", src, sg.index)}
		}
		nv, err := setAt(a[i], segs[1:], v, src)
		if err != nil {
			return nil, err
		}
		c := append([]any(nil), a...)
		c[i] = nv
		return c, nil
	}
	return nil, &Failure{Name: ErrResultPathMatchFailure, Cause: "unsupported ResultPath " + src}
}
