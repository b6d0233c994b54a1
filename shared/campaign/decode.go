package campaign

import (
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// NodeDecoder is implemented by types with a polymorphic YAML form
// (a condition, a value, a string-or-list).
type NodeDecoder interface {
	DecodeNode(d *Decoder, n *yaml.Node, path string)
}

// Decoder decodes YAML nodes into Go values strictly: unknown fields, wrong
// kinds and missing required fields become diagnostics, and decoding goes on
// so that every problem is reported at once.
type Decoder struct {
	Reporter
}

// NewDecoder returns a decoder reporting into diags through src.
func NewDecoder(src *Source, diags *Diagnostics) *Decoder {
	return &Decoder{Reporter{Src: src, Diags: diags}}
}

// Decode decodes n (found at path) into out, a non-nil pointer.
func (d *Decoder) Decode(n *yaml.Node, path string, out any) {
	d.decode(n, path, reflect.ValueOf(out).Elem(), nil)
}

// DecodeSkipping decodes a mapping into the struct out, ignoring the keys in skip
// (they belong to an enclosing model).
func (d *Decoder) DecodeSkipping(n *yaml.Node, path string, out any, skip map[string]bool) {
	d.decode(n, path, reflect.ValueOf(out).Elem(), skip)
}

var nodeDecoderType = reflect.TypeOf((*NodeDecoder)(nil)).Elem()

func (d *Decoder) decode(n *yaml.Node, path string, v reflect.Value, skip map[string]bool) {
	if n == nil {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecoderType) {
		v.Addr().Interface().(NodeDecoder).DecodeNode(d, n, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, path, v.Elem(), skip)
	case reflect.Struct:
		d.decodeStruct(n, path, v, skip)
	case reflect.Map:
		if !d.expect(n, path, yaml.MappingNode) {
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := JoinPath(path, k)
			if seen[k] {
				d.Errorf(p, "duplicate key %q", k)
				continue
			}
			seen[k] = true
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(n.Content[i+1], p, ev, nil)
			v.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if !d.expect(n, path, yaml.SequenceNode) {
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, JoinPath(path, i), s.Index(i), nil)
		}
		v.Set(s)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.Errorf(path, "%s", cleanYAMLError(err))
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(normalizeAny(x)))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode || isNull(n) {
			d.Errorf(path, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.Errorf(path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.Errorf(path, "expected an integer, got %s", describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil {
			d.Errorf(path, "expected a number, got %s", describe(n))
			return
		}
		v.SetFloat(f)
	default:
		d.Errorf(path, "cannot decode into %s", v.Type())
	}
}

// field is a decodable struct field.
type field struct {
	name     string
	index    []int
	required bool
}

// Fields lists the decodable fields of a struct type by their JSON names,
// flattening embedded structs as encoding/json does.
func fieldsOf(t reflect.Type) []field {
	var out []field
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name := strings.Split(tag, ",")[0]
			if name == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			idx := append(append([]int{}, index...), i)
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if name == "" {
				name = f.Name
			}
			req := false
			for _, o := range strings.Split(f.Tag.Get("jsonschema"), ",") {
				if o == "required" {
					req = true
				}
			}
			out = append(out, field{name: name, index: idx, required: req})
		}
	}
	walk(t, nil)
	return out
}

func (d *Decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value, skip map[string]bool) {
	if !d.expect(n, path, yaml.MappingNode) {
		return
	}
	fields := fieldsOf(v.Type())
	byName := map[string]field{}
	var names []string
	for _, f := range fields {
		byName[f.name] = f
		names = append(names, f.name)
	}
	for k := range skip {
		names = append(names, k)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		p := JoinPath(path, k)
		if seen[k] {
			d.Errorf(p, "duplicate key %q", k)
			continue
		}
		seen[k] = true
		if skip[k] {
			continue
		}
		f, ok := byName[k]
		if !ok {
			d.Errorf(p, "unknown field %q%s", k, suggestOrList(k, names))
			continue
		}
		d.decode(n.Content[i+1], p, v.FieldByIndex(f.index), nil)
	}
	for _, f := range fields {
		if f.required && !seen[f.name] {
			d.Errorf(path, "missing required field %q", f.name)
		}
	}
}

func (d *Decoder) expect(n *yaml.Node, path string, kind yaml.Kind) bool {
	if n.Kind == kind {
		return true
	}
	want := map[yaml.Kind]string{yaml.MappingNode: "a mapping (key: value)", yaml.SequenceNode: "a list"}[kind]
	d.Errorf(path, "expected %s, got %s", want, describe(n))
	return false
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!str":
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "an alias"
}

// normalizeAny turns map[string]any trees from yaml into JSON-compatible values.
func normalizeAny(x any) any {
	switch t := x.(type) {
	case map[string]any:
		for k, v := range t {
			t[k] = normalizeAny(v)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, v := range t {
			m[toString(k)] = normalizeAny(v)
		}
		return m
	case []any:
		for i, v := range t {
			t[i] = normalizeAny(v)
		}
		return t
	}
	return x
}

func toString(x any) string {
	if s, ok := x.(string); ok {
		return s
	}
	b, _ := yaml.Marshal(x)
	return strings.TrimSpace(string(b))
}

func suggestOrList(name string, valid []string) string {
	if s := Suggest(name, valid); s != "" {
		return ` (did you mean "` + s + `"?)`
	}
	if len(valid) > 0 && len(valid) <= 12 {
		return "; valid: " + strings.Join(valid, ", ")
	}
	return ""
}
