package targeting_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/data"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/activity/flow"
	"github.com/stepwise-run/stepwise/shared/activity/targeting"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/runner"
)

// registry holds the targeting types and the types test campaigns feed
// them from (load-file, flow), bound to dk; the channel types are left out.
func registry(dk datatask.Deps, st *boltstate.Store) *activity.Registry {
	r := activity.NewRegistry()
	targeting.Register(r, &targeting.Deps{Data: dk, Audiences: st, Incrementals: st})
	data.Register(r, &data.Deps{Data: dk})
	flow.Register(r, &flow.Deps{})
	return r
}

// checkers check conditions as the compiler does.
func checkers() compile.Checkers {
	return compile.Checkers{Condition: func(r campaign.Reporter, path string, cond *condition.Condition, s campaign.Schema, p *compile.Program) {
		condition.Check(r, path, cond, condition.CheckEnv{Catalog: p.Catalog, Schema: s, Params: condition.ParamTypes(p.Campaign.Parameters),
			Variables: p.Campaign.Variables, Audiences: p.Audiences, Mode: condition.PopulationMode})
	}}
}

// runNow is the reference instant of test runs.
var runNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// env is a local environment like the executor's: a folder blob store, the
// embedded state store, and handlers that load the runtime plans compiled
// campaigns publish there, as on Lambda. Its own engine (eng) writes
// fixtures and reads results with plain SQL.
type env struct {
	t     *testing.T
	dir   string
	blob  *folderblob.Store
	state *boltstate.Store
	reg   *activity.Registry
	plans *runner.Plans
	aenv  *activity.Env
	eng   *dataset.Engine
	cat   []byte
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	bs, err := folderblob.New(filepath.Join(dir, "blob"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstate.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	reg := registry(datatask.Deps{Blob: bs, State: st}, st)
	aenv := &activity.Env{WorkDir: filepath.Join(dir, "work")}
	eng, err := dataset.New(dataset.Options{Store: bs, WorkDir: filepath.Join(dir, "fixtures"), Threads: 2, MemoryLimit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, blob: bs, state: st, reg: reg, plans: &runner.Plans{Blob: bs, Registry: reg}, aenv: aenv, eng: eng}
	t.Cleanup(func() {
		aenv.Close()
		eng.Close()
		st.Close()
	})
	return e
}

// parquet writes a fixture file (relative to the env dir) from a query.
func (e *env) parquet(name, query string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := e.eng.Exec(context.Background(), "COPY ("+query+") TO "+dataset.QuoteLiteral(p)+" (FORMAT parquet)"); err != nil {
		e.t.Fatalf("fixture %s: %v", name, err)
	}
	return p
}

// catalog sets the catalog (written beside the campaigns).
func (e *env) catalog(yaml string) {
	e.cat = []byte(yaml)
}

// compile compiles a campaign against the catalog and publishes its plan.
func (e *env) compile(yaml string) *compile.Program {
	e.t.Helper()
	p, pd := compile.CompileSources(e.dir, []byte(yaml), e.cat, e.reg, checkers())
	if pd.HasErrors() {
		e.t.Fatalf("compile: %v", pd)
	}
	if err := (&compile.Publisher{Blob: e.blob}).Publish(context.Background(), p.Campaign.ID, p.Bundle); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// opts of one activity run.
type opts struct {
	run  string
	test bool
	now  time.Time
}

// run runs one activity's handler.
func (e *env) run(p *compile.Program, id string, o opts, inputs ...activity.Input) (*activity.Result, error) {
	if o.run == "" {
		o.run = "run1"
	}
	if o.now.IsZero() {
		o.now = runNow
	}
	req := &activity.Request{Campaign: p.Campaign.ID, Plan: p.Bundle.Digest, Activity: id, Inputs: inputs,
		Run: activity.RunInfo{ID: o.run, Test: o.test, Now: o.now.Format(time.RFC3339Nano), Weekday: "sun"}}
	return runTask(context.Background(), e.plans, e.reg, e.aenv, e.state, req)
}

// must runs an activity and fails the test on error.
func (e *env) must(p *compile.Program, id string, o opts, inputs ...activity.Input) *activity.Result {
	e.t.Helper()
	res, err := e.run(p, id, o, inputs...)
	if err != nil {
		e.t.Fatalf("%s: %v", id, err)
	}
	return res
}

// from is the inbound transition carrying a port of a result.
func from(id string, res *activity.Result, port string) activity.Input {
	return activity.Input{From: id, Port: port, Ref: res.Ports[port], Count: res.Counts[port]}
}

// out is from(id, res, "out").
func out(id string, res *activity.Result) activity.Input { return from(id, res, "out") }

// fixture writes a dataset for use as an input.
func (e *env) fixture(ref, dimension string, key []string, query string) activity.Input {
	e.t.Helper()
	m, err := e.eng.Write(context.Background(), dataset.Output{Ref: dataset.Ref(ref), Dimension: dimension, Key: key}, query)
	if err != nil {
		e.t.Fatalf("fixture %s: %v", ref, err)
	}
	r := ref
	return activity.Input{Ref: &r, Count: m.Rows, Port: "out"}
}

// view stages the dataset on a port as a view of the test engine.
func (e *env) view(res *activity.Result, port string) string {
	e.t.Helper()
	ref := res.Ports[port]
	if ref == nil {
		e.t.Fatalf("port %s is not activated", port)
	}
	name := fmt.Sprintf("v_%d", seq())
	if _, err := e.eng.StageDataset(context.Background(), name, dataset.Ref(*ref)); err != nil {
		e.t.Fatal(err)
	}
	return name
}

var counter int

func seq() int { counter++; return counter }

// strs runs a query and renders each row as "a|b|c" (null as ∅).
func (e *env) strs(query string, args ...any) []string {
	e.t.Helper()
	var out []string
	err := e.eng.Query(context.Background(), 0, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			parts := make([]string, len(r))
			for i, v := range r {
				parts[i] = render(v)
			}
			out = append(out, strings.Join(parts, "|"))
		}
		return nil
	}, query, args...)
	if err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return out
}

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "∅"
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 {
			return x.Format("2006-01-02")
		}
		return x.Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

// col returns one column of a port's rows, in dataset order.
func (e *env) col(res *activity.Result, port, column string) []string {
	e.t.Helper()
	return e.strs("SELECT " + dataset.QuoteIdent(column) + " FROM " + e.view(res, port))
}

// ids is col(res, port, "customerId").
func (e *env) ids(res *activity.Result, port string) []string {
	return e.col(res, port, "customerId")
}

// manifest reads the manifest on a port.
func (e *env) manifest(res *activity.Result, port string) *dataset.Manifest {
	e.t.Helper()
	m, err := dataset.ReadManifest(context.Background(), e.blob, dataset.Ref(*res.Ports[port]))
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// forget deletes the manifests of a result's ports, so that a rerun
// computes them again instead of finding them.
func (e *env) forget(res *activity.Result) {
	for _, ref := range res.Ports {
		if ref != nil {
			e.blob.Delete(context.Background(), dataset.Ref(*ref).ManifestKey())
		}
	}
}

// rerunSame checks that recomputing an activity with the same run id and
// inputs gives byte-identical datasets (part files are named by content)
// and the same counts and activated ports.
func (e *env) rerunSame(p *compile.Program, id string, o opts, first *activity.Result, inputs ...activity.Input) {
	e.t.Helper()
	want := map[string]string{}
	for port, ref := range first.Ports {
		if ref != nil {
			m := e.manifest(first, port)
			want[port] = fmt.Sprintf("%d %v", m.Rows, m.Files)
		}
	}
	e.forget(first)
	for port, ref := range first.Ports {
		if ref != nil {
			if _, err := dataset.ReadManifest(context.Background(), e.blob, dataset.Ref(*ref)); err == nil {
				e.t.Fatalf("%s: the dataset on %s is still there", id, port)
			}
		}
	}
	again := e.must(p, id, o, inputs...)
	for port, ref := range again.Ports {
		if (ref == nil) != (first.Ports[port] == nil) {
			e.t.Errorf("%s rerun: port %s activated %v, first %v", id, port, ref != nil, first.Ports[port] != nil)
			continue
		}
		if ref == nil {
			continue
		}
		m := e.manifest(again, port)
		if got := fmt.Sprintf("%d %v", m.Rows, m.Files); got != want[port] {
			e.t.Errorf("%s rerun: port %s: %s, first %s", id, port, got, want[port])
		}
		if again.Counts[port] != first.Counts[port] {
			e.t.Errorf("%s rerun: port %s count %d, first %d", id, port, again.Counts[port], first.Counts[port])
		}
	}
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func sorted(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}

func ints(xs ...int) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprint(x)
	}
	return out
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// active reports whether a port was activated.
func active(res *activity.Result, port string) bool { return res.Ports[port] != nil }

// runTask runs a request's task as the runner does (the plan loaded from
// the blob store and checked), without recording the task.
func runTask(ctx context.Context, plans *runner.Plans, reg *activity.Registry, env *activity.Env, log activity.TaskLogger, req *activity.Request) (*activity.Result, error) {
	comp, err := plans.Load(ctx, req.Campaign, req.Plan)
	if err != nil {
		return nil, err
	}
	a, cfg, ok := comp.Config(req.Activity)
	if !ok {
		return nil, fmt.Errorf("no activity %s", req.Activity)
	}
	spec, _ := reg.Lookup(a.Type)
	if !spec.Runs() {
		return nil, fmt.Errorf("activity %s has no handler", req.Activity)
	}
	return spec.Run(ctx, &activity.Call{Env: env, Req: req, Plan: comp, Activity: a, Log: log}, cfg)
}
