package data

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
	"go.yaml.in/yaml/v3"
)

// SetValue is a literal, or {now: true}, {increment: n}, {field: column}, {param: name}.
type SetValue struct {
	condition.Value
	Increment *float64
}

// DecodeNode implements campaign.NodeDecoder.
func (s *SetValue) DecodeNode(d *campaign.Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "increment" {
		var x struct {
			Increment float64 `json:"increment"`
		}
		d.Decode(n, path, &x)
		s.Increment = &x.Increment
		return
	}
	s.Value.DecodeNode(d, n, path)
}

// UpdateDataConfig writes a population into a catalog table.
type UpdateDataConfig struct {
	Table     string              `json:"table" jsonschema:"required"`
	Operation string              `json:"operation" jsonschema:"required,enum=insert,enum=update,enum=upsert,enum=delete"`
	Key       map[string]string   `json:"key" jsonschema:"required,description=table column: input column"`
	Set       map[string]SetValue `json:"set,omitempty"`
	BatchSize int                 `json:"batchSize,omitempty"`
}

// updateData is the update-data type.
func updateData(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[UpdateDataConfig]{
		Type: "update-data", Family: activity.Data, Function: "UpdateData",
		Summary: "Inserts, updates, upserts or deletes rows of a table; commits a new table version.",
		Inputs:  activity.Inputs{Min: 1, Max: 1},
		Ports:   activity.Fixed[UpdateDataConfig]("out", "rejects"),
		Check:   checkUpdateData,
		Output: func(c *activity.Check, _ *UpdateDataConfig, in []campaign.Schema) map[string]campaign.Schema {
			var s campaign.Schema
			if len(in) > 0 {
				s = in[0]
			}
			return map[string]campaign.Schema{"out": s, "rejects": s.With(campaign.Column{Name: "reason", Type: campaign.TypeString})}
		},
		Describe: describeUpdateData,
		Lower: func(l activity.Lowerer, _ *UpdateDataConfig) error {
			if onAthena(l.Catalog()) {
				return lowerUpdateAthena(l)
			}
			st := l.Task("", nil)
			st.Next = l.Next()
			l.Add(l.Name(""), st)
			return nil
		},
		OnAthena: true,
		Run: func(ctx context.Context, call *activity.Call, x *UpdateDataConfig) (*activity.Result, error) {
			return runUpdateData(ctx, d, call, x)
		},
	})
}

func checkUpdateData(c *activity.Check, x *UpdateDataConfig) {
	c.OneOf(x.Operation, c.Path("operation"), "operation", "insert", "update", "upsert", "delete")
	t, ok := c.DimensionTable(x.Table, c.Path("table"))
	if !ok {
		return
	}
	in := c.Input(0)
	if len(x.Key) == 0 {
		c.Errorf(c.Path("key"), "key needs at least one pair { tableColumn: inputColumn }")
	}
	for _, k := range campaign.SortedKeys(x.Key) {
		kp := c.Path("key", k)
		tc, tok := c.RequireColumn(t.Schema(), k, kp)
		ic, iok := c.RequireColumn(in, x.Key[k], kp)
		if tok && iok && tc.Type != ic.Type {
			c.Errorf(kp, "key types differ: %s.%s is %s, input %q is %s", t.Name, k, tc.Type, x.Key[k], ic.Type)
		}
	}
	if x.Operation == "delete" && len(x.Set) > 0 {
		c.Errorf(c.Path("set"), "delete takes no set")
	}
	if x.Operation == "insert" || x.Operation == "upsert" {
		for _, k := range t.Key {
			if _, ok := x.Key[k]; !ok {
				c.Errorf(c.Path("key"), "%s needs the key of %s: map %s", x.Operation, t.Name, strings.Join(t.Key, ", "))
				break
			}
		}
	}
	for _, k := range campaign.SortedKeys(x.Set) {
		v := x.Set[k]
		sp := c.Path("set", k)
		tc, ok := c.RequireColumn(t.Schema(), k, sp)
		if !ok {
			continue
		}
		if _, isKey := x.Key[k]; isKey || contains(t.Key, k) {
			c.Errorf(sp, "set cannot change the key column %q", k)
		}
		if lit, ok := v.Literal.(string); ok && !v.IsRef() && v.Increment == nil && len(tc.Enum) > 0 && !contains(tc.Enum, lit) {
			c.Errorf(sp, "%q is not one of %s", lit, strings.Join(tc.Enum, ", "))
		}
		switch {
		case v.Increment != nil:
			if tc.Type != campaign.TypeInteger && tc.Type != campaign.TypeNumber && tc.Type != campaign.TypeDecimal {
				c.Errorf(sp, "increment needs a numeric column; %q is %s", k, tc.Type)
			} else if tc.Type == campaign.TypeInteger && *v.Increment != float64(int64(*v.Increment)) {
				c.Errorf(sp, "increment of the integer column %q must be a whole number", k)
			}
		case v.Now:
			if tc.Type != campaign.TypeTimestamp && tc.Type != campaign.TypeDate {
				c.Errorf(sp, "now needs a date or timestamp column; %q is %s", k, tc.Type)
			}
		case v.Field != "":
			c.RequireColumn(in, v.Field, campaign.JoinPath(sp, "field"))
		case v.Param != "":
			if _, ok := c.Campaign.Parameters[v.Param]; !ok {
				c.Errorf(campaign.JoinPath(sp, "param"), "parameter %q is not declared%s", v.Param, campaign.DidYouMean(v.Param, paramNames(c.Campaign)))
			}
		case v.Variable != "":
			if _, ok := c.Campaign.Variables[v.Variable]; !ok {
				c.Errorf(campaign.JoinPath(sp, "variable"), "variable %q is not declared", v.Variable)
			}
		case v.Ago != "" || v.Ahead != "":
			c.Errorf(sp, "set takes a literal, now, increment, field, param or variable")
		}
	}
}

// TableStore is the version log of managed tables update-data commits to
// (datatask.Task.Tables).
type TableStore interface {
	CurrentTable(ctx context.Context, table string) (state.TableVersion, error)
	Version(ctx context.Context, table string, n int64) (state.TableVersion, error)
	CommitTable(ctx context.Context, table string, expected int64, ref string, at time.Time) (state.TableVersion, error)
}

// MaxCommitAttempts bounds how often one update-data task recomputes on a
// newer table version after losing a commit race before it fails with
// activity.Conflict (which the state machine's Retry then retries).
var MaxCommitAttempts = 8

// runUpdateData applies the input rows to a catalog table and commits the
// result as the table's next immutable version.
//
// Protocol: read the current version V (the table's log in the warehouse,
// see tablelog), compute the whole new table with DuckDB (V's rows ⊕ the
// applicable input rows), write it as an immutable dataset
// warehouse/<table>/v<V+1>-u<tag>, record the attempt in the task's folder
// of the run store, then commit V+1 (the conditional create of its marker
// in the warehouse). A lost race (ErrConflict) recomputes on the new version;
// a crash anywhere before the commit leaves V current and intact. tag
// identifies (run, activity): a retried task first checks its last recorded
// attempt and, if it committed, only rewrites its ports (computed against
// the version it was applied to), so an update never applies twice.
//
// One task commits one version (all or nothing). batchSize is accepted for
// compatibility and does not split the commit: partial commits would leave
// the table half-updated when a later batch fails. The new version is a
// full rewrite of the table, sorted by its key.
//
// In test mode the task computes out and rejects against the current
// version and writes nothing to the table.
func runUpdateData(ctx context.Context, d *Deps, call *activity.Call, x *UpdateDataConfig) (*activity.Result, error) {
	t, err := datatask.Open(ctx, &d.Data, call)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	req := call.Req
	res := activity.NewResult([]string{"out", "rejects"})
	ins, err := t.StageInputs()
	if err != nil {
		return nil, err
	}
	if len(ins) == 0 || ins[0].View == "" {
		res.Status = activity.StatusSkipped
		if req.Phase == phasePlan {
			res.Extra = map[string]any{"done": true}
		}
		return res, nil
	}
	tbl, ok := t.Comp.Catalog.Table(x.Table)
	if !ok {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: unknown table %q", x.Table)}
	}
	u := &updater{t: t, x: x, tbl: tbl, in: ins[0], tag: applyTag(req.Run.ID, req.Activity), a: d.Athena}
	if !req.Run.Test {
		u.st = t.Tables()
	}
	switch req.Phase {
	case phasePlan:
		return u.planAthena(res)
	case phaseFinish:
		return u.finishAthena(res)
	}
	if x.BatchSize > 0 {
		t.Logf("batchSize %d: the whole input commits as one table version", x.BatchSize)
	}
	return u.run(res)
}

// applyTag names the update of one activity of one run in version refs.
func applyTag(runID, activityID string) string {
	h := sha256.Sum256([]byte(runID + "\x00" + activityID))
	return hex.EncodeToString(h[:8])
}

// versionRef is the ref of a table version written by the update tagged tag.
func versionRef(table string, version int64, tag string) dataset.Ref {
	return dataset.Ref(blob.Join(dataset.WarehousePrefix, table, fmt.Sprintf("v%06d-u%s", version, tag)))
}

type updater struct {
	t    *datatask.Task
	x    *UpdateDataConfig
	tbl  *campaign.Table
	in   datatask.Input
	st   TableStore
	a    Athena // engine athena's host
	tag  string
	thru string // the input's StagePassThrough view, once staged
}

func (u *updater) run(res *activity.Result) (*activity.Result, error) {
	t := u.t
	// Both ports written: a retried task that had finished (committed, or
	// found nothing to apply). Its decision stands.
	if done, err := finished(t, res); err != nil || done {
		return orNil(res, err), err
	}
	if t.Req.Run.Test {
		cur, err := current(t, u.x)
		if err != nil {
			return nil, err
		}
		p, err := u.plan(cur)
		if err != nil {
			return nil, err
		}
		defer p.drop()
		t.Logf("test mode: would apply %d rows to %s (version %d), %d rejected; nothing written", p.applied, u.tbl.Name, cur.Version, p.rejected)
		err = p.ports(res)
		return orNil(res, err), err
	}
	if done, err := u.resume(res); err != nil || done {
		return orNil(res, err), err
	}
	for try := 1; ; try++ {
		cur, err := current(t, u.x)
		if err != nil {
			return nil, err
		}
		p, err := u.plan(cur)
		if err != nil {
			return nil, err
		}
		if p.applied == 0 {
			// Nothing applies: no new version.
			defer p.drop()
			t.Logf("%s: no row applies (%d rejected); version %d stays current", u.tbl.Name, p.rejected, cur.Version)
			err = p.ports(res)
			return orNil(res, err), err
		}
		ref := versionRef(u.tbl.Name, cur.Version+1, u.tag)
		m, err := t.Warehouse().Write(t.Ctx, dataset.Output{Ref: ref, Dimension: u.tbl.Name, Key: u.tbl.Key, CreatedAt: t.Now()}, p.tableSQL())
		if err == nil {
			err = u.record(attempt{Version: cur.Version + 1, Ref: string(ref)})
		}
		if err != nil {
			p.drop()
			return nil, fmt.Errorf("update-data: write version %d of %s: %w", cur.Version+1, u.tbl.Name, err)
		}
		v, err := u.st.CommitTable(t.Ctx, u.tbl.Name, cur.Version, string(ref), t.Env.Now())
		if errors.Is(err, state.ErrConflict) {
			p.drop()
			if try >= MaxCommitAttempts {
				return nil, &activity.Conflict{Msg: fmt.Sprintf("update-data: table %s changed under this task %d times in a row; nothing applied", u.tbl.Name, try)}
			}
			t.Logf("%s moved past version %d while this task computed; recomputing (attempt %d)", u.tbl.Name, cur.Version, try+1)
			if err := backoff(t.Ctx, try); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			// The commit's outcome is unknown: a retry finds it in the history.
			p.drop()
			return nil, fmt.Errorf("update-data: commit %s: %w", u.tbl.Name, err)
		}
		defer p.drop()
		t.Logf("committed %s version %d (%d rows): %s; %d rejected", u.tbl.Name, v.Version, m.Rows, p.summary(), p.rejected)
		err = p.ports(res)
		return orNil(res, err), err
	}
}

// attempt is the version a task last tried to commit, recorded in the run
// store before the commit: a retried task checks whether it landed.
type attempt struct {
	Version int64  `json:"version"`
	Ref     string `json:"ref"`
}

// attemptKey is the run-store key of the task's last commit attempt ("-":
// never a port name).
func (u *updater) attemptKey() string { return string(u.t.Out("-commit")) + ".json" }

func (u *updater) record(a attempt) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return u.t.Engine.Store().Put(u.t.Ctx, u.attemptKey(), bytes.NewReader(b))
}

// resume handles a retried task whose update was committed already: its
// ports are recomputed against the version it was applied to.
func (u *updater) resume(res *activity.Result) (bool, error) {
	t := u.t
	b, err := blob.ReadAll(t.Ctx, t.Engine.Store(), u.attemptKey())
	if errors.Is(err, blob.ErrNotFound) {
		return u.resumeLegacy(res)
	}
	var a attempt
	if err == nil {
		err = json.Unmarshal(b, &a)
	}
	if err != nil {
		return false, fmt.Errorf("update-data: read the last commit attempt: %w", err)
	}
	v, err := u.st.Version(t.Ctx, u.tbl.Name, a.Version)
	if errors.Is(err, state.ErrNotFound) || err == nil && v.Ref != a.Ref {
		return false, nil // the attempt did not commit
	}
	if err != nil {
		return false, fmt.Errorf("update-data: table version: %w", err)
	}
	base := state.TableVersion{Table: u.tbl.Name}
	if a.Version > 1 {
		if base, err = u.st.Version(t.Ctx, u.tbl.Name, a.Version-1); err != nil {
			return false, fmt.Errorf("update-data: table version: %w", err)
		}
	}
	return true, u.replay(res, base, v)
}

// resumeLegacy finds an update committed by an older release, which kept
// table heads in the state store, in that store's history.
func (u *updater) resumeLegacy(res *activity.Result) (bool, error) {
	t := u.t
	legacy := t.Deps.State
	if legacy == nil {
		return false, nil
	}
	hist, err := legacy.TableHistory(t.Ctx, u.tbl.Name)
	if err != nil {
		return false, fmt.Errorf("update-data: table history: %w", err)
	}
	suffix := "-u" + u.tag
	for _, v := range hist {
		if !strings.HasSuffix(v.Ref, suffix) {
			continue
		}
		base := state.TableVersion{Table: u.tbl.Name, Version: v.Version - 1}
		for _, w := range hist {
			if w.Version == v.Version-1 {
				base = w
			}
		}
		return true, u.replay(res, base, v)
	}
	return false, nil
}

// replay writes the ports of an update committed as v over base.
func (u *updater) replay(res *activity.Result, base, v state.TableVersion) error {
	p, err := u.plan(base)
	if err != nil {
		return err
	}
	defer p.drop()
	u.t.Logf("already committed as %s version %d: not applied again", u.tbl.Name, v.Version)
	return p.ports(res)
}

// current returns the table's current version (Version 0, no Ref, before
// its first commit).
func current(t *datatask.Task, cfg *UpdateDataConfig) (state.TableVersion, error) {
	v, err := t.Tables().CurrentTable(t.Ctx, cfg.Table)
	if errors.Is(err, state.ErrNotFound) {
		return state.TableVersion{Table: cfg.Table}, nil
	}
	if err != nil {
		return v, fmt.Errorf("update-data: read table version: %w", err)
	}
	return v, nil
}

func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(5+rand.IntN(20*attempt)) * time.Millisecond
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// plan is the update computed against one base version.
type plan struct {
	u       *updater
	base    string // view of the base rows
	from    string // view of the input rows the changes read (see passThrough)
	thru    bool   // from is a StagePassThrough view of a narrow input
	cols    []campaign.Column
	changes string // table: input rows + __sw_ columns + __sw_reason
	consts  string // table: one row of constant set values
	inCols  []string
	keys    [][2]string // (table column, input column), sorted
	sets    []setPlan
	// constSel and constArgs select the constant set values (one row).
	constSel  []string
	constArgs []any
	applied   int64
	rejected  int64
	counts    map[string]int64
	extra     []string // more tables to drop
}

type setPlan struct {
	col   campaign.Column
	duck  string
	kind  string // const, field, increment
	field string
	alias string
	null  bool     // a constant meant to be null
	enum  []string // the catalog's allowed values of the column
}

func (p *plan) drop() {
	t := p.u.t
	for _, n := range append([]string{p.changes, p.consts}, p.extra...) {
		if n != "" {
			t.Engine.Exec(context.WithoutCancel(t.Ctx), "DROP TABLE IF EXISTS "+datatask.Q(n))
		}
	}
}

// prepare stages version v of the table and resolves the keys and the set
// values (the constants checked): what both engines classify the input with.
func (u *updater) prepare(v state.TableVersion) (*plan, error) {
	t, x := u.t, u.x
	p := &plan{u: u, counts: map[string]int64{}}
	p.base = t.View(fmt.Sprintf("base_v%d", v.Version))
	if err := u.stageBase(p.base, v); err != nil {
		return nil, err
	}
	cols, err := t.Engine.Columns(t.Ctx, "SELECT * FROM "+datatask.Q(p.base))
	if err != nil {
		return nil, err
	}
	p.cols = cols
	byName := map[string]campaign.Column{}
	for _, c := range cols {
		byName[c.Name] = c
	}
	p.inCols = u.in.Manifest.ColumnNames()
	for _, k := range campaign.SortedKeys(x.Key) {
		if _, ok := byName[k]; !ok {
			return nil, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: table %s has no column %q", u.tbl.Name, k)}
		}
		if !slices.Contains(p.inCols, x.Key[k]) {
			return nil, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: the input has no column %q (key %s)", x.Key[k], k)}
		}
		p.keys = append(p.keys, [2]string{k, x.Key[k]})
	}
	if len(p.keys) == 0 {
		return nil, &activity.InvalidInput{Msg: "update-data: key is empty"}
	}
	if x.Operation == "insert" || x.Operation == "upsert" {
		for _, k := range u.tbl.Key {
			if _, ok := x.Key[k]; !ok {
				return nil, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: %s needs the table key: map %s in key", x.Operation, strings.Join(u.tbl.Key, ", "))}
			}
		}
	}
	if p.constSel, p.constArgs, err = u.sets(p, byName); err != nil {
		return nil, err
	}
	n := t.View("chg")
	p.consts, p.changes = n+"_k", n+"_c"
	if err := t.Engine.Exec(t.Ctx, "CREATE OR REPLACE TABLE "+datatask.Q(p.consts)+" AS SELECT "+strings.Join(p.constSel, ", "), p.constArgs...); err != nil {
		return nil, err
	}
	if err := u.checkConsts(p); err != nil {
		p.drop()
		return nil, err
	}
	return p, nil
}

// plan stages version v of the table and classifies every input row.
func (u *updater) plan(v state.TableVersion) (*plan, error) {
	t, x := u.t, u.x
	p, err := u.prepare(v)
	if err != nil {
		return nil, err
	}
	if p.from, p.thru, err = u.passThrough(p); err != nil {
		p.drop()
		return nil, err
	}
	if err := t.Engine.Exec(t.Ctx, p.changesSQL(p.changes, datatask.Q(p.from))); err != nil {
		p.drop()
		return nil, fmt.Errorf("update-data: %w", err)
	}
	err = t.Engine.Query(t.Ctx, 10, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			if r[0] == nil {
				p.rejected = r[1].(int64)
				continue
			}
			p.counts[r[0].(string)] = r[1].(int64)
			p.applied += r[1].(int64)
		}
		return nil
	}, "SELECT CASE WHEN __sw_reason IS NOT NULL THEN NULL WHEN __sw_n = 0 THEN 'inserted' WHEN ? = 'delete' THEN 'deleted' ELSE 'updated' END AS k, count(*) FROM "+
		datatask.Q(p.changes)+" GROUP BY k", x.Operation)
	if err != nil {
		p.drop()
		return nil, err
	}
	return p, nil
}

// stageBase stages version v: its dataset, or for version 0 the table's
// catalog source (or an empty table of its declared columns).
func (u *updater) stageBase(view string, v state.TableVersion) error {
	t := u.t
	switch {
	case v.Ref != "":
		if _, err := t.Warehouse().StageDataset(t.Ctx, view, dataset.Ref(v.Ref)); err != nil {
			return fmt.Errorf("update-data: read %s version %d: %w", u.tbl.Name, v.Version, err)
		}
	case u.tbl.Source != "":
		if _, err := t.Engine.StageSource(t.Ctx, view, dataset.Source{Location: t.Comp.Catalog.Resolve(u.tbl.Source), Columns: u.tbl.Columns}); err != nil {
			return fmt.Errorf("update-data: table %s: cannot read its source %s: %w", u.tbl.Name, u.tbl.Source, err)
		}
	default:
		var cols []string
		for _, c := range u.tbl.Columns {
			typ, err := dataset.DuckDBType(c)
			if err != nil {
				return err
			}
			cols = append(cols, "CAST(NULL AS "+typ+") AS "+datatask.Q(c.Name))
		}
		if len(cols) == 0 {
			return &activity.InvalidInput{Msg: fmt.Sprintf("update-data: table %s has no data and no declared columns", u.tbl.Name)}
		}
		return t.Engine.Exec(t.Ctx, "CREATE OR REPLACE VIEW "+datatask.Q(view)+" AS SELECT "+strings.Join(cols, ", ")+" WHERE false")
	}
	return nil
}

// sets resolves the set values; constants (literals, params, variables,
// now, increments) become one bound row.
func (u *updater) sets(p *plan, byName map[string]campaign.Column) ([]string, []any, error) {
	t, x := u.t, u.x
	sel := []string{"1 AS __sw_one"}
	var args []any
	loc := t.Location()
	for i, name := range campaign.SortedKeys(x.Set) {
		v := x.Set[name]
		col, ok := byName[name]
		if !ok {
			return nil, nil, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: table %s has no column %q", u.tbl.Name, name)}
		}
		duck, err := dataset.DuckDBType(col)
		if err != nil {
			return nil, nil, err
		}
		s := setPlan{col: col, duck: duck, alias: fmt.Sprintf("__sw_s%d", i)}
		if decl, ok := u.tbl.Column(name); ok {
			s.enum = decl.Enum
		}
		var val any
		switch {
		case v.Increment != nil:
			s.kind = "increment"
			val = *v.Increment
			if col.Type == campaign.TypeInteger {
				if *v.Increment != math.Trunc(*v.Increment) {
					return nil, nil, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: set.%s: increment %v is not a whole number; %s is an integer column", name, *v.Increment, name)}
				}
				val = int64(*v.Increment)
			}
		case v.Field != "":
			s.kind, s.field = "field", v.Field
			if !slices.Contains(p.inCols, v.Field) {
				return nil, nil, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: set.%s: the input has no column %q", name, v.Field)}
			}
		case v.Now:
			s.kind, val = "const", t.Now()
		case v.Param != "":
			s.kind = "const"
			pv, ok := t.Req.Run.Params[v.Param]
			if !ok || pv == nil {
				return nil, nil, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: set.%s: parameter %q has no value in this run", name, v.Param)}
			}
			val = pv
		case v.Variable != "":
			s.kind, val = "const", t.Comp.Campaign.Variables[v.Variable]
		case v.Ago != "" || v.Ahead != "":
			return nil, nil, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: set.%s: ago/ahead are not set values", name)}
		default:
			s.kind, val = "const", v.Literal
		}
		if s.kind != "field" {
			s.null = val == nil
			sel = append(sel, fmt.Sprintf("TRY_CAST(? AS %s) AS %s", duck, s.alias))
			args = append(args, bindValue(val, col.Type, loc))
		}
		p.sets = append(p.sets, s)
	}
	return sel, args, nil
}

// bindValue prepares a constant for TRY_CAST to a column of type typ.
func bindValue(v any, typ string, loc *time.Location) any {
	switch x := v.(type) {
	case nil:
		return nil
	case time.Time:
		if typ == campaign.TypeDate {
			return x.In(loc).Format(time.DateOnly)
		}
		return x.UTC().Format(time.RFC3339Nano)
	case string:
		if typ == campaign.TypeTimestamp || typ == campaign.TypeDate {
			if tm, _, err := campaign.ParseTime(x, loc); err == nil {
				if typ == campaign.TypeDate {
					return tm.In(loc).Format(time.DateOnly)
				}
				return tm.UTC().Format(time.RFC3339Nano)
			}
		}
		return x
	case int:
		return int64(x)
	case int64, float64, bool:
		return x
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

// checkConsts fails on a constant that does not convert to its column.
func (u *updater) checkConsts(p *plan) error {
	row, err := u.t.Engine.QueryRow(u.t.Ctx, "SELECT * FROM "+datatask.Q(p.consts))
	if err != nil {
		return err
	}
	i := 1
	for _, s := range p.sets {
		if s.kind == "field" {
			continue
		}
		if row[i] == nil && !s.null {
			return &activity.InvalidInput{Msg: fmt.Sprintf("update-data: set.%s: the value is not a valid %s", s.col.Name, s.col.Type)}
		}
		if v, ok := row[i].(string); ok && len(s.enum) > 0 && s.kind == "const" && !slices.Contains(s.enum, v) {
			return &activity.InvalidInput{Msg: fmt.Sprintf("update-data: set.%s: %q is not one of %s", s.col.Name, v, strings.Join(s.enum, ", "))}
		}
		i++
	}
	return nil
}

// passThrough returns the view the changes read: the input's own files
// (StagePassThrough: the base's columns as NULL placeholders) when the input
// is narrow and the key and field columns are its own, else the input. Each
// input row's applicability depends on those columns alone; out passes the
// applied rows through, written narrow over the input's base (it orders them
// by the key's input columns first, which are distinct over applied rows, so
// the placeholders never decide an order); rejects, which need every value,
// are recomputed from the input (see rejectsFrom).
func (u *updater) passThrough(p *plan) (string, bool, error) {
	m := u.in.Manifest
	if !updatePassThrough || m.Base == nil || u.in.Ref == nil || len(m.Key) == 0 {
		return u.in.View, false, nil
	}
	for _, k := range p.keys {
		if slices.Contains(m.Base.Columns, k[1]) {
			return u.in.View, false, nil
		}
	}
	for _, s := range p.sets {
		if s.kind == "field" && slices.Contains(m.Base.Columns, s.field) {
			return u.in.View, false, nil
		}
	}
	if u.thru == "" {
		view := u.t.View("thru")
		if _, err := u.t.Engine.StagePassThrough(u.t.Ctx, view, dataset.Ref(*u.in.Ref)); err != nil {
			return "", false, err
		}
		u.thru = view
	}
	return u.thru, true, nil
}

// updatePassThrough lets tests read narrow inputs joined to their base, to compare.
var updatePassThrough = true

// rejectsFrom returns the table rejects are written from: the changes, or,
// when they read a pass-through view and some rows are rejected, the changes
// computed again from the input (with every value) for the rejected rows'
// keys: all the rows of a rejected key are rejected (a repeated key rejects
// each of its rows), so their reasons are the same.
func (p *plan) rejectsFrom() (string, error) {
	if !p.thru || p.rejected == 0 {
		return p.changes, nil
	}
	t := p.u.t
	typeOf := map[string]campaign.Column{}
	for _, c := range p.cols {
		typeOf[c.Name] = c
	}
	var same []string
	for i, k := range p.keys {
		duck, _ := dataset.DuckDBType(typeOf[k[0]])
		same = append(same, fmt.Sprintf("r.__sw_k%d IS NOT DISTINCT FROM TRY_CAST(x.%s AS %s)", i, datatask.Q(k[1]), duck))
	}
	full := p.changes + "_r"
	from := "(SELECT * FROM " + datatask.Q(p.u.in.View) + " AS x WHERE EXISTS (SELECT 1 FROM " + datatask.Q(p.changes) +
		" AS r WHERE r.__sw_reason IS NOT NULL AND " + strings.Join(same, " AND ") + "))"
	if err := t.Engine.Exec(t.Ctx, p.changesSQL(full, from)); err != nil {
		return "", fmt.Errorf("update-data: %w", err)
	}
	p.extra = append(p.extra, full)
	return full, nil
}

// changesSQL materializes the input rows of from (a FROM item) into the
// table into, with their converted keys and field values, their match count
// in the base, and why they cannot apply.
func (p *plan) changesSQL(into, from string) string {
	return "CREATE OR REPLACE TABLE " + datatask.Q(into) + " AS " + p.classifySQL(condition.DuckDB, from, datatask.Q(p.base))
}

// classifySQL selects the input rows of from with their converted keys and
// field values, their match count in base (a relation), and why they cannot
// apply, in dialect d. Trino spells out what DuckDB infers: a count made
// text, the grouping columns.
func (p *plan) classifySQL(d condition.Dialect, from, base string) string {
	u := p.u
	text := func(e string) string {
		if d == condition.Trino {
			return "CAST(" + e + " AS VARCHAR)"
		}
		return e
	}
	op := u.x.Operation
	var sel, part, on, mk, in, group []string
	for _, c := range p.inCols {
		sel = append(sel, datatask.Q(c))
	}
	typeOf := map[string]campaign.Column{}
	for _, c := range p.cols {
		typeOf[c.Name] = c
	}
	var reasons []string
	for i, k := range p.keys {
		duck, _ := dataset.DuckDBType(typeOf[k[0]])
		duck = d.TypeName(duck)
		alias := fmt.Sprintf("__sw_k%d", i)
		sel = append(sel, fmt.Sprintf("TRY_CAST(%s AS %s) AS %s", datatask.Q(k[1]), duck, alias))
		group = append(group, datatask.Q(k[0]))
		part = append(part, alias)
		mk = append(mk, fmt.Sprintf("%s AS __sw_m%d", datatask.Q(k[0]), i))
		on = append(on, fmt.Sprintf("d.%s = m.__sw_m%d", alias, i))
		in = append(in, fmt.Sprintf("i.%s = b.%s", alias, datatask.Q(k[0])))
		reasons = append(reasons, fmt.Sprintf("WHEN d.%s IS NULL THEN %s", datatask.Q(k[1]),
			dataset.QuoteLiteral(fmt.Sprintf("key %s (input column %s) is empty", k[0], k[1]))))
		// Reasons never quote values (the rejected row holds them).
		reasons = append(reasons, fmt.Sprintf("WHEN d.%s IS NULL THEN %s", alias,
			dataset.QuoteLiteral(fmt.Sprintf("key %s: the value of input column %s is not a valid %s", k[0], k[1], typeOf[k[0]].Type))))
	}
	reasons = append(reasons, "WHEN d.__sw_dup > 1 THEN 'the key appears ' || "+text("d.__sw_dup")+" || ' times in the input'")
	table := u.tbl.Name
	switch op {
	case "insert":
		reasons = append(reasons, "WHEN m.__sw_n > 0 THEN "+dataset.QuoteLiteral("the key is already in table "+table))
	case "update", "delete":
		reasons = append(reasons, "WHEN m.__sw_n IS NULL THEN "+dataset.QuoteLiteral("the key is not in table "+table))
	}
	reasons = append(reasons, "WHEN m.__sw_n > 1 THEN 'the key matches ' || "+text("m.__sw_n")+" || "+dataset.QuoteLiteral(" rows of table "+table))
	for _, s := range p.sets {
		if s.kind != "field" {
			continue
		}
		sel = append(sel, fmt.Sprintf("TRY_CAST(%s AS %s) AS %s", datatask.Q(s.field), d.TypeName(s.duck), s.alias))
		reasons = append(reasons, fmt.Sprintf("WHEN d.%s IS NOT NULL AND d.%s IS NULL THEN %s",
			datatask.Q(s.field), s.alias, dataset.QuoteLiteral(fmt.Sprintf("set %s: the value of input column %s is not a valid %s", s.col.Name, s.field, s.col.Type))))
		if len(s.enum) > 0 {
			allowed := make([]string, len(s.enum))
			for i, e := range s.enum {
				allowed[i] = dataset.QuoteLiteral(e)
			}
			reasons = append(reasons, fmt.Sprintf("WHEN CAST(d.%s AS VARCHAR) NOT IN (%s) THEN %s", s.alias, strings.Join(allowed, ", "),
				dataset.QuoteLiteral(fmt.Sprintf("set %s: the value of input column %s is not one of %s", s.col.Name, s.field, strings.Join(s.enum, ", ")))))
		}
	}
	groupBy := "ALL"
	if d == condition.Trino {
		groupBy = strings.Join(group, ", ")
	}
	return "WITH i AS (SELECT " + strings.Join(sel, ", ") + " FROM " + from + "), " +
		"d AS (SELECT *, count(*) OVER (PARTITION BY " + strings.Join(part, ", ") + ") AS __sw_dup FROM i), " +
		// m counts the base's rows of the input's keys only (the join below
		// reads no other): a semi-join instead of grouping the whole table.
		"m AS (SELECT " + strings.Join(mk, ", ") + ", count(*) AS __sw_n FROM " + base + " AS b WHERE EXISTS (SELECT 1 FROM i WHERE " +
		strings.Join(in, " AND ") + ") GROUP BY " + groupBy + ") " +
		"SELECT d.*, COALESCE(m.__sw_n, 0) AS __sw_n, CASE " + strings.Join(reasons, " ") + " END AS __sw_reason " +
		"FROM d LEFT JOIN m ON " + strings.Join(on, " AND ")
}

// colValue is a table column's value in an updated row (b: the base row,
// c: the applied change) and in an inserted one.
type colValue struct {
	q, duck  string // quoted name, DuckDB type
	upd, ins string
	set      bool // set changes it
}

// values are the table's columns' values after the change; k is the
// relation holding the constant set values.
func (p *plan) values(k string) []colValue {
	setOf := map[string]setPlan{}
	for _, s := range p.sets {
		setOf[s.col.Name] = s
	}
	keyOf := map[string]string{}
	for i, k := range p.keys {
		keyOf[k[0]] = fmt.Sprintf("c.__sw_k%d", i)
	}
	var out []colValue
	for _, col := range p.cols {
		duck, _ := dataset.DuckDBType(col)
		q := datatask.Q(col.Name)
		b := "b." + q
		v := colValue{q: q, duck: duck, upd: b, ins: "NULL"}
		if kc, ok := keyOf[col.Name]; ok {
			v.ins = kc
		}
		if s, ok := setOf[col.Name]; ok {
			v.set = true
			switch s.kind {
			case "const":
				v.upd, v.ins = k+"."+s.alias, k+"."+s.alias
			case "field":
				v.upd, v.ins = "c."+s.alias, "c."+s.alias
			case "increment":
				v.upd, v.ins = fmt.Sprintf("COALESCE(%s, 0) + %s.%s", b, k, s.alias), k+"."+s.alias
			}
		}
		out = append(out, v)
	}
	return out
}

// tableSQL is the new version: base rows (updated, or without the deleted
// ones) and inserted rows, sorted by the table key.
func (p *plan) tableSQL() string {
	u := p.u
	var upd, ins, on, order []string
	for i, k := range p.keys {
		on = append(on, fmt.Sprintf("b.%s = c.__sw_k%d", datatask.Q(k[0]), i))
	}
	for _, e := range p.values("k") {
		uexpr := e.upd
		if e.set {
			uexpr = fmt.Sprintf("CASE WHEN c.__sw_k0 IS NOT NULL THEN %s ELSE %s END", uexpr, "b."+e.q)
		}
		upd = append(upd, fmt.Sprintf("CAST(%s AS %s) AS %s", uexpr, e.duck, e.q))
		ins = append(ins, fmt.Sprintf("CAST(%s AS %s) AS %s", e.ins, e.duck, e.q))
	}
	for _, k := range u.tbl.Key {
		order = append(order, datatask.Q(k))
	}
	if len(order) == 0 {
		order = append(order, "ALL")
	}
	applied := "(SELECT * FROM " + datatask.Q(p.changes) + " WHERE __sw_reason IS NULL)"
	q := "SELECT " + strings.Join(upd, ", ") + " FROM " + datatask.Q(p.base) + " b LEFT JOIN " + applied + " c ON " + strings.Join(on, " AND ") +
		" CROSS JOIN " + datatask.Q(p.consts) + " k"
	if u.x.Operation == "delete" {
		q += " WHERE c.__sw_k0 IS NULL"
	}
	if u.x.Operation == "insert" || u.x.Operation == "upsert" {
		q += " UNION ALL SELECT " + strings.Join(ins, ", ") + " FROM " + applied + " c CROSS JOIN " + datatask.Q(p.consts) + " k WHERE c.__sw_n = 0"
	}
	return "SELECT * FROM (" + q + ") ORDER BY " + strings.Join(order, ", ")
}

// ports writes out (the input rows applied) and rejects (the others, with
// a reason), both ordered by the key columns, then the other columns.
func (p *plan) ports(res *activity.Result) error {
	t := p.u.t
	var order, sel, rej []string
	for _, k := range p.keys {
		order = append(order, datatask.Q(k[1]))
	}
	for _, c := range p.inCols {
		sel = append(sel, datatask.Q(c))
		if !slices.ContainsFunc(p.keys, func(k [2]string) bool { return k[1] == c }) {
			order = append(order, datatask.Q(c))
		}
		if c != "reason" {
			rej = append(rej, datatask.Q(c))
		}
	}
	from := " FROM " + datatask.Q(p.changes)
	m := p.u.in.Manifest
	outSQL := "SELECT " + strings.Join(sel, ", ") + from + " WHERE __sw_reason IS NULL ORDER BY " + strings.Join(order, ", ")
	var err error
	if p.thru {
		_, err = t.WriteThrough(res, "out", m.Dimension, m.Key, m.Base, outSQL)
	} else {
		_, err = t.Write(res, "out", m.Dimension, m.Key, outSQL)
	}
	if err != nil {
		return portErr("out", err)
	}
	rejects, err := p.rejectsFrom()
	if err != nil {
		return portErr("rejects", err)
	}
	_, err = t.Write(res, "rejects", m.Dimension, nil, "SELECT "+strings.Join(rej, ", ")+", __sw_reason AS reason FROM "+datatask.Q(rejects)+
		" WHERE __sw_reason IS NOT NULL ORDER BY "+strings.Join(order, ", ")+", reason")
	return portErr("rejects", err)
}

// portErr names the port a write failed on. The update itself may be
// committed already: a retry only rewrites the ports.
func portErr(port string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("update-data: write port %s: %w", port, err)
}

func (p *plan) summary() string {
	var parts []string
	for _, k := range []string{"updated", "inserted", "deleted"} {
		if n := p.counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}
