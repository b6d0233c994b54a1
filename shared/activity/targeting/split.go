package targeting

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

// Segment is one split segment.
type Segment struct {
	Name      string               `json:"name" jsonschema:"required"`
	Where     *condition.Condition `json:"where,omitempty"`
	Code      string               `json:"code,omitempty"`
	Limit     *Limit               `json:"limit,omitempty"`
	SkipEmpty bool                 `json:"skipEmpty,omitempty"`
}

// Limit caps a segment's size.
type Limit struct {
	Count   *int64           `json:"count,omitempty"`
	Percent *float64         `json:"percent,omitempty"`
	OrderBy []activity.Order `json:"orderBy,omitempty"`
	Random  bool             `json:"random,omitempty"`
}

// SplitConfig splits a population into ordered segments.
type SplitConfig struct {
	Segments []Segment `json:"segments" jsonschema:"required"`
	Others   bool      `json:"others,omitempty"`
	Overlap  bool      `json:"overlap,omitempty"`
	Single   bool      `json:"single,omitempty"`
}

// split is the split type.
func split(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[SplitConfig]{
		Type: "split", Family: activity.Targeting, Function: "Split",
		Summary: "Ordered segments with conditions and limits.",
		Inputs:  activity.Inputs{Min: 1, Max: 1},
		Ports:   splitPorts,
		Check:   checkSplit,
		Output: func(c *activity.Check, x *SplitConfig, in []campaign.Schema) map[string]campaign.Schema {
			var s campaign.Schema
			if len(in) > 0 {
				s = in[0]
			}
			out := map[string]campaign.Schema{}
			if x.Single {
				out["out"] = s.With(campaign.Column{Name: "segmentCode", Type: campaign.TypeString})
				return out
			}
			for _, seg := range x.Segments {
				out[seg.Name] = s
			}
			out["others"] = s
			return out
		},
		Lower: func(l activity.Lowerer, x *SplitConfig) error {
			return lowerInputs(l, onAthenaInput(l.Catalog()), len(splitPorts(x)))
		},
		Run:      run(d, runSplit),
		Describe: describeSplit,
		OnAthena: true,
	})
}

// splitPorts are a split's ports: out (single), else a port per segment
// and others.
func splitPorts(x *SplitConfig) []string {
	if x.Single {
		return []string{"out"}
	}
	var ports []string
	for _, s := range x.Segments {
		ports = append(ports, s.Name)
	}
	if x.Others {
		ports = append(ports, "others")
	}
	return ports
}

func checkSplit(c *activity.Check, x *SplitConfig) {
	in := c.Input(0)
	if len(x.Segments) == 0 {
		c.Errorf(c.Path("segments"), "split needs at least one segment")
	}
	names := map[string]bool{}
	for i, s := range x.Segments {
		sp := campaign.JoinPath(c.Path("segments"), i)
		if s.Name == "others" || s.Name == "out" {
			c.Errorf(campaign.JoinPath(sp, "name"), "segment name %q is reserved", s.Name)
		} else if !campaign.ValidPortName(s.Name) {
			c.Errorf(campaign.JoinPath(sp, "name"), "segment name %q must match [a-zA-Z0-9_]{1,64}: it names a port", s.Name)
		}
		if names[s.Name] {
			c.Errorf(campaign.JoinPath(sp, "name"), "duplicate segment %q", s.Name)
		}
		names[s.Name] = true
		c.CheckCondition(campaign.JoinPath(sp, "where"), s.Where, in)
		athenaCheck(c, campaign.JoinPath(sp, "where"), s.Where, in)
		if l := s.Limit; l != nil {
			lp := campaign.JoinPath(sp, "limit")
			if (l.Count == nil) == (l.Percent == nil) {
				c.Errorf(lp, "a limit needs exactly one of count or percent")
			}
			if l.Count != nil && *l.Count < 0 {
				c.Errorf(campaign.JoinPath(lp, "count"), "count must be 0 or more")
			}
			if l.Percent != nil && (*l.Percent < 0 || *l.Percent > 100) {
				c.Errorf(campaign.JoinPath(lp, "percent"), "percent must be between 0 and 100")
			}
			if l.Random && len(l.OrderBy) > 0 {
				c.Errorf(lp, "a limit takes orderBy or random, not both")
			}
			c.RequireOrder(in, l.OrderBy, campaign.JoinPath(lp, "orderBy"))
		}
	}
	if x.Single && x.Others {
		// others rows keep an empty segmentCode on the single port.
		c.Warnf(c.Path("others"), "with single: true, rows in no segment are on `out` with an empty segmentCode")
	}
}

// split assigns rows to ordered segments.
//
// Without overlap a row goes to the first segment whose where it matches and
// whose limit still has room: each segment sees the rows no earlier segment
// took, and rows a limit cut stay available to later segments and others.
// With overlap every segment is evaluated on all rows independently.
//
// A limit keeps the first rows of the segment's candidates (the rows that
// reach it and match its where) in orderBy order (nulls last, then the row
// key); without orderBy, or with random: true, in a pseudo-random order
// seeded by the run id, the activity and the segment name. percent is a
// percentage of those candidates, rounded down (exact decimal arithmetic).
//
// Ports: one per segment (skipEmpty: not activated when empty), others (rows
// in no segment); or, with single, `out` with a segmentCode column (the
// segment's code, default its name; with others, rows in no segment have a
// null code; with overlap, a row is repeated for each segment it is in).
func runSplit(t *task, x *SplitConfig) (*activity.Result, error) {
	switch t.Req.Phase {
	case PhasePlan:
		return planSplit(t, x)
	case PhaseFinish:
		return finishSplit(t, x)
	}
	ins, err := t.inputs()
	if err != nil {
		return nil, err
	}
	s, err := newSplitter(t, x, ins[0])
	if err != nil {
		return nil, err
	}
	for i, seg := range x.Segments {
		if err := s.assignSegment(i, seg); err != nil {
			return nil, err
		}
	}
	counts, err := s.counts()
	if err != nil {
		return nil, err
	}
	res := t.result()
	if x.Single {
		return res, s.writeSingle(res)
	}
	if err := s.writeSegments(res, counts); err != nil {
		return nil, err
	}
	return res, nil
}

// planSplit writes the Athena statements of a split, one per port. Each is
// self-contained: the input numbered in output order (base), then a CTE
// per segment up to its own with the rows it takes (those of the earlier
// segments excluded, as assignSegment does on DuckDB), then its rows;
// others is the rows in no segment. With single, one statement over every
// segment's CTE selects each row with its segment's code (writeSingle's
// select, the CTEs standing for assign).
func planSplit(t *task, x *SplitConfig) (*activity.Result, error) {
	ports := splitPorts(x)
	res, done, err := t.athenaReady(ports...)
	if err != nil || done {
		return res, err
	}
	in, rel, err := t.athenaInput(0)
	if err != nil {
		return nil, err
	}
	s := &splitter{d: condition.Trino, t: t, x: x, in: in, src: q("base") + " AS b", r: "b", rid: col("b", ridCol)}
	with := &sqlb{}
	with.add("WITH " + q("base") + " AS (SELECT " + selectCols("t", in.Columns) + ", row_number() OVER (ORDER BY " +
		orderIn(condition.Trino, "t", in) + ") AS " + q(ridCol) + " FROM " + rel + " AS t)")
	var segs []string // the segments' CTEs so far
	assigned := func() string {
		if len(segs) == 0 {
			return ""
		}
		return "(SELECT " + q(ridCol) + " FROM " + strings.Join(segs, " UNION ALL SELECT "+q(ridCol)+" FROM ") + ")"
	}
	rows := "SELECT " + selectCols("b", in.Columns) + " FROM " + q("base") + " AS b WHERE "
	for i, seg := range x.Segments {
		cte := q(fmt.Sprintf("seg%d", i))
		with.add(", " + cte + " AS (SELECT " + q(ridCol))
		if err := s.segmentRows(with, seg, assigned()); err != nil {
			return nil, err
		}
		with.add(")")
		segs = append(segs, cte)
		if x.Single {
			continue
		}
		stmt := (&sqlb{}).add(with.String(), with.args...)
		stmt.add(" " + rows + "EXISTS (SELECT 1 FROM " + cte + " AS a WHERE " + col("a", ridCol) + " = " + s.rid + ")")
		if res.Extra[queryKey(i)], err = t.unload(seg.Name, stmt.String(), stmt.args); err != nil {
			return nil, err
		}
	}
	if x.Single {
		stmt := (&sqlb{}).add(with.String(), with.args...)
		stmt.add(" ")
		s.codedRows(stmt)
		assign := make([]string, len(segs))
		for i, cte := range segs {
			assign[i] = fmt.Sprintf("SELECT %s, CAST(%d AS INTEGER) AS seg FROM %s", q(ridCol), i, cte)
		}
		stmt.add(" FROM " + q("base") + " AS b" + s.singleJoin() + "(" + strings.Join(assign, " UNION ALL ") + ") AS a ON " +
			col("a", ridCol) + " = " + s.rid)
		if res.Extra[queryKey(0)], err = t.unload("out", stmt.String(), stmt.args); err != nil {
			return nil, err
		}
		return res, nil
	}
	if x.Others {
		stmt := (&sqlb{}).add(with.String(), with.args...)
		stmt.add(" " + rows + "NOT EXISTS (SELECT 1 FROM " + assigned() + " AS a WHERE " + col("a", ridCol) + " = " + s.rid + ")")
		if res.Extra[queryKey(len(x.Segments))], err = t.unload("others", stmt.String(), stmt.args); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// finishSplit records Athena's output of each port; an empty segment with
// skipEmpty is not activated. With single, out has the input's columns
// then segmentCode, as on DuckDB.
func finishSplit(t *task, x *SplitConfig) (*activity.Result, error) {
	if x.Single {
		in, err := t.inputShape(0)
		if err != nil {
			return nil, err
		}
		in.Columns = append(withoutCode(in.Columns), campaign.Column{Name: "segmentCode", Type: campaign.TypeString})
		res := t.result()
		_, err = t.recordUnload(res, "out", in)
		return res, err
	}
	return t.recordUnloads(splitPorts(x), func(res *activity.Result, port string, m *dataset.Manifest) {
		for _, seg := range x.Segments {
			if seg.Name == port && seg.SkipEmpty && m.Rows == 0 {
				res.Ports[port] = nil
			}
		}
	})
}

// splitter is one split task: the input rows numbered in output order (rid)
// in base, and their segments in assign (rid, seg).
type splitter struct {
	d      condition.Dialect
	t      *task
	x      *SplitConfig
	in     pop
	base   string
	assign string
	// src yields a row's rid as b.rid and its columns under the alias r.
	src, r string
	rid    string
	unique bool
	// passThrough: a narrow input, whose own files the outputs read.
	passThrough bool
	// own is a narrow input's own columns, which base holds (ownOK).
	own   pop
	ownOK bool
}

// newSplitter numbers the input's rows and creates the empty assignment.
func newSplitter(t *task, x *SplitConfig, in pop) (*splitter, error) {
	s := &splitter{t: t, x: x, base: t.scratchTable("base"), rid: col("b", ridCol)}
	unique, err := t.uniqueKey(in)
	if err != nil {
		return nil, err
	}
	s.unique = unique && splitByKey
	in.unique = s.unique // each output holds each input row at most once
	s.in = in
	// thru is what outputs and key numbering read: for a narrow input, its own
	// files with the base's columns as placeholders (the writes take them
	// from the base), so that only segment conditions join the base.
	thru := in.View
	if s.unique && in.Base != nil && in.ref != "" {
		thru, s.passThrough = t.View("thru"), true
		if _, err := t.Engine.StagePassThrough(t.Ctx, thru, in.ref); err != nil {
			return nil, err
		}
	}
	if err := s.number(thru); err != nil {
		return nil, err
	}
	s.assign = t.scratchTable("assign")
	if err := t.exec("CREATE TABLE " + q(s.assign) + " (" + q(ridCol) + " BIGINT, seg INTEGER)"); err != nil {
		return nil, err
	}
	// A segment whose condition and order read only a narrow input's own
	// columns takes its candidates from base alone, not the input's join.
	if s.passThrough {
		s.own, s.ownOK = ownPop(in) // base holds its columns: nothing to stage
	}
	return s, nil
}

// number creates base: with a unique key, base holds only the key and rid
// (key order is the output order) and the rows are joined back from the
// input; otherwise base is a numbered copy of the whole input.
func (s *splitter) number(thru string) error {
	t, in := s.t, s.in
	switch {
	case s.passThrough:
		// The input's own columns are few: base holds them all, so that
		// segments on own columns and the outputs read base alone.
		s.src, s.r = q(s.base)+" AS b JOIN "+q(in.View)+" AS t ON "+keyJoin("b", "t", in.Key), "t"
		var ownSel []string
		for _, c := range in.Columns {
			if !slices.Contains(in.Base.Columns, c.Name) {
				ownSel = append(ownSel, col("t", c.Name))
			}
		}
		return t.exec("CREATE TABLE " + q(s.base) + " AS SELECT " + strings.Join(ownSel, ", ") + ", row_number() OVER (ORDER BY " +
			keyOrder("t", in.Key) + ") AS " + q(ridCol) + " FROM " + q(thru) + " AS t")
	case s.unique:
		s.src, s.r = q(s.base)+" AS b JOIN "+q(in.View)+" AS t ON "+keyJoin("b", "t", in.Key), "t"
		return t.exec("CREATE TABLE " + q(s.base) + " AS SELECT " + keyCols("t", in.Key) + ", row_number() OVER (ORDER BY " +
			keyOrder("t", in.Key) + ") AS " + q(ridCol) + " FROM " + q(thru) + " AS t")
	default:
		s.src, s.r = q(s.base)+" AS b", "b"
		return t.exec("CREATE TABLE " + q(s.base) + " AS SELECT " + selectCols("t", in.Columns) + ", row_number() OVER (ORDER BY " +
			order("t", in) + ") AS " + q(ridCol) + " FROM " + q(in.View) + " AS t")
	}
}

// assignSegment assigns segment i its rows: those matching its where (and
// no earlier segment, without overlap), within its limit.
func (s *splitter) assignSegment(i int, seg Segment) error {
	b := &sqlb{}
	b.add("INSERT INTO "+q(s.assign)+" SELECT "+q(ridCol)+", CAST(? AS INTEGER)", i)
	if err := s.segmentRows(b, seg, q(s.assign)); err != nil {
		return err
	}
	return s.t.exec(b.String(), b.args...)
}

// segmentRows adds to b the FROM clause of segment seg's rows (their rid):
// its candidates (matching its where, and not in assigned unless overlap
// or assigned is ""), within its limit. On Trino (s.d) the where is lowered
// over the run's Glue tables.
func (s *splitter) segmentRows(b *sqlb, seg Segment, assigned string) error {
	segSrc, sr, where, wargs, ok := s.src, s.r, "", []any(nil), false
	if s.ownOK && (seg.Limit == nil || seg.Limit.Random || ownCols(s.own, orderFields(seg.Limit.OrderBy)...)) {
		if where, wargs, ok = s.t.ownWhere(s.own, seg.Where, "b"); ok {
			segSrc, sr = q(s.base)+" AS b", "b"
		}
	}
	if !ok {
		var err error
		if where, wargs, err = s.t.whereIn(s.d, seg.Where, s.r, s.in.Schema()); err != nil {
			return fmt.Errorf("segment %s: %w", seg.Name, err)
		}
	}
	cand := " FROM " + segSrc + " WHERE " + where
	if !s.x.Overlap && assigned != "" {
		cand += " AND NOT EXISTS (SELECT 1 FROM " + assigned + " AS a WHERE " + col("a", ridCol) + " = " + s.rid + ")"
	}
	if seg.Limit == nil {
		b.add(cand, wargs...)
		return nil
	}
	return s.limited(b, seg, sr, cand, wargs)
}

// limited adds to b the first candidates of a limited segment, in its order;
// sr is the alias of the candidates' columns.
func (s *splitter) limited(b *sqlb, seg Segment, sr, cand string, wargs []any) error {
	b.add(" FROM (SELECT " + s.rid + ", row_number() OVER (ORDER BY ")
	switch {
	case s.unique && !seg.Limit.Random && keyFirst(seg.Limit.OrderBy, s.in.Key):
		b.add(s.rid) // rid is the key order
	case len(seg.Limit.OrderBy) > 0 && !seg.Limit.Random:
		b.add(strings.Join(append(sortKeys(sr, seg.Limit.OrderBy), s.rid), ", "))
	default:
		b.add(seededHashIn(s.d, sr, s.in)+", "+s.rid, s.t.seed("split/"+seg.Name))
	}
	b.add(") AS "+q(rnCol)+", count(*) OVER () AS cnt"+cand, wargs...)
	b.add(") WHERE ")
	switch l := seg.Limit; {
	case l.Count != nil:
		b.add(q(rnCol)+" <= CAST(? AS BIGINT)", *l.Count)
	case l.Percent != nil:
		num, den, err := ratio(*l.Percent)
		if err != nil {
			return invalid("segment %s: %v", seg.Name, err)
		}
		if s.d == condition.Trino {
			// rn <= floor(cnt * num / den), as rn * den <= cnt * num in
			// exact decimals (Trino has no HUGEINT nor //).
			b.add("CAST("+q(rnCol)+" AS DECIMAL(38,0)) * CAST(? AS DECIMAL(38,0)) <= CAST(cnt AS DECIMAL(38,0)) * CAST(? AS DECIMAL(38,0))", den, num)
			break
		}
		// floor(cnt * percent / 100) in integers.
		b.add(q(rnCol)+" <= (cnt * CAST(? AS HUGEINT)) // CAST(? AS HUGEINT)", num, den)
	default:
		return invalid("segment %s: a limit needs count or percent", seg.Name)
	}
	return nil
}

// counts returns the number of rows of each segment, by index.
func (s *splitter) counts() (map[int64]int64, error) {
	counts := map[int64]int64{}
	err := s.t.Engine.Query(s.t.Ctx, 0, func(bt *dataset.Batch) error {
		for _, r := range bt.Rows {
			counts[r[0].(int64)] = r[1].(int64)
		}
		return nil
	}, "SELECT CAST(seg AS BIGINT), count(*) FROM "+q(s.assign)+" GROUP BY seg")
	return counts, err
}

// writeSingle writes the rows on `out` with their segment's code.
func (s *splitter) writeSingle(res *activity.Result) error {
	b := &sqlb{}
	s.codedRows(b)
	b.add(" FROM " + s.src + s.singleJoin() + q(s.assign) + " AS a ON " +
		col("a", ridCol) + " = " + s.rid + " ORDER BY " + s.rid + ", a.seg")
	if s.x.Overlap { // a row is repeated for each of its segments
		_, err := s.t.write(res, "out", s.in, b.String(), b.args...)
		return err
	}
	_, err := s.t.writeRows(res, "out", s.in, false, b.String(), b.args...)
	return err
}

// codedRows adds to b the select of the single port: the input's columns
// (under s.r; an input's own segmentCode is replaced) and the code of the
// segment a.seg (null for none). Trino's values are inlined, from typed
// placeholders only.
func (s *splitter) codedRows(b *sqlb) {
	b.add("SELECT " + selectCols(s.r, withoutCode(s.in.Columns)) + ", CAST(CASE a.seg")
	when := " WHEN ? THEN ?"
	if s.d == condition.Trino {
		when = " WHEN CAST(? AS INTEGER) THEN CAST(? AS VARCHAR)"
	}
	for i, seg := range s.x.Segments {
		code := seg.Code
		if code == "" {
			code = seg.Name
		}
		b.add(when, int64(i), code)
	}
	b.add(" END AS VARCHAR) AS " + q("segmentCode"))
}

// singleJoin joins the rows to their segments (others: rows in none too).
func (s *splitter) singleJoin() string {
	if s.x.Others {
		return " LEFT JOIN "
	}
	return " JOIN "
}

// withoutCode is cols but a segmentCode column.
func withoutCode(cols []campaign.Column) []campaign.Column {
	var kept []campaign.Column
	for _, c := range cols {
		if c.Name != "segmentCode" {
			kept = append(kept, c)
		}
	}
	return kept
}

// writeSegments writes a port per segment (skipEmpty: not when empty) and
// others.
func (s *splitter) writeSegments(res *activity.Result, counts map[int64]int64) error {
	sel, err := s.rows()
	if err != nil {
		return err
	}
	for i, seg := range s.x.Segments {
		if counts[int64(i)] == 0 && seg.SkipEmpty {
			continue
		}
		if _, err := s.t.writeRows(res, seg.Name, s.in, s.passThrough, sel+" JOIN "+q(s.assign)+" AS a ON "+col("a", ridCol)+" = "+s.rid+
			" AND a.seg = ? ORDER BY "+s.rid, i); err != nil {
			return err
		}
	}
	if s.x.Others {
		if _, err := s.t.writeRows(res, "others", s.in, s.passThrough, sel+" WHERE NOT EXISTS (SELECT 1 FROM "+q(s.assign)+" AS a WHERE "+
			col("a", ridCol)+" = "+s.rid+") ORDER BY "+s.rid); err != nil {
			return err
		}
	}
	return nil
}

// rows selects the input's rows (b.rid in scope) for the segment ports. A
// narrow input's come from base, the base's columns as the placeholders the
// pass-through write expects.
func (s *splitter) rows() (string, error) {
	if !s.passThrough {
		return "SELECT " + selectCols(s.r, s.in.Columns) + " FROM " + s.src, nil
	}
	items := make([]string, len(s.in.Columns))
	for i, c := range s.in.Columns {
		items[i] = col("b", c.Name)
		if slices.Contains(s.in.Base.Columns, c.Name) {
			typ, err := duckType(c)
			if err != nil {
				return "", err
			}
			items[i] = "CAST(NULL AS " + typ + ") AS " + q(c.Name)
		}
	}
	return "SELECT " + strings.Join(items, ", ") + " FROM " + q(s.base) + " AS b", nil
}

// keyFirst reports whether an order starts with the key, ascending: over
// rows with a unique key, the order of the key alone.
func keyFirst(order []activity.Order, key []string) bool {
	if len(key) == 0 || len(order) < len(key) {
		return false
	}
	for i, k := range key {
		if order[i].Field != k || order[i].Desc {
			return false
		}
	}
	return true
}

// splitByKey lets tests take the copying path on keyed inputs, to compare the two.
var splitByKey = true

// keyJoin equates the key columns under two aliases.
func keyJoin(a, b string, key []string) string {
	eq := make([]string, len(key))
	for i, k := range key {
		eq[i] = col(a, k) + " = " + col(b, k)
	}
	return strings.Join(eq, " AND ")
}

// keyCols lists the key columns under alias.
func keyCols(alias string, key []string) string {
	out := make([]string, len(key))
	for i, k := range key {
		out[i] = col(alias, k)
	}
	return strings.Join(out, ", ")
}

// keyOrder is the output order of rows with a unique key.
func keyOrder(alias string, key []string) string {
	out := make([]string, len(key))
	for i, k := range key {
		out[i] = col(alias, k) + " ASC NULLS LAST"
	}
	return strings.Join(out, ", ")
}

// uniqueKey reports whether p's key identifies its rows: present, never null, never
// repeated. Then the key alone orders them as order() does.
func (t *task) uniqueKey(p pop) (bool, error) {
	if len(p.Key) == 0 {
		return false, nil
	}
	if p.unique {
		return true, nil
	}
	if p.ref != "" {
		ok, err := t.Engine.KeyIsUnique(t.Ctx, p.ref)
		if err != nil {
			return false, err
		}
		return ok, nil
	}
	nonNull := make([]string, len(p.Key))
	for i, k := range p.Key {
		nonNull[i] = col("t", k) + " IS NOT NULL"
	}
	row, err := t.Engine.QueryRow(t.Ctx, "SELECT count(*) = count(DISTINCT ("+keyCols("t", p.Key)+")) AND bool_and("+
		strings.Join(nonNull, " AND ")+") IS NOT false FROM "+q(p.View)+" AS t")
	if err != nil {
		return false, err
	}
	return row[0] == true, nil
}

// seededHash is the pseudo-random order of a draw over p's rows under
// alias: the md5 of the seed (the first argument) and the key (or every
// column) as text.
func seededHash(alias string, p pop) string { return seededHashIn(condition.DuckDB, alias, p) }

// seededHashIn is seededHash in a dialect. Both engines compute the same
// digest (Trino's md5 takes bytes: to_utf8; DuckDB's gives it as hex, which
// orders alike), so a draw keeps the same rows on both for keys whose text
// is the same (strings, integers).
func seededHashIn(d condition.Dialect, alias string, p pop) string {
	names := p.Key
	if len(names) == 0 {
		for _, c := range p.Columns {
			names = append(names, c.Name)
		}
	}
	text := []string{"CAST(? AS VARCHAR)"}
	for _, k := range names {
		text = append(text, "COALESCE(CAST("+col(alias, k)+" AS VARCHAR), '')")
	}
	joined := strings.Join(text, " || '|' || ")
	if d == condition.Trino {
		return "md5(to_utf8(" + joined + "))"
	}
	return "md5(" + joined + ")"
}

// ratio writes a percentage as num/den with percent/100 == num/den exactly
// for its shortest decimal form (at most 12 decimals), as decimal strings.
func ratio(percent float64) (num, den string, err error) {
	if percent < 0 || percent > 100 {
		return "", "", fmt.Errorf("percent %v is not between 0 and 100", percent)
	}
	s := strconv.FormatFloat(percent, 'f', -1, 64)
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > 12 {
		s = strings.TrimRight(strconv.FormatFloat(percent, 'f', 12, 64), "0")
	}
	s = strings.TrimSuffix(s, ".")
	decimals := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		decimals = len(s) - i - 1
		s = s[:i] + s[i+1:]
	}
	s = strings.TrimLeft(s, "0")
	if s == "" {
		s = "0"
	}
	return s, "100" + strings.Repeat("0", decimals), nil
}
