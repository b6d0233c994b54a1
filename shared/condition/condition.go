// Package condition holds the rule-builder condition language: its AST and
// decoding, type checking against the catalog (Check, which returns a
// Checked tree with every name resolved), and lowering of that tree to a
// DuckDB boolean expression with bound parameters (Checked.ToSQL) and, for
// test activities, to an ASL Choice rule (Checked.ToChoice). ToSQL and
// ToChoice check a raw condition once and lower it.
//
// One semantics everywhere: a comparison with null (a missing value, no
// linked row, an absent parameter or fact) is false, whatever the operator;
// `not` negates that two-valued result; isEmpty is true for null and for the
// empty string.
package condition

import (
	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Condition is one node of a condition tree. Exactly one form is set:
// all / any / not; field+op(+value), with part or within for date parts
// and windows; link with exists, notExists or
// aggregate+op+value; inAudience; or, in a test activity, a run fact
// (count, param, variable, weekday, hour) with op+value.
type Condition struct {
	All []Condition `json:"all,omitempty"`
	Any []Condition `json:"any,omitempty"`
	Not *Condition  `json:"not,omitempty"`

	Field string `json:"field,omitempty" jsonschema:"description=column of the population, or link.column through a cardinality-one link"`
	Op    string `json:"op,omitempty" jsonschema:"enum=eq,enum=ne,enum=gt,enum=gte,enum=lt,enum=lte,enum=in,enum=notIn,enum=isEmpty,enum=isNotEmpty,enum=startsWith,enum=notStartsWith,enum=contains,enum=notContains,enum=like,enum=notLike,enum=between,enum=anniversary,enum=inLast,enum=inNext"`
	Value *Value `json:"value,omitempty"`
	// Date parts and windows of a date or timestamp field.
	Part   string `json:"part,omitempty" jsonschema:"enum=year,enum=month,enum=day,enum=weekday,description=compare a part of a date or timestamp field: year; month 1-12; day of month 1-31; weekday mon..sun"`
	Within string `json:"within,omitempty" jsonschema:"pattern=^[0-9]+[dw]$,description=days of a window from today (anniversary: default 0d = today; inLast / inNext: required) such as 7d or 2w"`

	Link      string     `json:"link,omitempty"`
	Exists    *Exists    `json:"exists,omitempty"`
	NotExists *Exists    `json:"notExists,omitempty"`
	Aggregate string     `json:"aggregate,omitempty" jsonschema:"enum=count,enum=countDistinct,enum=sum,enum=avg,enum=min,enum=max"`
	Where     *Condition `json:"where,omitempty"`

	InAudience string `json:"inAudience,omitempty"`

	// Run facts, only in a test activity.
	Count    string      `json:"count,omitempty" jsonschema:"description=activityId or activityId.port"`
	Param    string      `json:"param,omitempty"`
	Variable string      `json:"variable,omitempty"`
	Weekday  []string    `json:"weekday,omitempty"`
	Hour     *Comparison `json:"hour,omitempty"`
}

// Comparison is an op and a value, as in `hour: { op: lt, value: 12 }`.
type Comparison struct {
	Op    string `json:"op" jsonschema:"required"`
	Value *Value `json:"value,omitempty"`
}

// Exists is `true` (any linked row) or a condition on linked rows.
type Exists struct {
	Any  bool
	Cond *Condition
}

// DecodeNode implements campaign.NodeDecoder.
func (e *Exists) DecodeNode(d *campaign.Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		if n.Value != "true" {
			d.Errorf(path, "exists/notExists takes true or a condition; false is not meaningful (use the other one)")
		}
		e.Any = true
		return
	}
	e.Cond = &Condition{}
	d.Decode(n, path, e.Cond)
}

// Value is a literal (scalar or list) or a reference: {param}, {variable},
// {field}, {ago}, {ahead}, {now: true}.
type Value struct {
	Literal  any      // string, int64, float64, bool, nil
	List     []*Value // for in / notIn / between
	IsList   bool
	Param    string
	Variable string
	Field    string
	Ago      string
	Ahead    string
	Now      bool

	// Quoted is true when a scalar was written as a quoted string in YAML.
	Quoted bool
}

// DecodeNode implements campaign.NodeDecoder.
func (v *Value) DecodeNode(d *campaign.Decoder, n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.SequenceNode:
		v.IsList = true
		for i, c := range n.Content {
			item := &Value{}
			item.DecodeNode(d, c, campaign.JoinPath(path, i))
			if item.IsList {
				d.Errorf(campaign.JoinPath(path, i), "nested lists are not allowed in a value")
			}
			v.List = append(v.List, item)
		}
	case yaml.MappingNode:
		var ref struct {
			Param    string `json:"param,omitempty"`
			Variable string `json:"variable,omitempty"`
			Field    string `json:"field,omitempty"`
			Ago      string `json:"ago,omitempty"`
			Ahead    string `json:"ahead,omitempty"`
			Now      bool   `json:"now,omitempty"`
		}
		d.Decode(n, path, &ref)
		v.Param, v.Variable, v.Field, v.Ago, v.Ahead, v.Now = ref.Param, ref.Variable, ref.Field, ref.Ago, ref.Ahead, ref.Now
		set := 0
		for _, s := range []string{ref.Param, ref.Variable, ref.Field, ref.Ago, ref.Ahead} {
			if s != "" {
				set++
			}
		}
		if ref.Now {
			set++
		}
		if set != 1 {
			d.Errorf(path, "a value reference needs exactly one of param, variable, field, ago, ahead, now")
		}
	case yaml.ScalarNode:
		v.Quoted = n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0
		if n.Tag == "!!timestamp" {
			// Keep the text: an unquoted 2026-01-31T09:00:00 is in the
			// campaign time zone, which YAML would turn into UTC.
			v.Literal = n.Value
			return
		}
		var x any
		if err := n.Decode(&x); err != nil {
			d.Errorf(path, "invalid value: %v", err)
			return
		}
		switch t := x.(type) {
		case int:
			v.Literal = int64(t)
		case int64, float64, bool, string, nil:
			v.Literal = t
		default:
			d.Errorf(path, "invalid value %s: out of range", n.Value)
		}
	default:
		d.Errorf(path, "invalid value")
	}
}

// IsRef reports whether the value references something instead of being a literal.
func (v *Value) IsRef() bool {
	return v.Param != "" || v.Variable != "" || v.Field != "" || v.Ago != "" || v.Ahead != "" || v.Now
}

// Decode decodes a condition node found at path.
func Decode(d *campaign.Decoder, n *yaml.Node, path string) *Condition {
	c := &Condition{}
	d.Decode(n, path, c)
	return c
}
