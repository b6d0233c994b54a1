package condition

import (
	"strings"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Refs are the names a condition reads.
type Refs struct {
	Columns   []string // population columns (including link join columns)
	Tables    []string // catalog tables read through links, to stage
	Audiences []string
	Params    []string
	Variables []string
	Counts    []string // test activity: activity[.port] of count facts
}

// References lists, sorted, what c reads when evaluated on s. Names that do
// not resolve are skipped (Check reports them).
func References(c *Condition, s campaign.Schema, cat *campaign.Catalog) Refs {
	w := refWalker{cat: cat, sets: map[string]map[string]bool{}}
	w.cond(c, newScope(cat, s), true)
	get := func(k string) []string { return sortedKeys(w.sets[k]) }
	return Refs{Columns: get("col"), Tables: get("table"), Audiences: get("aud"), Params: get("param"), Variables: get("var"), Counts: get("count")}
}

type refWalker struct {
	cat  *campaign.Catalog
	sets map[string]map[string]bool
}

func (w *refWalker) add(set, name string) {
	if w.sets[set] == nil {
		w.sets[set] = map[string]bool{}
	}
	w.sets[set][name] = true
}

// field records a field read from sc; top says sc is the population.
func (w *refWalker) field(name string, sc scope, top bool) {
	if col, ok := sc.schema.Column(name); ok {
		if top {
			w.add("col", col.Name)
		}
		return
	}
	first, rest, ok := strings.Cut(name, ".")
	if !ok || sc.table == nil {
		return
	}
	if link, ok := sc.table.Link(first); ok {
		if t, ok := lookupTable(w.cat, link.Table); ok {
			w.link(link, top)
			w.field(rest, linkedScope(link, t), false)
		}
	}
}

func (w *refWalker) link(link campaign.Link, top bool) {
	w.add("table", link.Table)
	if top {
		for _, p := range link.OnPairs() {
			w.add("col", p[0])
		}
	}
}

func (w *refWalker) value(v *Value, sc scope, top bool) {
	if v == nil {
		return
	}
	for _, item := range v.List {
		w.value(item, sc, top)
	}
	switch {
	case v.Param != "":
		w.add("param", v.Param)
	case v.Variable != "":
		w.add("var", v.Variable)
	case v.Field != "":
		w.field(v.Field, sc, top)
	}
}

func (w *refWalker) cond(c *Condition, sc scope, top bool) {
	if c == nil {
		return
	}
	for i := range c.All {
		w.cond(&c.All[i], sc, top)
	}
	for i := range c.Any {
		w.cond(&c.Any[i], sc, top)
	}
	w.cond(c.Not, sc, top)
	w.value(c.Value, sc, top)
	if c.Hour != nil {
		w.value(c.Hour.Value, sc, top)
	}
	switch {
	case c.Link != "":
		if sc.table == nil {
			return
		}
		link, ok := sc.table.Link(c.Link)
		if !ok {
			return
		}
		t, ok := lookupTable(w.cat, link.Table)
		if !ok {
			return
		}
		w.link(link, top)
		inner := linkedScope(link, t)
		for _, e := range []*Exists{c.Exists, c.NotExists} {
			if e != nil {
				w.cond(e.Cond, inner, false)
			}
		}
		w.cond(c.Where, inner, false)
	case c.Field != "":
		w.field(c.Field, sc, top)
		if top && (c.Part != "" || contains(DateOps, c.Op)) {
			if col, ok := zoneColumn(sc); ok {
				w.add("col", col.Name) // dates in the recipient's zone
			}
		}
	case c.InAudience != "":
		w.add("aud", c.InAudience)
		if sc.table != nil && top {
			for _, k := range sc.table.Key {
				w.add("col", k)
			}
		}
	case c.Param != "":
		w.add("param", c.Param)
	case c.Variable != "":
		w.add("var", c.Variable)
	case c.Count != "":
		w.add("count", c.Count)
	}
}
