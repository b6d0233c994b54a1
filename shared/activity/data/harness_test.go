package data_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/data"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/plan"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// registry holds the data-management types only, bound to d: handler tests
// do not depend on the other families.
func registry(d *data.Deps) *activity.Registry {
	r := activity.NewRegistry()
	data.Register(r, d)
	return r
}

// runNow is the reference instant of every test run.
var runNow = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// home is a local Stepwise home for handler tests: a folder blob store and
// an embedded state store, shared by the envs made from it.
type home struct {
	t     testing.TB
	dir   string
	blob  blob.Store
	state *boltstate.Store
	env   *tenv
}

// tenv is one host of the handlers (like one Lambda): its scratch Env with
// its own DuckDB engine, the family's dependencies, and plans loaded from
// the blob store.
type tenv struct {
	*activity.Env
	deps  *data.Deps
	reg   *activity.Registry
	plans *runner.Plans
}

func newHome(t testing.TB) *home {
	t.Helper()
	dir := t.TempDir()
	bs, err := folderblob.New(filepath.Join(dir, "blob"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstate.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &home{t: t, dir: dir, blob: bs, state: st}
	h.env = h.newEnv(nil)
	return h
}

// newEnv returns a host over the home's stores; blobs replaces the blob
// store when not nil.
func (h *home) newEnv(blobs blob.Store) *tenv {
	if blobs == nil {
		blobs = h.blob
	}
	d := &data.Deps{Data: datatask.Deps{Blob: blobs, State: h.state}}
	reg := registry(d)
	env := &tenv{Env: &activity.Env{WorkDir: h.t.TempDir(), Clock: func() time.Time { return runNow }},
		deps: d, reg: reg, plans: &runner.Plans{Blob: blobs, Registry: reg}}
	h.t.Cleanup(func() { env.Close() })
	return env
}

// engine returns the host's engine.
func (e *tenv) engine() (*dataset.Engine, error) { return e.deps.Data.EngineOf(e.Env) }

// compile writes files into a folder (campaign.yaml, catalog.yaml and any
// data) and compiles the campaign.
func (h *home) compile(files map[string]string) *compile.Program {
	h.t.Helper()
	dir := filepath.Join(h.dir, fmt.Sprintf("c%d", time.Now().UnixNano()))
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	p, diags := compile.CompileFiles(context.Background(), filepath.Join(dir, "campaign.yaml"), "", h.env.reg, compile.Checkers{}, nil)
	if diags.HasErrors() {
		h.t.Fatalf("compile: %v", diags)
	}
	if err := (&compile.Publisher{Blob: h.blob}).Publish(context.Background(), p.Campaign.ID, p.Bundle); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// request builds the task request of an activity.
func request(p *compile.Program, id, runID string, test bool, params map[string]any, inputs ...activity.Input) *activity.Request {
	return &activity.Request{Campaign: p.Campaign.ID, Plan: p.Bundle.Digest, Activity: id, Inputs: inputs,
		Run: activity.RunInfo{ID: runID, Test: test, Params: params, Now: runNow.Format(time.RFC3339Nano), Timezone: p.Campaign.Timezone}}
}

// run runs the task of a request on a host, as the runner does: the plan
// loaded from the blob store and checked.
func (h *home) run(env *tenv, p *compile.Program, req *activity.Request) (*activity.Result, error) {
	ctx := context.Background()
	// A fresh loader: a campaign compiled again in another folder has the
	// same digest, and the plan last published says where it is.
	plans := &runner.Plans{Blob: env.plans.Blob, Registry: env.reg}
	comp, err := plans.Load(ctx, req.Campaign, req.Plan)
	if err != nil {
		return nil, err
	}
	a, cfg, _ := comp.Config(req.Activity)
	spec, _ := env.reg.Lookup(a.Type)
	return spec.Run(ctx, &activity.Call{Env: env.Env, Req: req, Plan: comp, Activity: a, Log: h.state}, cfg)
}

// withFiles publishes p's plan again with files (as the compiler bundles
// template files) and returns its digest.
func (h *home) withFiles(p *compile.Program, files map[string][]byte) string {
	h.t.Helper()
	ctx := context.Background()
	rc, err := h.blob.Get(ctx, plan.Key(p.Campaign.ID, p.Bundle.Digest))
	if err != nil {
		h.t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		h.t.Fatal(err)
	}
	l, err := plan.Unmarshal(data, p.Bundle.Digest)
	if err != nil {
		h.t.Fatal(err)
	}
	l.Plan.Files = files
	enc, digest, err := l.Plan.Encode()
	if err != nil {
		h.t.Fatal(err)
	}
	stored, err := plan.Marshal(enc, digest, l.Where, l.States)
	if err == nil {
		err = h.blob.Put(ctx, plan.Key(p.Campaign.ID, digest), bytes.NewReader(stored))
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return digest
}

// engine is the home env's engine.
func (h *home) engine() *dataset.Engine {
	e, err := h.env.engine()
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

// input writes a dataset from a query and returns it as an inbound input.
func (h *home) input(ref, dimension string, key []string, query string) activity.Input {
	h.t.Helper()
	m, err := h.engine().Write(context.Background(), dataset.Output{Ref: dataset.Ref(ref), Dimension: dimension, Key: key}, query)
	if err != nil {
		h.t.Fatal(err)
	}
	return activity.Input{From: "src", Port: "out", Ref: &ref, Count: m.Rows}
}

// rows returns the rows of a dataset as strings, one per row: values joined
// by "|", null as "∅", times in RFC 3339.
func (h *home) rows(ref string) []string {
	h.t.Helper()
	return h.query(ref, "SELECT * FROM v")
}

// query runs a query over the dataset at ref staged as view v.
func (h *home) query(ref, query string) []string {
	h.t.Helper()
	e := h.engine()
	view := fmt.Sprintf("v_%d", time.Now().UnixNano())
	if _, err := e.StageDataset(context.Background(), view, dataset.Ref(ref)); err != nil {
		h.t.Fatal(err)
	}
	defer e.Exec(context.Background(), "DROP VIEW "+view)
	return h.sql(strings.ReplaceAll(query, " v", " "+view))
}

// sql runs any query on the home engine and formats its rows.
func (h *home) sql(query string, args ...any) []string {
	h.t.Helper()
	out := []string{}
	err := h.engine().Query(context.Background(), 1000, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			out = append(out, formatRow(r))
		}
		return nil
	}, query, args...)
	if err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	return out
}

func formatRow(r []any) string {
	cells := make([]string, len(r))
	for i, v := range r {
		switch x := v.(type) {
		case nil:
			cells[i] = "∅"
		case time.Time:
			cells[i] = x.UTC().Format(time.RFC3339)
		default:
			cells[i] = fmt.Sprint(x)
		}
	}
	return strings.Join(cells, "|")
}

// tables is the version log of the managed tables (in the warehouse,
// which is the home's blob store when the catalog sets none).
func (h *home) tables() *tablelog.Log { return tablelog.New(h.blob, nil) }

// tableRows returns the rows of a table's current version, sorted.
func (h *home) tableRows(table, query string) []string {
	h.t.Helper()
	v, err := h.tables().CurrentTable(context.Background(), table)
	if err != nil {
		h.t.Fatalf("table %s: %v", table, err)
	}
	rows := h.query(v.Ref, query)
	sort.Strings(rows)
	return rows
}

func (h *home) version(table string) state.TableVersion {
	v, err := h.tables().CurrentTable(context.Background(), table)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		h.t.Fatal(err)
	}
	return v
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
