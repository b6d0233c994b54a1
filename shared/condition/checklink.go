package condition

import (
	"fmt"
	"strings"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// resolve finds a column of sc by name, or a column reached through
// cardinality-one links (`store.city`). It returns a message naming what
// would be valid when the name does not resolve.
func (k *checker) resolve(name string, sc scope) (*FieldRef, string) {
	return resolveField(k.env.Catalog, name, sc)
}

func resolveField(cat *campaign.Catalog, name string, sc scope) (*FieldRef, string) {
	if col, ok := sc.schema.Column(name); ok {
		return &FieldRef{Name: name, Column: col}, ""
	}
	first, rest, dotted := strings.Cut(name, ".")
	if dotted && sc.table != nil {
		if link, ok := sc.table.Link(first); ok {
			if link.Cardinality != "one" {
				return nil, fmt.Sprintf("link %q of %s is one-to-many: a field can only go through a cardinality-one link; use { link: %s, exists: <condition> } or an aggregate", first, sc.table.Name, first)
			}
			target, ok := lookupTable(cat, link.Table)
			if !ok {
				return nil, fmt.Sprintf("link %q names unknown table %q", first, link.Table)
			}
			for _, pair := range link.OnPairs() {
				if _, ok := sc.schema.Column(pair[0]); !ok {
					return nil, fmt.Sprintf("link %q joins on column %q, which %s do not have", first, pair[0], sc.desc)
				}
			}
			if len(target.Columns) == 0 {
				return nil, fmt.Sprintf("table %q declares no columns in the catalog; declare them to use it in conditions", target.Name)
			}
			inner, msg := resolveField(cat, rest, linkedScope(link, target))
			if msg != "" {
				return nil, msg
			}
			inner.Name = name
			inner.Hops = append([]Hop{{Link: link, Table: target}}, inner.Hops...)
			return inner, ""
		}
		if s := campaign.Suggest(first, sc.table.LinkNames()); s != "" && !sc.hasColumnLike(name) {
			return nil, fmt.Sprintf("unknown link %q of %s in %q (did you mean %q?)", first, sc.table.Name, name, s)
		}
	}
	msg := fmt.Sprintf("unknown column %q in %s", name, sc.desc)
	if s := campaign.DidYouMean(name, sc.schema.ColumnNames()); s != "" {
		return nil, msg + s
	}
	if sc.table != nil {
		if l, ok := sc.table.Link(name); ok {
			return nil, fmt.Sprintf("%q is a link of %s, not a column: test it with { link: %s, exists: ... }, or name a column through it such as %s.<column>", name, sc.table.Name, l.Name, l.Name)
		}
	}
	if names := sc.schema.ColumnNames(); len(names) > 0 && len(names) <= 20 {
		msg += "; columns: " + strings.Join(names, ", ")
	}
	if dotted && sc.table == nil {
		msg += " (file rows have no links)"
	} else if dotted && sc.table != nil && len(sc.table.Links) > 0 {
		msg += "; links: " + strings.Join(sc.table.LinkNames(), ", ")
	}
	return nil, msg
}

func (sc scope) hasColumnLike(name string) bool {
	return campaign.Suggest(name, sc.schema.ColumnNames()) != ""
}

func lookupTable(cat *campaign.Catalog, name string) (*campaign.Table, bool) {
	if cat == nil {
		return nil, false
	}
	return cat.Table(name)
}

func (k *checker) fieldSubject(path, name string, sc scope) (subjectInfo, *FieldRef, bool) {
	if sc.unknown {
		k.incomplete(unknownColumns)
		return subjectInfo{desc: fmt.Sprintf("column %q", name)}, nil, true
	}
	ref, msg := k.resolve(name, sc)
	if msg != "" {
		k.errorf(path, "%s", msg)
		return subjectInfo{}, nil, false
	}
	return subjectInfo{typ: ref.Column.Type, enum: ref.Column.Enum, desc: fmt.Sprintf("%s column %q", ref.Column.Type, name)}, ref, true
}

func (k *checker) link(path string, c *Condition, sc scope) Node {
	n := 0
	for _, set := range []bool{c.Exists != nil, c.NotExists != nil, c.Aggregate != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		k.errorf(path, "a link condition needs exactly one of exists, notExists or aggregate")
	}
	if c.Aggregate == "" {
		for _, key := range []string{"field", "op", "value", "where"} {
			if c.keys()[key] {
				k.errorf(campaign.JoinPath(path, key), "%s is only used with aggregate in a link condition; exists and notExists take a condition", key)
			}
		}
	}
	link, inner, ok := k.linkTarget(path, c, sc)
	if !ok {
		return nil
	}
	var exists, notExists Node
	if c.Exists != nil && c.Exists.Cond != nil {
		exists = k.cond(campaign.JoinPath(path, "exists"), c.Exists.Cond, inner)
	}
	if c.NotExists != nil && c.NotExists.Cond != nil {
		notExists = k.cond(campaign.JoinPath(path, "notExists"), c.NotExists.Cond, inner)
	}
	if c.Aggregate == "" || n != 1 {
		if c.Exists != nil {
			return &LinkExists{Link: link, Table: inner.table, Where: exists}
		}
		return &LinkExists{Link: link, Table: inner.table, Negated: true, Where: notExists}
	}
	ap := campaign.JoinPath(path, "aggregate")
	if !contains(Aggregates, c.Aggregate) {
		k.errorf(ap, "unknown aggregate %q%s; valid: %s", c.Aggregate, campaign.DidYouMean(c.Aggregate, Aggregates), strings.Join(Aggregates, ", "))
		return nil
	}
	var where Node
	if c.Where != nil {
		where = k.cond(campaign.JoinPath(path, "where"), c.Where, inner)
	}
	subj, col, ok := k.aggregateSubject(path, c, inner)
	if !ok {
		return nil
	}
	agg := &AggregateRef{Link: link, Table: inner.table, Func: c.Aggregate, Column: col, Where: where, Type: subj.typ}
	return &Compare{Subject: agg, Type: subj.typ, Op: c.Op, Values: k.comparison(path, c.Op, c.Value, subj, sc)}
}

// linkTarget resolves the link of a link condition and returns the scope of
// the linked rows, checking the limits on links.
func (k *checker) linkTarget(path string, c *Condition, sc scope) (campaign.Link, scope, bool) {
	lp := campaign.JoinPath(path, "link")
	if c.Link == "" {
		k.errorf(path, "missing link: name the link of %s to follow", sc.desc)
		return campaign.Link{}, scope{}, false
	}
	if sc.table == nil {
		if !sc.unknown || sc.schema.Dimension == "" {
			k.errorf(lp, "%s have no links; links belong to catalog tables", sc.desc)
		} else {
			k.incomplete(unknownColumns)
		}
		return campaign.Link{}, scope{}, false
	}
	link, ok := sc.table.Link(c.Link)
	if !ok {
		k.errorf(lp, "unknown link %q of %s%s", c.Link, sc.table.Name, suggestOrList(c.Link, sc.table.LinkNames()))
		return campaign.Link{}, scope{}, false
	}
	target, ok := lookupTable(k.env.Catalog, link.Table)
	if !ok {
		k.errorf(lp, "link %q names unknown table %q", c.Link, link.Table)
		return campaign.Link{}, scope{}, false
	}
	if sc.unknown {
		k.incomplete(unknownColumns)
	} else {
		for _, pair := range link.OnPairs() {
			if _, ok := sc.schema.Column(pair[0]); !ok {
				k.errorf(lp, "link %q joins on column %q, which %s do not have", c.Link, pair[0], sc.desc)
			}
		}
	}
	if len(target.Columns) == 0 && (c.Aggregate != "" && c.Aggregate != "count" || c.Where != nil || (c.Exists != nil && c.Exists.Cond != nil) || (c.NotExists != nil && c.NotExists.Cond != nil)) {
		k.errorf(lp, "table %q declares no columns in the catalog; declare them to use it in conditions", target.Name)
		return campaign.Link{}, scope{}, false
	}
	inner := linkedScope(link, target)
	inner.depth = sc.depth + 1
	if k.links++; k.links == MaxLinks+1 {
		k.errorf(lp, "a condition follows at most %d links (each is a subquery at run time); split it across activities", MaxLinks)
	}
	if inner.depth > MaxLinkDepth {
		k.errorf(lp, "links nest at most %d deep in a condition; this one is %d deep", MaxLinkDepth, inner.depth)
		return campaign.Link{}, scope{}, false
	}
	return link, inner, true
}

// aggregateSubject checks the aggregate's field and returns its result and
// column (nil for count(*)).
func (k *checker) aggregateSubject(path string, c *Condition, inner scope) (subjectInfo, *campaign.Column, bool) {
	fp := campaign.JoinPath(path, "field")
	desc := fmt.Sprintf("%s(%s)", c.Aggregate, c.Field)
	if c.Field == "" {
		if c.Aggregate != "count" {
			k.errorf(path, "aggregate %s needs field: a column of %s", c.Aggregate, inner.table.Name)
			return subjectInfo{}, nil, false
		}
		return subjectInfo{typ: campaign.TypeInteger, desc: fmt.Sprintf("count of %s", inner.desc)}, nil, true
	}
	col, ok := inner.schema.Column(c.Field)
	if !ok {
		k.errorf(fp, "unknown column %q in %s%s", c.Field, inner.desc, suggestOrList(c.Field, inner.schema.ColumnNames()))
		return subjectInfo{}, nil, false
	}
	switch c.Aggregate {
	case "count", "countDistinct":
		if col.Type == campaign.TypeJSON {
			k.errorf(fp, "%s cannot count json column %q", c.Aggregate, c.Field)
			return subjectInfo{}, nil, false
		}
		return subjectInfo{typ: campaign.TypeInteger, desc: desc}, &col, true
	case "sum", "avg":
		if !isNumeric(col.Type) {
			k.errorf(fp, "%s needs a numeric column (integer, number, decimal); %q is %s", c.Aggregate, c.Field, article(col.Type))
			return subjectInfo{}, nil, false
		}
		typ := col.Type
		if c.Aggregate == "avg" {
			typ = campaign.TypeNumber
		}
		return subjectInfo{typ: typ, desc: desc}, &col, true
	default: // min, max
		if !isNumeric(col.Type) && !isTime(col.Type) && col.Type != campaign.TypeString {
			k.errorf(fp, "%s needs a numeric, date, timestamp or string column; %q is %s", c.Aggregate, c.Field, article(col.Type))
			return subjectInfo{}, nil, false
		}
		return subjectInfo{typ: col.Type, desc: desc}, &col, true
	}
}

func suggestOrList(name string, valid []string) string {
	if s := campaign.DidYouMean(name, valid); s != "" {
		return s
	}
	if len(valid) == 0 {
		return "; it has none"
	}
	if len(valid) <= 15 {
		return "; valid: " + strings.Join(valid, ", ")
	}
	return ""
}

func (k *checker) inAudience(path, name string, sc scope) Node {
	ap := campaign.JoinPath(path, "inAudience")
	if sc.table == nil {
		if !sc.unknown || sc.schema.Dimension == "" {
			k.errorf(ap, "%s are not a catalog dimension; saved audiences hold dimension rows", sc.desc)
		} else {
			k.incomplete(unknownColumns)
		}
		return nil
	}
	if sc.unknown {
		k.incomplete(unknownColumns)
	} else {
		for _, key := range sc.table.Key {
			if _, ok := sc.schema.Column(key); !ok {
				k.errorf(ap, "inAudience matches on the key of %s, but %s do not have column %q", sc.table.Name, sc.desc, key)
			}
		}
	}
	node := &InAudience{Name: name, Table: sc.table}
	s, known := k.env.Audiences[name]
	if !known {
		k.r.Warnf(ap, "audience %q is not saved by this campaign%s; it must exist when the campaign runs", name, campaign.DidYouMean(name, sortedKeys(k.env.Audiences)))
		return node
	}
	if s.Dimension != "" && s.Dimension != sc.table.Name {
		k.errorf(ap, "audience %q holds %s rows, not %s rows", name, s.Dimension, sc.table.Name)
	}
	return node
}

// fact checks a run fact of a test activity.
func (k *checker) fact(path, form string, c *Condition, sc scope) Node {
	switch form {
	case "count":
		act, port, _ := strings.Cut(c.Count, ".")
		tr := campaign.Transition{Activity: act, Port: port}
		if k.env.Count != nil {
			if err := k.env.Count(tr); err != nil {
				k.errorf(campaign.JoinPath(path, "count"), "%v", err)
			}
		}
		vals := k.comparison(path, c.Op, c.Value, subjectInfo{typ: campaign.TypeInteger, strict: true, desc: fmt.Sprintf("the row count of %s", c.Count)}, sc)
		return &Compare{Subject: &CountFact{Port: tr}, Type: campaign.TypeInteger, Op: c.Op, Values: vals}
	case "param":
		typ, ok := k.env.Params[c.Param]
		if !ok {
			k.errorf(campaign.JoinPath(path, "param"), "unknown parameter %q%s%s", c.Param, campaign.DidYouMean(c.Param, sortedKeys(k.env.Params)), declared(k.env.Params))
			return nil
		}
		vals := k.comparison(path, c.Op, c.Value, subjectInfo{typ: typ, desc: fmt.Sprintf("%s parameter %q", typ, c.Param), wildcardOnly: true}, sc)
		return &Compare{Subject: &ParamFact{Name: c.Param, Type: typ}, Type: typ, Op: c.Op, Values: vals}
	case "variable":
		return k.variableFact(path, c, sc)
	case "weekday":
		wp := campaign.JoinPath(path, "weekday")
		if len(c.Weekday) == 0 {
			k.errorf(wp, "weekday needs at least one day: %s", strings.Join(Weekdays, ", "))
		}
		for i, d := range c.Weekday {
			if !contains(Weekdays, d) {
				k.errorf(campaign.JoinPath(wp, i), "unknown weekday %q%s; valid: %s", d, campaign.DidYouMean(d, Weekdays), strings.Join(Weekdays, ", "))
			}
		}
		return &Weekday{Days: c.Weekday}
	}
	// hour
	vals := k.comparison(campaign.JoinPath(path, "hour"), c.Hour.Op, c.Hour.Value, subjectInfo{
		typ: campaign.TypeInteger, strict: true, lo: 0, hi: 23, desc: "hour",
		ops: []string{"eq", "ne", "gt", "gte", "lt", "lte", "in", "notIn", "between"},
	}, sc)
	return &Compare{Subject: &HourFact{}, Type: campaign.TypeInteger, Op: c.Hour.Op, Values: vals}
}

func (k *checker) variableFact(path string, c *Condition, sc scope) Node {
	x, ok := k.variable(campaign.JoinPath(path, "variable"), c.Variable)
	if !ok {
		return nil
	}
	if _, isList := x.([]any); isList {
		k.errorf(campaign.JoinPath(path, "variable"), "variable %q is a list; a test compares a single value", c.Variable)
		return nil
	}
	typ := constType(x)
	desc := fmt.Sprintf("variable %q", c.Variable)
	if typ != "" {
		desc = fmt.Sprintf("%s variable %q", typ, c.Variable)
	}
	vals := k.comparison(path, c.Op, c.Value, subjectInfo{typ: typ, desc: desc}, sc)
	return &Compare{Subject: &VariableFact{Name: c.Variable, Value: x}, Type: typ, Op: c.Op, Values: vals}
}
