package targeting

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/athenastep"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Since selects what incremental-query returns on each run.
type Since struct {
	Field           string `json:"field,omitempty" jsonschema:"description=date or timestamp column: rows newer than the previous run's high-water mark"`
	ExcludePrevious bool   `json:"excludePrevious,omitempty" jsonschema:"description=rows not returned by earlier runs"`
	HistoryDays     int    `json:"historyDays,omitempty" jsonschema:"description=how long returned keys are remembered; 0 = forever"`
}

// IncrementalQueryConfig is build-audience that returns only new rows.
type IncrementalQueryConfig struct {
	Dimension string               `json:"dimension,omitempty"`
	Where     *condition.Condition `json:"where,omitempty"`
	Since     Since                `json:"since" jsonschema:"required"`
}

// incrementalQuery is the incremental-query type.
func incrementalQuery(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[IncrementalQueryConfig]{
		Type: "incremental-query", Family: activity.Targeting, Function: "IncrementalQuery",
		Summary: "Rows matching a condition that earlier runs did not return.",
		Inputs:  activity.Inputs{ReadsOwnData: true},
		Check: func(c *activity.Check, x *IncrementalQueryConfig) {
			t, ok := c.DimensionTable(x.Dimension, c.Path("dimension"))
			if !ok {
				return
			}
			c.CheckCondition(c.Path("where"), x.Where, t.Schema())
			sp := c.Path("since")
			switch {
			case x.Since.Field != "" && x.Since.ExcludePrevious:
				c.Errorf(sp, "since takes either field or excludePrevious, not both")
			case x.Since.Field != "":
				if col, ok := c.RequireColumn(t.Schema(), x.Since.Field, campaign.JoinPath(sp, "field")); ok && col.Type != campaign.TypeDate && col.Type != campaign.TypeTimestamp {
					c.Errorf(campaign.JoinPath(sp, "field"), "since.field %q must be a date or timestamp column, not %s", x.Since.Field, col.Type)
				}
			case x.Since.ExcludePrevious:
			default:
				c.Errorf(sp, "since needs field (a date high-water mark) or excludePrevious: true")
			}
			if x.Since.HistoryDays < 0 {
				c.Errorf(campaign.JoinPath(sp, "historyDays"), "historyDays must be 0 (forever) or more")
			}
			if onAthena(c.Catalog, t.Name) {
				athenaCheck(c, c.Path("where"), x.Where, t.Schema())
			}
		},
		Output: dimensionOutput(func(x *IncrementalQueryConfig) string { return x.Dimension }),
		Lower: func(l activity.Lowerer, x *IncrementalQueryConfig) error {
			dim := x.Dimension
			if dim == "" {
				dim = l.Campaign().Dimension
			}
			if t, ok := l.Catalog().Table(dim); ok && onAthena(l.Catalog(), dim) &&
				trinoRefuses(l.Catalog(), l.Campaign(), x.Where, t.Schema()) == "" {
				return lowerAthena(l, 1)
			}
			st := l.Task("", nil)
			st.Next = l.Next()
			l.Add(l.Name(""), st)
			return nil
		},
		Describe: describeIncrementalQuery,
		Run:      run(d, runIncrementalQuery),
		OnAthena: true,
	})
}

// incremental-query: build-audience that returns only new rows.
//
// since.field: rows whose field is later than the high-water mark, the
// largest value returned by earlier runs (rows with a null field are never
// returned); the first run returns every matching row. excludePrevious: rows
// whose key was not returned by an earlier run within historyDays (0:
// ever); the returned keys are kept as a dataset (key columns + returnedAt).
//
// The state advances once per run, after the output is written, and only in
// live runs: a test run sees the current state and leaves it. A retried
// task recognises its own run in the state and computes from the state
// before it; the output dataset, once written, is never recomputed. An empty
// result leaves the port off (the branch stops, as in Adobe).
func runIncrementalQuery(t *task, x *IncrementalQueryConfig) (*activity.Result, error) {
	switch t.Req.Phase {
	case PhasePlan:
		return planIncrementalQuery(t, x)
	case PhaseFinish:
		return finishIncrementalQuery(t, x)
	}
	p, err := t.keyedTable(t.dimension(x.Dimension))
	if err != nil {
		return nil, err
	}
	cur, before, advanced, err := t.incrementalState()
	if err != nil {
		return nil, err
	}
	campaignID := t.Comp.Campaign.ID
	st := t.deps.Incrementals

	where, args, err := t.Where(x.Where, "t", p.Schema())
	if err != nil {
		return nil, err
	}
	b := &sqlb{}
	b.add("SELECT "+selectCols("t", p.Columns)+" FROM "+q(p.View)+" AS t WHERE "+where, args...)
	field, err := sinceField(condition.DuckDB, b, p, x, before)
	if err != nil {
		return nil, err
	}
	since := t.historySince(x)
	var prevKeys string
	if x.Since.ExcludePrevious {
		if len(p.Key) == 0 {
			return nil, invalid("excludePrevious needs a table with a key")
		}
		if prevKeys, err = t.stagePrevKeys(before); err != nil {
			return nil, err
		}
		if prevKeys != "" {
			excludeReturned(condition.DuckDB, b, q(prevKeys), p.Key, since)
		}
	}
	b.add(" ORDER BY " + order("t", p))

	res := t.result()
	m, err := t.write(res, "out", p, b.String(), b.args...)
	if err != nil {
		return nil, err
	}
	if t.settled(res, m, advanced) {
		return res, nil
	}

	// Advance from what the output holds (it may come from an earlier attempt).
	out, r, err := t.advanceFrom(field, m, cur, before)
	if err != nil {
		return nil, err
	}
	if x.Since.ExcludePrevious {
		if r.KeysRef, err = t.writeReturnedKeys(p, prevKeys, since, out); err != nil {
			return nil, err
		}
	}
	if _, err := st.AdvanceIncremental(t.Ctx, campaignID, t.Req.Activity, cur.Rev, r); err != nil {
		return nil, fmt.Errorf("advance incremental state: %w", err) // a lost race is a Conflict
	}
	if field.Name != "" {
		t.Logf("%d new rows; high-water mark of %s: %s", m.Rows, field.Name, r.HighWater.Format(time.RFC3339Nano))
	} else {
		t.Logf("%d new rows; keys returned so far: %s", m.Rows, r.KeysRef)
	}
	return res, nil
}

// incrementalState is the activity's state (cur) and the state this run
// starts from (before): a retried task whose run already advanced it
// (advanced) starts from the state before its own run.
func (t *task) incrementalState() (cur, before state.Incremental, advanced bool, err error) {
	st := t.deps.Incrementals
	if st == nil {
		return cur, before, false, &activity.InvalidInput{Msg: "no state store is configured"}
	}
	cur, err = st.GetIncremental(t.Ctx, t.Comp.Campaign.ID, t.Req.Activity)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return cur, before, false, fmt.Errorf("read incremental state: %w", err)
	}
	before = cur
	if n := len(cur.Runs); n > 0 && cur.Runs[n-1].RunID == t.Req.Run.ID {
		advanced = true
		before = state.Incremental{}
		if n > 1 {
			before.HighWater, before.KeysRef = cur.Runs[n-2].HighWater, cur.Runs[n-2].KeysRef
		}
	}
	return cur, before, advanced, nil
}

// sinceField adds since.field's filter to b in a dialect: the field is set
// and later than the mark the run starts from.
func sinceField(d condition.Dialect, b *sqlb, p pop, x *IncrementalQueryConfig, before state.Incremental) (campaign.Column, error) {
	if x.Since.Field == "" {
		return campaign.Column{}, nil
	}
	c, ok := p.Schema().Column(x.Since.Field)
	if !ok {
		return campaign.Column{}, invalid("since.field: unknown column %q of %s", x.Since.Field, p.Dimension)
	}
	b.add(" AND " + col("t", c.Name) + " IS NOT NULL")
	if !before.HighWater.IsZero() {
		typ, arg := markArgIn(d, c, before.HighWater)
		b.add(" AND "+col("t", c.Name)+" > CAST(? AS "+typ+")", arg)
	}
	return c, nil
}

// historySince is the instant excludePrevious remembers returned keys from
// (zero: forever).
func (t *task) historySince(x *IncrementalQueryConfig) time.Time {
	if x.Since.HistoryDays <= 0 {
		return time.Time{}
	}
	return t.Now().Add(-time.Duration(x.Since.HistoryDays) * 24 * time.Hour)
}

// stagePrevKeys stages the keys earlier runs returned (the dataset the run
// starts from) and returns its view ("" when there is none yet).
func (t *task) stagePrevKeys(before state.Incremental) (string, error) {
	if before.KeysRef == "" {
		return "", nil
	}
	v := t.View("prevkeys")
	if _, err := t.Engine.StageDataset(t.Ctx, v, dataset.Ref(before.KeysRef)); err != nil {
		return "", fmt.Errorf("keys returned by earlier runs (%s): %w", before.KeysRef, err)
	}
	return v, nil
}

// excludeReturned adds excludePrevious's filter to b in a dialect: no key
// of rel (returned by earlier runs) matches t's, among those returned after
// since (zero: all).
func excludeReturned(d condition.Dialect, b *sqlb, rel string, key []string, since time.Time) {
	b.add(" AND NOT EXISTS (SELECT 1 FROM " + rel + " AS k WHERE " + keyMatch("k", "t", key))
	if !since.IsZero() {
		b.add(" AND k.returnedAt > CAST(? AS "+d.TypeName("TIMESTAMPTZ")+")", d.Timestamp(since))
	}
	b.add(")")
}

// writeReturnedKeys writes the run's returned-keys dataset
// (incremental/<campaign>/<activity>/<run>): the keys of prevKeys (staged;
// "" none) returned after since, and those of the output (staged as out)
// returned now. Both engines write it here, with DuckDB: on Athena the
// finish does (keys only, see docs/decisions.md).
func (t *task) writeReturnedKeys(p pop, prevKeys string, since time.Time, out string) (string, error) {
	ref := dataset.Ref(blob.Join("incremental", t.Comp.Campaign.ID, t.Req.Activity, t.Req.Run.ID))
	kb := &sqlb{}
	keys := selectCols("", colsNamed(p.Key))
	kb.add("SELECT " + keys + ", returnedAt FROM (")
	if prevKeys != "" {
		kb.add("SELECT " + keys + ", returnedAt FROM " + q(prevKeys))
		if !since.IsZero() {
			kb.add(" WHERE returnedAt > CAST(? AS TIMESTAMPTZ)", since.UTC().Format(time.RFC3339Nano))
		}
		kb.add(" UNION ALL ")
	}
	kb.add("SELECT DISTINCT "+keys+", CAST(? AS TIMESTAMPTZ) AS returnedAt FROM "+q(out), t.Now().UTC().Format(time.RFC3339Nano))
	kb.add(") ORDER BY " + keys + ", returnedAt")
	if _, err := t.Engine.Write(t.Ctx, dataset.Output{Ref: ref, Dimension: p.Dimension, Key: p.Key, CreatedAt: t.Now()}, kb.String(), kb.args...); err != nil {
		return "", fmt.Errorf("write returned keys: %w", err)
	}
	return string(ref), nil
}

// advanceFrom is the state's next run: the output m's rows, the mark the
// largest field value of the output (staged as out), never moved back.
func (t *task) advanceFrom(field campaign.Column, m *dataset.Manifest, cur, before state.Incremental) (string, state.IncrementalRun, error) {
	out := t.View("written")
	r := state.IncrementalRun{RunID: t.Req.Run.ID, At: t.Now(), HighWater: before.HighWater, Count: m.Rows}
	if _, err := t.Engine.StageDataset(t.Ctx, out, t.Out("out")); err != nil {
		return "", r, err
	}
	if field.Name != "" && m.Rows > 0 {
		row, err := t.Engine.QueryRow(t.Ctx, "SELECT max("+q(field.Name)+") FROM "+q(out))
		if err != nil {
			return "", r, err
		}
		if v, ok := row[0].(time.Time); ok && v.After(r.HighWater) {
			r.HighWater = v
		}
	}
	if cur.HighWater.After(r.HighWater) {
		r.HighWater = cur.HighWater // never move the mark back
	}
	return out, r, nil
}

// planIncrementalQuery writes the Athena statement of incremental-query:
// the rows of the table matching where whose field is later than the mark
// the run starts from, or (excludePrevious) whose key is not among those
// earlier runs returned within the history (their dataset registered as a
// Glue table), in the Trino dialect.
func planIncrementalQuery(t *task, x *IncrementalQueryConfig) (*activity.Result, error) {
	res, done, err := t.athenaReady("out")
	if err != nil || done {
		return res, err
	}
	p, err := t.table(t.dimension(x.Dimension))
	if err != nil {
		return nil, err
	}
	_, before, _, err := t.incrementalState()
	if err != nil {
		return nil, err
	}
	rel, err := t.athenaTable(p.Dimension)
	if err != nil {
		return nil, err
	}
	where, args, err := t.whereIn(condition.Trino, x.Where, "t", p.Schema())
	if err != nil {
		return nil, err
	}
	b := &sqlb{}
	b.add("SELECT "+selectCols("t", p.Columns)+" FROM "+q(t.Comp.Catalog.Athena.Database)+"."+q(rel)+" AS t WHERE "+where, args...)
	if _, err := sinceField(condition.Trino, b, p, x, before); err != nil {
		return nil, err
	}
	if x.Since.ExcludePrevious {
		if len(p.Key) == 0 {
			return nil, invalid("excludePrevious needs a table with a key")
		}
		if before.KeysRef != "" {
			rel, err := t.athenaPrevKeys(before.KeysRef)
			if err != nil {
				return nil, err
			}
			excludeReturned(condition.Trino, b, rel, p.Key, t.historySince(x))
		}
	}
	if res.Extra["query"], err = t.unload("out", b.String(), b.args); err != nil {
		return nil, err
	}
	return res, nil
}

// finishIncrementalQuery records Athena's output as out (off when empty)
// and, in a live run not yet recorded, advances the state from it.
func finishIncrementalQuery(t *task, x *IncrementalQueryConfig) (*activity.Result, error) {
	p, err := t.table(t.dimension(x.Dimension))
	if err != nil {
		return nil, err
	}
	cur, before, advanced, err := t.incrementalState()
	if err != nil {
		return nil, err
	}
	res := t.result()
	m, err := t.recordUnload(res, "out", pop{Dimension: p.Dimension, Key: p.Key, Columns: p.Columns})
	if err != nil {
		return nil, err
	}
	if t.settled(res, m, advanced) {
		return res, nil
	}
	field, err := sinceField(condition.Trino, &sqlb{}, p, x, before)
	if err != nil {
		return nil, err
	}
	out, r, err := t.advanceFrom(field, m, cur, before)
	if err != nil {
		return nil, err
	}
	if x.Since.ExcludePrevious {
		prevKeys, err := t.stagePrevKeys(before)
		if err != nil {
			return nil, err
		}
		if r.KeysRef, err = t.writeReturnedKeys(p, prevKeys, t.historySince(x), out); err != nil {
			return nil, err
		}
	}
	if _, err := t.deps.Incrementals.AdvanceIncremental(t.Ctx, t.Comp.Campaign.ID, t.Req.Activity, cur.Rev, r); err != nil {
		return nil, fmt.Errorf("advance incremental state: %w", err)
	}
	if field.Name != "" {
		t.Logf("%d new rows; high-water mark of %s: %s", m.Rows, field.Name, r.HighWater.Format(time.RFC3339Nano))
	} else {
		t.Logf("%d new rows; keys returned so far: %s", m.Rows, r.KeysRef)
	}
	return res, nil
}

// athenaPrevKeys registers the keys earlier runs returned (the dataset at
// ref) as the run's Glue table and returns the relation Trino reads.
func (t *task) athenaPrevKeys(ref string) (string, error) {
	m, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), dataset.Ref(ref))
	if err != nil {
		return "", fmt.Errorf("keys returned by earlier runs (%s): %w", ref, err)
	}
	db := t.Comp.Catalog.Athena.Database
	name := athenastep.GlueName(t.Req.Run.ID, "prevkeys_"+t.Req.Activity)
	if err := t.deps.Athena.RegisterTable(t.Ctx, GlueTable{Database: db, Name: name, Ref: dataset.Ref(ref), Manifest: m, Columns: m.Columns}); err != nil {
		return "", fmt.Errorf("register the keys returned by earlier runs: %w", err)
	}
	return q(db) + "." + q(name), nil
}

// settled turns out off when the output is empty and reports whether the
// incremental state stays as it is: a test run, or one that advanced it.
func (t *task) settled(res *activity.Result, m *dataset.Manifest, advanced bool) bool {
	if m.Rows == 0 {
		res.Ports["out"] = nil
	}
	if t.Req.Run.Test {
		t.Logf("test run: %d new rows; the incremental state is left as it is", m.Rows)
	}
	return t.Req.Run.Test || advanced
}

// markArg binds a high-water mark for a date or timestamp column.
func markArg(c campaign.Column, mark time.Time) (string, any) {
	return markArgIn(condition.DuckDB, c, mark)
}

// markArgIn is markArg in a dialect: its type name and instant form.
func markArgIn(d condition.Dialect, c campaign.Column, mark time.Time) (string, any) {
	if c.Type == campaign.TypeDate {
		return "DATE", mark.UTC().Format("2006-01-02")
	}
	return d.TypeName("TIMESTAMPTZ"), d.Timestamp(mark)
}

// keyMatch is a.k = b.k for each key column.
func keyMatch(a, b string, key []string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = col(a, k) + " = " + col(b, k)
	}
	return strings.Join(parts, " AND ")
}
