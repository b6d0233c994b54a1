package interp

import (
	"fmt"
	"strings"
)

// tmpl is a compiled payload template (Parameters, ResultSelector,
// ItemSelector): static parts are kept as values, "key.$" fields hold a
// path or an intrinsic call.
type tmpl struct {
	static bool
	lit    any
	keys   []string // object
	vals   []*tmpl
	items  []*tmpl // array
	isArr  bool
	path   *path
	call   *iCall
	field  string
}

func compileTemplate(v any) (*tmpl, error) {
	switch x := v.(type) {
	case *object:
		t := &tmpl{static: true}
		for i, k := range x.keys {
			var sub *tmpl
			if strings.HasSuffix(k, ".$") {
				s, ok := x.vals[i].(string)
				if !ok {
					return nil, fmt.Errorf("field %q must be a string path or intrinsic function", k)
				}
				var err error
				if sub, err = compileDynamic(s); err != nil {
					return nil, fmt.Errorf("field %q: %v", k, err)
				}
				sub.field = k
				k = strings.TrimSuffix(k, ".$")
			} else {
				var err error
				if sub, err = compileTemplate(x.vals[i]); err != nil {
					return nil, err
				}
			}
			t.keys = append(t.keys, k)
			t.vals = append(t.vals, sub)
			t.static = t.static && sub.static
		}
		if t.static {
			return &tmpl{static: true, lit: v}, nil
		}
		return t, nil
	case []any:
		t := &tmpl{static: true, isArr: true}
		for _, e := range x {
			sub, err := compileTemplate(e)
			if err != nil {
				return nil, err
			}
			t.items = append(t.items, sub)
			t.static = t.static && sub.static
		}
		if t.static {
			return &tmpl{static: true, lit: v}, nil
		}
		return t, nil
	}
	return &tmpl{static: true, lit: v}, nil
}

func compileDynamic(s string) (*tmpl, error) {
	if strings.HasPrefix(s, "$") {
		p, err := parsePath(s)
		if err != nil {
			return nil, err
		}
		return &tmpl{path: p}, nil
	}
	c, err := parseIntrinsic(s)
	if err != nil {
		return nil, err
	}
	return &tmpl{call: c}, nil
}

func (t *tmpl) eval(ev *evalEnv, input any) (any, error) {
	switch {
	case t.static:
		return t.lit, nil
	case t.path != nil:
		v, err := ev.resolve(t.path, input)
		if err != nil {
			return nil, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("The JSONPath %q specified for the field %q could not be found in the input", t.path.src, t.field)}
		}
		return v, nil
	case t.call != nil:
		return t.call.eval(ev, input)
	case t.isArr:
		out := make([]any, len(t.items))
		for i, it := range t.items {
			v, err := it.eval(ev, input)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	o := newObject(len(t.keys))
	for i, k := range t.keys {
		v, err := t.vals[i].eval(ev, input)
		if err != nil {
			return nil, err
		}
		o.put(k, v)
	}
	return o, nil
}
