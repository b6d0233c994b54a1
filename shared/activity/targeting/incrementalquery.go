package targeting

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
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
		},
		Output:   dimensionOutput(func(x *IncrementalQueryConfig) string { return x.Dimension }),
		Describe: describeIncrementalQuery,
		Run:      run(d, runIncrementalQuery),
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
	p, err := t.keyedTable(t.dimension(x.Dimension))
	if err != nil {
		return nil, err
	}
	st := t.deps.Incrementals
	if st == nil {
		return nil, &activity.InvalidInput{Msg: "no state store is configured"}
	}
	campaignID, run := t.Comp.Campaign.ID, t.Req.Run.ID
	cur, err := st.GetIncremental(t.Ctx, campaignID, t.Req.Activity)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return nil, fmt.Errorf("read incremental state: %w", err)
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
				return nil, fmt.Errorf("keys returned by earlier runs (%s): %w", before.KeysRef, err)
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
			t.Logf("test run: %d new rows; the incremental state is left as it is", m.Rows)
		}
		return res, nil
	}

	// Advance from what the output holds (it may come from an earlier attempt).
	out := t.View("written")
	if _, err := t.Engine.StageDataset(t.Ctx, out, t.Out("out")); err != nil {
		return nil, err
	}
	r := state.IncrementalRun{RunID: run, At: t.Now(), HighWater: before.HighWater, Count: m.Rows}
	if field.Name != "" && m.Rows > 0 {
		row, err := t.Engine.QueryRow(t.Ctx, "SELECT max("+q(field.Name)+") FROM "+q(out))
		if err != nil {
			return nil, err
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
			return nil, fmt.Errorf("write returned keys: %w", err)
		}
		r.KeysRef = string(ref)
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
