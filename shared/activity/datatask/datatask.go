// Package datatask is what dataset-backed activity handlers share: the DuckDB
// engine of an Env, staging of inbound populations and catalog tables as
// views, output refs, and condition scopes.
package datatask

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Deps are what dataset-backed handlers need from their host.
type Deps struct {
	// Blob is the run store: inbound populations, outputs, snapshots.
	Blob blob.Store
	// Buckets opens other S3 buckets, for s3:// sources (nil: none).
	Buckets func(bucket string) (blob.Store, error)
	// Warehouse holds managed table versions when the catalog names no
	// warehouse folder (nil: the run store).
	Warehouse blob.Store
	// MemoryLimit caps DuckDB, in bytes (0: dataset.DefaultMemoryLimit).
	MemoryLimit int64
	// Engine is an engine shared by every invocation (local: one per
	// process); nil: one per Env, closed with it.
	Engine *dataset.Engine
	// State holds saved audiences and, for homes of older releases, table
	// version heads (nil: neither).
	State Store
}

// Store is the part of the state store dataset handlers read.
type Store interface {
	Audiences
	tablelog.Legacy
}

// Audiences is the part of the state store holding saved audiences.
type Audiences interface {
	GetAudience(ctx context.Context, name string) (state.Audience, error)
}

const sharedEngine = "dataset.engine"

// EngineOf returns the engine of an invocation: d.Engine, else one created
// once per Env in its WorkDir, which Env.Close closes (a Lambda
// invocation's Env: see lambdafn.Scratch).
func (d *Deps) EngineOf(env *activity.Env) (*dataset.Engine, error) {
	if d.Engine != nil {
		return d.Engine, nil
	}
	if d.Blob == nil {
		return nil, &activity.InvalidInput{Msg: "no run store is configured"}
	}
	v, err := env.Shared(sharedEngine, func() (any, error) {
		return dataset.New(dataset.Options{Store: d.Blob, WorkDir: env.WorkDir, MemoryLimit: d.MemoryLimit, Buckets: d.Buckets})
	})
	if err != nil {
		return nil, err
	}
	return v.(*dataset.Engine), nil
}

// Task is one handler invocation with its staging scope: views it creates
// get unique names and are dropped by Close.
type Task struct {
	Ctx    context.Context
	Call   *activity.Call
	Env    *activity.Env
	Req    *activity.Request
	Comp   *activity.Compiled
	Deps   *Deps
	Engine *dataset.Engine

	prefix    string
	views     []string
	tables    map[string]string
	bases     map[string]dataset.Ref
	warehouse *dataset.Engine
}

// Open starts a task: the invocation's engine and the warehouse.
func Open(ctx context.Context, d *Deps, call *activity.Call) (*Task, error) {
	eng, err := d.EngineOf(call.Env)
	if err != nil {
		return nil, err
	}
	wh, err := d.warehouse(call.Env, call.Plan, eng)
	if err != nil {
		return nil, err
	}
	var b [4]byte
	rand.Read(b[:])
	return &Task{Ctx: ctx, Call: call, Env: call.Env, Req: call.Req, Comp: call.Plan, Deps: d, Engine: eng, warehouse: wh,
		prefix: "sw_" + sanitize(call.Req.Activity) + "_" + hex.EncodeToString(b[:]) + "_", tables: map[string]string{}, bases: map[string]dataset.Ref{}}, nil
}

// Logf appends a line to the task's log.
func (t *Task) Logf(format string, args ...any) { t.Call.Logf(t.Ctx, format, args...) }

// warehouse resolves where managed table versions live: the catalog's
// `warehouse` folder, d.Warehouse, or the run store.
func (d *Deps) warehouse(env *activity.Env, comp *activity.Compiled, eng *dataset.Engine) (*dataset.Engine, error) {
	w := comp.Catalog.Warehouse
	switch {
	case w == "":
		if d.Warehouse != nil {
			return eng.On(d.Warehouse), nil
		}
		return eng, nil
	case blob.IsS3(w):
		// On AWS the stack's bucket holds the warehouse under warehouse/;
		// another bucket needs its own adapter, configured as d.Warehouse.
		if d.Warehouse != nil {
			return eng.On(d.Warehouse), nil
		}
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("catalog warehouse %s: no S3 warehouse store is configured here", w)}
	}
	dir := comp.Catalog.Resolve(w)
	v, err := env.Shared("warehouse:"+dir, func() (any, error) { return openWarehouseFolder(dir) })
	if err != nil {
		return nil, fmt.Errorf("catalog warehouse %s: %w", w, err)
	}
	return eng.On(v.(blob.Store)), nil
}

// Close drops the views the task created.
func (t *Task) Close() {
	for i := len(t.views) - 1; i >= 0; i-- {
		t.Engine.Exec(context.WithoutCancel(t.Ctx), "DROP VIEW IF EXISTS "+dataset.QuoteIdent(t.views[i]))
	}
}

// View returns a fresh view name (unquoted).
func (t *Task) View(name string) string {
	v := t.prefix + sanitize(name)
	t.views = append(t.views, v)
	return v
}

// Input is a staged inbound population.
type Input struct {
	activity.Input
	View     string
	Manifest *dataset.Manifest
}

// StageInputs stages the activated inbound populations, in `from` order;
// inactive inputs have an empty View. A view's row order is unspecified:
// queries order their results themselves.
func (t *Task) StageInputs() ([]Input, error) {
	out := make([]Input, len(t.Req.Inputs))
	for i, in := range t.Req.Inputs {
		out[i].Input = in
		if in.Ref == nil || *in.Ref == "" {
			continue
		}
		view := t.View(fmt.Sprintf("in%d", i))
		m, err := t.Engine.StageInput(t.Ctx, view, dataset.Ref(*in.Ref))
		if err != nil {
			return nil, missing(err, "input from "+in.From)
		}
		out[i].View, out[i].Manifest = view, m
	}
	return out, nil
}

// Table stages a catalog table (its current managed version, else its
// source) and returns the view name; repeated calls reuse the view.
func (t *Task) Table(name string) (string, error) {
	if v, ok := t.tables[name]; ok {
		return v, nil
	}
	tbl, ok := t.Comp.Catalog.Table(name)
	if !ok {
		return "", &activity.InvalidInput{Msg: fmt.Sprintf("unknown table %q", name)}
	}
	view := t.View("t_" + name)
	ref, err := t.CurrentVersion(name)
	if err != nil {
		return "", err
	}
	switch {
	case ref != "":
		if _, err := t.Warehouse().StageDataset(t.Ctx, view, dataset.Ref(ref)); err != nil {
			return "", missing(err, "table "+name)
		}
		if t.Warehouse() == t.Engine {
			t.bases[name] = dataset.Ref(ref)
		}
	case tbl.Source != "":
		// The run reads the source as it was when the run first read it.
		snap := TableSnapshot(t.Req.Run.ID, name)
		src := dataset.Source{Location: t.Comp.Catalog.Resolve(tbl.Source), Columns: tbl.Columns}
		if _, err := t.Engine.Snapshot(t.Ctx, snap, src, name, tbl.Key); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", &activity.InvalidInput{Msg: fmt.Sprintf("table %s: its source %s does not exist (the catalog's source: %s)", name, src.Location, tbl.Source)}
			}
			return "", fmt.Errorf("table %s: cannot read its source %s: %w", name, tbl.Source, err)
		}
		if _, err := t.Engine.StageDataset(t.Ctx, view, snap); err != nil {
			return "", missing(err, "table "+name)
		}
		t.bases[name] = snap
	default:
		// No data yet: an empty table with the declared columns.
		if err := t.emptyTable(view, tbl); err != nil {
			return "", err
		}
	}
	t.tables[name] = view
	return view, nil
}

func (t *Task) emptyTable(view string, tbl *campaign.Table) error {
	var cols []string
	for _, c := range tbl.Columns {
		typ, err := dataset.DuckDBType(c)
		if err != nil {
			return err
		}
		cols = append(cols, "CAST(NULL AS "+typ+") AS "+dataset.QuoteIdent(c.Name))
	}
	if len(cols) == 0 {
		return &activity.InvalidInput{Msg: fmt.Sprintf("table %s has no data and no declared columns", tbl.Name)}
	}
	return t.Engine.Exec(t.Ctx, "CREATE OR REPLACE VIEW "+dataset.QuoteIdent(view)+" AS SELECT "+strings.Join(cols, ", ")+" WHERE false")
}

// TableSnapshot is the ref of a run's snapshot of a table's source.
func TableSnapshot(run, table string) dataset.Ref {
	return dataset.Ref(blob.Join("runs", run, "-tables", table)) // "-": never an activity id
}

// Base returns the dataset that narrow outputs of the table's rows can be
// written over (see dataset.Base): the table as this task staged it, when
// it lives in the run store; nil otherwise or before Table(name). Its
// Columns are the table's, but the key. (Whether its key is unique, which a
// narrow write needs, is checked when writing.)
func (t *Task) Base(name string) (*dataset.Base, error) {
	ref := t.bases[name]
	tbl, ok := t.Comp.Catalog.Table(name)
	if ref == "" || !ok {
		return nil, nil
	}
	m, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), ref)
	if err != nil {
		return nil, err
	}
	b := &dataset.Base{Ref: ref}
	for _, c := range m.Columns {
		if !slices.Contains(tbl.Key, c.Name) {
			b.Columns = append(b.Columns, c.Name)
		}
	}
	return b, nil
}

// Tables returns the version log of the catalog's managed tables, kept in
// the warehouse with their data. Heads that an older release kept in the
// home's state store migrate there on first read.
func (t *Task) Tables() *tablelog.Log {
	var legacy tablelog.Legacy
	if t.Deps.State != nil {
		legacy = t.Deps.State
	}
	return tablelog.New(t.Warehouse().Store(), legacy)
}

// CurrentVersion returns the ref of a table's current managed version, or "".
func (t *Task) CurrentVersion(name string) (string, error) {
	v, err := t.Tables().CurrentTable(t.Ctx, name)
	if errors.Is(err, state.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read table version: %w", err)
	}
	return v.Ref, nil
}

// Warehouse returns the engine bound to the warehouse store (the catalog's
// warehouse, else the run store).
func (t *Task) Warehouse() *dataset.Engine { return t.warehouse }

// Out returns the deterministic ref of an output port: a retried task writes
// the same ref, and Write returns the dataset already there.
func (t *Task) Out(port string) dataset.Ref {
	return dataset.PortRef(t.Req.Run.ID, t.Req.Activity, port)
}

// Write stores a query's rows as the dataset of a port and sets it on res.
func (t *Task) Write(res *activity.Result, port, dimension string, key []string, query string, args ...any) (*dataset.Manifest, error) {
	return t.WriteOver(res, port, dimension, key, nil, query, args...)
}

// WriteOver is Write, narrow over base when base is set (see dataset.Output.Base).
func (t *Task) WriteOver(res *activity.Result, port, dimension string, key []string, base *dataset.Base, query string, args ...any) (*dataset.Manifest, error) {
	return t.write(res, dataset.Output{Ref: t.Out(port), Dimension: dimension, Key: key, Base: base}, port, query, args...)
}

// WriteThrough is WriteOver for a query over StagePassThrough views (see
// dataset.Output.PassThrough).
func (t *Task) WriteThrough(res *activity.Result, port, dimension string, key []string, base *dataset.Base, query string, args ...any) (*dataset.Manifest, error) {
	return t.write(res, dataset.Output{Ref: t.Out(port), Dimension: dimension, Key: key, Base: base, PassThrough: true}, port, query, args...)
}

// WriteOutput is WriteOver with every option of out (its Ref is the port's).
func (t *Task) WriteOutput(res *activity.Result, port string, out dataset.Output, query string, args ...any) (*dataset.Manifest, error) {
	out.Ref = t.Out(port)
	return t.write(res, out, port, query, args...)
}

func (t *Task) write(res *activity.Result, out dataset.Output, port, query string, args ...any) (*dataset.Manifest, error) {
	out.CreatedAt = t.Now()
	m, err := t.Engine.Write(t.Ctx, out, query, args...)
	if err != nil {
		return nil, err
	}
	res.Set(port, string(t.Out(port)), m.Rows)
	return m, nil
}

// Now is the run's reference instant (stable across retries).
func (t *Task) Now() time.Time { return t.Req.Run.NowTime() }

// Location is the campaign time zone.
func (t *Task) Location() *time.Location {
	loc, err := campaign.LoadLocation(t.Comp.Campaign.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Scope returns the SQL scope of a condition over the population at alias.
func (t *Task) Scope(alias string, s campaign.Schema) condition.SQLScope {
	c := t.Comp.Campaign
	return condition.SQLScope{Alias: alias, Schema: s, Catalog: t.Comp.Catalog,
		Relation: t.Table,
		Audience: func(name string) (condition.AudienceRelation, error) { return t.Audience(name) },
		Now:      t.Now(), Location: t.Location(), ParamTypes: condition.ParamTypes(c.Parameters), Params: t.Req.Run.Params, Variables: c.Variables}
}

// Audience stages the current version of a saved audience.
func (t *Task) Audience(name string) (condition.AudienceRelation, error) {
	if t.Deps.State == nil {
		return condition.AudienceRelation{}, &activity.InvalidInput{Msg: "no state store is configured"}
	}
	a, err := t.Deps.State.GetAudience(t.Ctx, name)
	if errors.Is(err, state.ErrNotFound) {
		return condition.AudienceRelation{}, &activity.InvalidInput{Msg: fmt.Sprintf("audience %q has not been saved yet", name)}
	}
	if err != nil {
		return condition.AudienceRelation{}, err
	}
	view := t.View("aud_" + name)
	m, err := t.Engine.StageDataset(t.Ctx, view, dataset.Ref(a.Ref))
	if err != nil {
		return condition.AudienceRelation{}, missing(err, "audience "+name)
	}
	return condition.AudienceRelation{Relation: view, Key: m.Key}, nil
}

// Where lowers an optional condition to SQL ("true" when absent).
func (t *Task) Where(c *condition.Condition, alias string, s campaign.Schema) (string, []any, error) {
	if c == nil {
		return "true", nil, nil
	}
	return condition.ToSQL(c, t.Scope(alias, s))
}

// Q quotes an identifier.
func Q(name string) string { return dataset.QuoteIdent(name) }

// missing explains a dataset that is not there: inputs and staged tables
// expire with their run. Other failures are the adapter's, named at the
// function boundary.
func missing(err error, what string) error {
	if errors.Is(err, dataset.ErrNotFound) {
		return &activity.InvalidInput{Msg: fmt.Sprintf("%s: dataset not found (expired after 5 days, or never written): %v", what, err)}
	}
	return err
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
