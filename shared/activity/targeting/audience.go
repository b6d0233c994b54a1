package targeting

import (
	"errors"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

// build-audience: the rows of the dimension table matching where, with every
// column of the table. emptyOutput false leaves the port off when no row
// matches.
func runBuildAudience(t *task) (*activity.Result, error) {
	x := t.Config.(*BuildAudienceConfig)
	p, err := t.keyedTable(t.dimension(x.Dimension))
	if err != nil {
		return nil, err
	}
	where, args, err := t.Where(x.Where, "t", p.Schema())
	if err != nil {
		return nil, err
	}
	res := t.result()
	m, err := t.writeRows(res, "out", p, false, "SELECT "+selectCols("t", p.Columns)+" FROM "+q(p.View)+" AS t WHERE "+where+
		" ORDER BY "+order("t", p), args...)
	if err != nil {
		return nil, err
	}
	if m.Rows == 0 && x.EmptyOutput != nil && !*x.EmptyOutput {
		res.Ports["out"] = nil
	}
	return res, nil
}

// read-audience: a copy of the current version of a saved audience, pinned
// on the port so that a retried task returns the same rows even if the
// audience was saved again in between.
func runReadAudience(t *task) (*activity.Result, error) {
	x := t.Config.(*ReadAudienceConfig)
	st, err := activity.Service[state.Audiences](t.Env, activity.ServiceState)
	if err != nil {
		return nil, err
	}
	res := t.result()
	if ref, m, ok := t.existing("out"); ok {
		res.Set("out", ref, m.Rows)
		return res, nil
	}
	a, err := st.GetAudience(t.Ctx, x.Audience)
	if errors.Is(err, state.ErrNotFound) {
		return nil, invalid("audience %q has not been saved yet", x.Audience)
	}
	if err != nil {
		return nil, &activity.Retryable{Msg: "read audience: " + err.Error()}
	}
	view := t.View("aud")
	m, err := t.Engine.StageDataset(t.Ctx, view, dataset.Ref(a.Ref))
	if err != nil {
		return nil, invalid("audience %q version %d: %v", a.Name, a.Version, err)
	}
	p := pop{View: view, Dimension: m.Dimension, Key: m.Key, Columns: m.Columns}
	if _, err := t.write(res, "out", p, "SELECT "+selectCols("t", p.Columns)+" FROM "+q(view)+" AS t ORDER BY "+order("t", p)); err != nil {
		return nil, err
	}
	res.Extra = map[string]any{"audience": a.Name, "version": a.Version}
	return res, nil
}

// existing returns the dataset a previous attempt of this task left on a port.
func (t *task) existing(port string) (string, *dataset.Manifest, bool) {
	ref := t.Out(port)
	m, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), ref)
	if err != nil {
		return "", nil, false
	}
	return string(ref), m, true
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
func runIncrementalQuery(t *task) (*activity.Result, error) {
	x := t.Config.(*IncrementalQueryConfig)
	p, err := t.keyedTable(t.dimension(x.Dimension))
	if err != nil {
		return nil, err
	}
	st, err := activity.Service[state.Incrementals](t.Env, activity.ServiceState)
	if err != nil {
		return nil, err
	}
	campaignID, run := t.Comp.Campaign.ID, t.Req.Run.ID
	cur, err := st.GetIncremental(t.Ctx, campaignID, t.Req.Activity)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return nil, &activity.Retryable{Msg: "read incremental state: " + err.Error()}
	}
	// before is the state this run starts from.
	before, advanced := cur, false
	if n := len(cur.Runs); n > 0 && cur.Runs[n-1].RunID == run {
		advanced = true
		before = state.Incremental{}
		if n > 1 {
			before.HighWater, before.KeysRef = cur.Runs[n-2].HighWater, cur.Runs[n-2].KeysRef
		}
	}

	where, args, err := t.Where(x.Where, "t", p.Schema())
	if err != nil {
		return nil, err
	}
	b := &sqlb{}
	b.add("SELECT "+selectCols("t", p.Columns)+" FROM "+q(p.View)+" AS t WHERE "+where, args...)
	var field campaign.Column
	if x.Since.Field != "" {
		c, ok := p.Schema().Column(x.Since.Field)
		if !ok {
			return nil, invalid("since.field: unknown column %q of %s", x.Since.Field, p.Dimension)
		}
		field = c
		b.add(" AND " + col("t", c.Name) + " IS NOT NULL")
		if !before.HighWater.IsZero() {
			typ, arg := markArg(c, before.HighWater)
			b.add(" AND "+col("t", c.Name)+" > CAST(? AS "+typ+")", arg)
		}
	}
	since := time.Time{}
	if x.Since.HistoryDays > 0 {
		since = t.Now().Add(-time.Duration(x.Since.HistoryDays) * 24 * time.Hour)
	}
	var prevKeys string
	if x.Since.ExcludePrevious {
		if len(p.Key) == 0 {
			return nil, invalid("excludePrevious needs a table with a key")
		}
		if before.KeysRef != "" {
			prevKeys = t.View("prevkeys")
			if _, err := t.Engine.StageDataset(t.Ctx, prevKeys, dataset.Ref(before.KeysRef)); err != nil {
				return nil, invalid("keys returned by earlier runs (%s): %v", before.KeysRef, err)
			}
			b.add(" AND NOT EXISTS (SELECT 1 FROM " + q(prevKeys) + " AS k WHERE " + keyMatch("k", "t", p.Key))
			if !since.IsZero() {
				b.add(" AND k.returnedAt > CAST(? AS TIMESTAMPTZ)", since.UTC().Format(time.RFC3339Nano))
			}
			b.add(")")
		}
	}
	b.add(" ORDER BY " + order("t", p))

	res := t.result()
	m, err := t.write(res, "out", p, b.String(), b.args...)
	if err != nil {
		return nil, err
	}
	if m.Rows == 0 {
		res.Ports["out"] = nil
	}
	if t.Req.Run.Test || advanced {
		if t.Req.Run.Test {
			activity.Logf(t.Ctx, t.Env, t.Req, "test run: %d new rows; the incremental state is left as it is", m.Rows)
		}
		return res, nil
	}

	// Advance from what the output holds (it may come from an earlier attempt).
	out := t.View("written")
	if _, err := t.Engine.StageDataset(t.Ctx, out, t.Out("out")); err != nil {
		return nil, invalid("%v", err)
	}
	r := state.IncrementalRun{RunID: run, At: t.Now(), HighWater: before.HighWater, Count: m.Rows}
	if field.Name != "" && m.Rows > 0 {
		row, err := t.Engine.QueryRow(t.Ctx, "SELECT max("+q(field.Name)+") FROM "+q(out))
		if err != nil {
			return nil, invalid("%v", err)
		}
		if v, ok := row[0].(time.Time); ok && v.After(r.HighWater) {
			r.HighWater = v
		}
	}
	if cur.HighWater.After(r.HighWater) {
		r.HighWater = cur.HighWater // never move the mark back
	}
	if x.Since.ExcludePrevious {
		ref := dataset.Ref(blob.Join("incremental", campaignID, t.Req.Activity, run))
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
			return nil, invalid("write returned keys: %v", err)
		}
		r.KeysRef = string(ref)
	}
	if _, err := st.AdvanceIncremental(t.Ctx, campaignID, t.Req.Activity, cur.Rev, r); err != nil {
		if errors.Is(err, state.ErrConflict) {
			return nil, &activity.Conflict{Msg: "incremental state moved on: " + err.Error()}
		}
		return nil, &activity.Retryable{Msg: "advance incremental state: " + err.Error()}
	}
	if field.Name != "" {
		activity.Logf(t.Ctx, t.Env, t.Req, "%d new rows; high-water mark of %s: %s", m.Rows, field.Name, r.HighWater.Format(time.RFC3339Nano))
	} else {
		activity.Logf(t.Ctx, t.Env, t.Req, "%d new rows; keys returned so far: %s", m.Rows, r.KeysRef)
	}
	return res, nil
}

// markArg binds a high-water mark for a date or timestamp column.
func markArg(c campaign.Column, mark time.Time) (string, any) {
	if c.Type == campaign.TypeDate {
		return "DATE", mark.UTC().Format("2006-01-02")
	}
	return "TIMESTAMPTZ", mark.UTC().Format(time.RFC3339Nano)
}

// keyMatch is a.k = b.k for each key column.
func keyMatch(a, b string, key []string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = col(a, k) + " = " + col(b, k)
	}
	return strings.Join(parts, " AND ")
}

func colsNamed(names []string) []campaign.Column {
	out := make([]campaign.Column, len(names))
	for i, n := range names {
		out[i] = campaign.Column{Name: n}
	}
	return out
}

// save-audience: in a live run, writes the population's key and fields (one
// row per key) under audiences/<name>/<run>-<activity> and records it as the
// audience's new current version; a retried task finds that ref in the
// history and does not add a second version. In a test run nothing is
// written or recorded. Either way `out` carries the inbound population.
func runSaveAudience(t *task) (*activity.Result, error) {
	x := t.Config.(*SaveAudienceConfig)
	ins, err := t.inputs()
	if err != nil {
		return nil, err
	}
	in := ins[0]
	res := t.result()
	if !in.Active {
		return res, nil
	}
	res.Set("out", *t.Req.Inputs[0].Ref, in.Count)
	if len(in.Key) == 0 {
		return nil, invalid("save-audience needs rows with a key (a population of a catalog table)")
	}
	cols := append([]campaign.Column(nil), colsNamed(in.Key)...)
	fields := x.Fields
	if len(fields) == 0 {
		fields = in.Schema().ColumnNames()
	}
	for _, f := range fields {
		if !in.has(f) {
			return nil, invalid("fields: unknown column %q", f)
		}
		if !containsCol(cols, f) {
			cols = append(cols, campaign.Column{Name: f})
		}
	}
	if t.Req.Run.Test {
		res.Extra = map[string]any{"test": true, "audience": x.Audience}
		activity.Logf(t.Ctx, t.Env, t.Req, "test mode: audience %s not saved (%d rows)", x.Audience, in.Count)
		return res, nil
	}
	st, err := activity.Service[state.Audiences](t.Env, activity.ServiceState)
	if err != nil {
		return nil, err
	}
	ref := blob.Join("audiences", x.Audience, t.Req.Run.ID+"-"+t.Req.Activity)
	hist, err := st.AudienceHistory(t.Ctx, x.Audience)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return nil, &activity.Retryable{Msg: "read audience history: " + err.Error()}
	}
	for _, a := range hist {
		if a.Ref == ref {
			res.Extra = map[string]any{"audience": a.Name, "version": a.Version, "count": a.Count}
			return res, nil
		}
	}
	query := "SELECT " + selectCols("", cols) + " FROM (SELECT t.*, row_number() OVER (PARTITION BY " + selectCols("t", colsNamed(in.Key)) +
		" ORDER BY " + order("t", in) + ") AS " + q(rnCol) + " FROM " + q(in.View) + " AS t) WHERE " + q(rnCol) + " = 1 ORDER BY " +
		selectCols("", colsNamed(in.Key))
	m, err := t.Engine.Write(t.Ctx, dataset.Output{Ref: dataset.Ref(ref), Dimension: in.Dimension, Key: in.Key, CreatedAt: t.Now()}, query)
	if err != nil {
		return nil, invalid("write audience %s: %v", x.Audience, err)
	}
	a, err := st.SaveAudience(t.Ctx, state.Audience{Name: x.Audience, Ref: ref, Count: m.Rows, Dimension: in.Dimension,
		RunID: t.Req.Run.ID, SavedAt: t.Env.Now()})
	if err != nil {
		return nil, &activity.Retryable{Msg: "save audience: " + err.Error()}
	}
	activity.Logf(t.Ctx, t.Env, t.Req, "audience %s version %d: %d rows", a.Name, a.Version, a.Count)
	res.Extra = map[string]any{"audience": a.Name, "version": a.Version, "count": a.Count}
	return res, nil
}

func containsCol(cols []campaign.Column, name string) bool {
	for _, c := range cols {
		if c.Name == name {
			return true
		}
	}
	return false
}
