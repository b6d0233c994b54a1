package template

import (
	"bytes"
	"strconv"
	"strings"
	"unicode"

	"github.com/osteele/liquid/expressions"
	"github.com/osteele/liquid/values"
)

// Templates made only of text and {{ }} outputs (the usual subject, SMS and
// many email bodies) render through a flat program instead of the library's
// render tree: the same expressions and whitespace control, without its
// per-node allocations. Simple outputs (a dotted path, then `default:` with
// a literal or `raw`) are evaluated directly; the others with the library's
// expression evaluator. Tests compare both paths.

type segKind uint8

const (
	segText segKind = iota
	segOut
	segTrimLeft  // {{- : trim the whitespace before
	segTrimRight // -}} : trim the whitespace after
)

type segment struct {
	kind   segKind
	text   []byte // segText
	line   int
	escape bool
	expr   expressions.Expression // segOut
	path   []string               // segOut simple shape; nil when not simple
	defs   []any                  // `default:` literals, applied in order
}

// compileOutput builds the output segment of {{ args }}.
func compileOutput(args string, et []etok, line int, escape bool) (segment, error) {
	expr, err := expressions.Parse(args)
	if err != nil {
		return segment{}, err
	}
	seg := segment{kind: segOut, line: line, escape: escape, expr: expr}
	seg.path, seg.defs = simpleShape(et)
	return seg, nil
}

// simpleShape recognizes IDENT(.PROP)* followed by `| default: LITERAL` and
// `| raw` filters; path is nil otherwise.
func simpleShape(et []etok) (path []string, defs []any) {
	if len(et) == 0 || et[0].kind != kIdent {
		return nil, nil
	}
	i := 1
	path = []string{et[0].text}
	for i < len(et) && et[i].kind == kProp {
		path = append(path, et[i].text)
		i++
	}
	for i < len(et) {
		if et[i].kind != kPunct || et[i].text != "|" || i+1 >= len(et) {
			return nil, nil
		}
		switch f := et[i+1]; {
		case f.kind == kIdent && f.text == "raw":
			i += 2
		case f.kind == kKeyword && f.text == "default" && i+2 < len(et):
			lit, ok := literal(et[i+2])
			if !ok {
				return nil, nil
			}
			defs = append(defs, lit)
			i += 3
		default:
			return nil, nil
		}
	}
	return path, defs
}

// literal returns the value the library gives a literal token.
func literal(t etok) (any, bool) {
	switch t.kind {
	case kString:
		return t.text, true
	case kLit:
		switch t.text {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		return nil, true
	case kNum:
		if strings.Contains(t.text, ".") {
			f, err := strconv.ParseFloat(t.text, 64)
			return f, err == nil
		}
		n, err := strconv.ParseInt(t.text, 10, 64)
		return int(n), err == nil
	}
	return nil, false
}

// eval evaluates a simple output; ok is false when the value needs the
// library's semantics (a non-map on the path, a missing size/first/last).
func (s *segment) eval(vars map[string]any) (v any, ok bool) {
	v = vars[s.path[0]]
	for _, k := range s.path[1:] {
		switch m := v.(type) {
		case nil:
			continue // nil has no properties
		case map[string]any:
			x, found := m[k]
			if !found && (k == "size" || k == "first" || k == "last") {
				return nil, false
			}
			v = x
		default:
			return nil, false
		}
	}
	for _, d := range s.defs {
		if isDefaulted(v) {
			v = d
		}
	}
	return v, true
}

// isDefaulted reports whether `default` replaces v: nil, false, and empty
// strings, arrays and maps (values.IsEmpty).
func isDefaulted(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case int, int64, float64:
		return false
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	x := values.ToLiquid(v)
	return x == nil || x == false || values.IsEmpty(x)
}

// fastWriter appends to out with the library's whitespace control: the
// last write stays "pending" (out[pending:]) so that a following {{- can
// trim its trailing space, and -}} trims the start of the next write.
type fastWriter struct {
	out     []byte
	pending int
	trim    bool
	max     int
}

func (w *fastWriter) reset(max int) {
	w.out, w.pending, w.trim, w.max = w.out[:0], 0, false, max
}

func (w *fastWriter) Write(b []byte) (int, error) {
	if w.trim {
		b = bytes.TrimLeftFunc(b, unicode.IsSpace)
		w.trim = false
	} else {
		w.pending = len(w.out)
	}
	if len(w.out)+len(b) > w.max {
		return 0, ErrOutputTooLarge
	}
	w.out = append(w.out, b...)
	return len(b), nil
}

func (w *fastWriter) trimLeft() {
	w.out = bytes.TrimRightFunc(w.out[:len(w.out):len(w.out)], unicode.IsSpace)
	if len(w.out) < w.pending {
		w.out = w.out[:w.pending]
	}
	w.pending = len(w.out)
}

// renderFast runs the flat program.
func (t *Template) renderFast(w *fastWriter, vars map[string]any) (err error) {
	var ectx expressions.Context
	i := 0
	defer func() {
		if r := recover(); r != nil {
			err = lineError(t.name, t.prog[i].line, panicError(r), t.maxOutput)
		}
	}()
	for ; i < len(t.prog); i++ {
		s := &t.prog[i]
		var err error
		switch s.kind {
		case segText:
			_, err = w.Write(s.text)
		case segTrimLeft:
			w.trimLeft()
		case segTrimRight:
			w.trim = true
		case segOut:
			v, ok := any(nil), false
			if s.path != nil {
				v, ok = s.eval(vars)
			}
			if !ok {
				if ectx == nil {
					ectx = expressions.NewContext(vars, engine.Config.Config)
				}
				v, err = s.expr.Evaluate(ectx)
			}
			if err == nil {
				err = writeValue(w, v, s.escape)
			}
		}
		if err != nil {
			return lineError(t.name, s.line, err, t.maxOutput)
		}
	}
	return nil
}
