package template

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Field is a name in scope with its type: a column type of the catalog
// (string, integer, number, decimal, boolean, date, timestamp, json).
// Only json fields admit deeper paths (recipient.address.city).
type Field struct {
	Name string
	Type string
}

// Scope lists the names a template may read. campaign.id, campaign.name,
// run.id and message.unsubscribeUrl are always in scope.
type Scope struct {
	Recipient []Field // columns of the population, enrichment included
	Params    []Field // campaign parameters
	Variables []Field // campaign variables
}

// fixedFields are the fields of the roots that do not depend on the campaign.
var fixedFields = map[string][]Field{
	"campaign": {{"id", campaign.TypeString}, {"name", campaign.TypeString}},
	"run":      {{"id", campaign.TypeString}},
	"message":  {{"unsubscribeUrl", campaign.TypeString}},
}

// fields returns the fields of a root.
func (s Scope) fields(root string) ([]Field, bool) {
	switch root {
	case "recipient":
		return s.Recipient, true
	case "params":
		return s.Params, true
	case "variables":
		return s.Variables, true
	}
	f, ok := fixedFields[root]
	return f, ok
}

// FieldsOf infers fields from constant values such as campaign variables:
// maps and slices are json, times are timestamps.
func FieldsOf(values map[string]any) []Field {
	out := make([]Field, 0, len(values))
	for k, v := range values {
		t := campaign.TypeString
		switch v.(type) {
		case map[string]any, []any, map[any]any:
			t = campaign.TypeJSON
		case int, int64, int32:
			t = campaign.TypeInteger
		case float64, float32:
			t = campaign.TypeNumber
		case bool:
			t = campaign.TypeBoolean
		case time.Time:
			t = campaign.TypeTimestamp
		}
		out = append(out, Field{Name: k, Type: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// pseudoProps are properties Liquid computes on any value.
var pseudoProps = map[string]bool{"size": true}

// Check reports each name the template reads that is not in scope, with a
// suggestion when a close name exists. The result is sorted by line.
func Check(t *Template, scope Scope) []Error {
	var errs []Error
	seen := map[string]bool{}
	add := func(line int, format string, args ...any) {
		e := Error{Template: t.name, Line: line, Msg: fmt.Sprintf(format, args...)}
		if k := fmt.Sprint(e.Line, e.Msg); !seen[k] {
			seen[k] = true
			errs = append(errs, e)
		}
	}
	for _, r := range t.refs {
		root := r.Path[0]
		fields, ok := scope.fields(root)
		if !ok {
			add(r.Line, "unknown name %q%s", r.String(), suggestRoot(root, scope))
			continue
		}
		if len(r.Path) == 1 {
			if !r.Dynamic {
				add(r.Line, "%q is a namespace, not a value: use %s.<name>", root, root)
			}
			continue
		}
		name := r.Path[1]
		var f *Field
		names := make([]string, len(fields))
		for i := range fields {
			names[i] = fields[i].Name
			if fields[i].Name == name {
				f = &fields[i]
			}
		}
		if f == nil {
			hint := ""
			if s := campaign.Suggest(name, names); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", root+"."+s)
			}
			add(r.Line, "unknown name %q%s", r.String(), hint)
			continue
		}
		if len(r.Path) > 2 && f.Type != campaign.TypeJSON && !(len(r.Path) == 3 && pseudoProps[r.Path[2]]) {
			typ := f.Type
			if typ == "" {
				typ = "value"
			}
			add(r.Line, "unknown name %q: %q is a %s, not json, and has no field %q",
				r.String(), root+"."+name, typ, r.Path[2])
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return errs
}

// suggestRoot proposes a name for an unknown root: the qualified name when
// it is a field of some root (firstName -> recipient.firstName), else the
// closest root, else the closest qualified field.
func suggestRoot(name string, scope Scope) string {
	var qualified, last []string
	for _, root := range roots {
		fields, _ := scope.fields(root)
		for _, f := range fields {
			if strings.EqualFold(f.Name, name) {
				return fmt.Sprintf(" (did you mean %q?)", root+"."+f.Name)
			}
			qualified = append(qualified, root+"."+f.Name)
			last = append(last, f.Name)
		}
	}
	if s := campaign.Suggest(name, roots); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	if s := campaign.Suggest(name, last); s != "" {
		for i, l := range last {
			if l == s {
				return fmt.Sprintf(" (did you mean %q?)", qualified[i])
			}
		}
	}
	return ""
}

// CampaignScope is the scope of a campaign's message templates: the columns
// of the recipient population, the declared parameters and the variables.
func CampaignScope(c *campaign.Campaign, recipient campaign.Schema) Scope {
	var s Scope
	for _, col := range recipient.Columns {
		s.Recipient = append(s.Recipient, Field{Name: col.Name, Type: col.Type})
	}
	for _, name := range campaign.SortedKeys(c.Parameters) {
		s.Params = append(s.Params, Field{Name: name, Type: c.Parameters[name].Type})
	}
	s.Variables = FieldsOf(c.Variables)
	return s
}
