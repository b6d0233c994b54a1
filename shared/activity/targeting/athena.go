package targeting

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/athenastep"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Athena is what a targeting type on the Athena engine needs from its host
// (AWS: Glue and the run bucket; locally, a DuckDB stand-in).
type Athena = athenastep.Host

// GlueTable is a dataset of the run store registered for Athena.
type GlueTable = athenastep.GlueTable

// Phases of a targeting activity on Athena: plan writes the statement (and
// registers the tables it reads), Step Functions runs it, finish records
// its output.
const (
	PhasePlan   = "plan"
	PhaseFinish = "finish"
)

// unloadDir is where, under a port's ref, Athena's UNLOAD writes.
const unloadDir = "athena"

// onAthena reports whether the activity reading table runs on Athena.
func onAthena(cat *campaign.Catalog, table string) bool {
	if cat == nil {
		return false
	}
	t, ok := cat.Table(table)
	if !ok {
		return cat.EngineFor(0, false) == campaign.EngineAthena
	}
	n, known := cat.SourceBytes(t)
	return cat.EngineFor(n, known) == campaign.EngineAthena
}

// trinoRefuses returns why the Trino dialect cannot lower a condition yet
// ("" when it can), lowered once against a fixed instant: values do not
// matter here.
func trinoRefuses(cat *campaign.Catalog, cp *campaign.Campaign, where *condition.Condition, s campaign.Schema) string {
	if where == nil {
		return ""
	}
	sc := condition.SQLScope{Alias: "t", Schema: s, Catalog: cat, Relation: func(t string) (string, error) { return t, nil },
		Audience: func(string) (condition.AudienceRelation, error) {
			return condition.AudienceRelation{Relation: "aud", Key: []string{"key"}}, nil
		},
		Zones: func() (string, error) { return "zones", nil },
		Now:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ParamTypes: condition.ParamTypes(cp.Parameters),
		Variables: cp.Variables, Dialect: condition.Trino, Database: "athena"}
	if _, _, err := condition.ToSQL(where, sc); errors.Is(err, condition.ErrNotOnAthena) {
		return strings.TrimPrefix(err.Error(), "condition: ")
	}
	return ""
}

// athenaCheck reports, at path, a condition the Trino dialect cannot lower
// yet, under engine: athena (auto runs such an activity on DuckDB).
func athenaCheck(c *activity.Check, path string, where *condition.Condition, s campaign.Schema) {
	if c.Catalog == nil || c.Catalog.Engine != campaign.EngineAthena {
		return
	}
	if msg := trinoRefuses(c.Catalog, c.Campaign, where, s); msg != "" {
		c.Errorf(path, "activity %s: %s; set the catalog's engine to duckdb or auto", c.Activity.ID, msg)
	}
}

// lowerAthena emits plan → (queries unless already done) → finish: one
// query state per statement the plan writes (queryKey(i): one per output
// port), run one after the other. A failed query becomes AthenaQueryFailed
// carrying Athena's reason, then takes the activity's error path.
func lowerAthena(l activity.Lowerer, queries int) error {
	res := l.ResultPath()
	plan := l.Task(PhasePlan, nil)
	plan.Next = l.Name("done?")
	l.Add(l.Name(""), plan)
	l.Add(l.Name("done?"), &asl.State{Type: "Choice", Comment: "a retried activity whose output is recorded runs no query",
		Choices: []asl.ChoiceRule{{Variable: res + ".extra.done", BooleanEquals: asl.Bool(true), Next: l.Name("finish")}},
		Default: l.Name(queryKey(0))})
	failed := athenastep.AddFailed(l)
	for i := 0; i < queries; i++ {
		next := l.Name("finish")
		if i+1 < queries {
			next = l.Name(queryKey(i + 1))
		}
		l.Add(l.Name(queryKey(i)), athenastep.Query(l, queryKey(i), strings.Replace(queryKey(i), "query", "athena", 1),
			"the activity's SQL on Athena: an UNLOAD of its rows as Parquet under the run's prefix", failed, next))
	}
	finish := l.Task(PhaseFinish, nil)
	finish.Next = l.Next()
	l.Add(l.Name("finish"), finish)
	return nil
}

// lowerInputs lowers an activity that reads its inputs: on Athena (queries
// statements, one per output port) when athena, else one task.
func lowerInputs(l activity.Lowerer, athena bool, queries int) error {
	if athena {
		return lowerAthena(l, queries)
	}
	st := l.Task("", nil)
	st.Next = l.Next()
	l.Add(l.Name(""), st)
	return nil
}

// queryKey names the i-th statement of a plan (its Extra key and its query
// state): query, query2, query3...
func queryKey(i int) string {
	if i == 0 {
		return "query"
	}
	return "query" + strconv.Itoa(i+1)
}

// athenaTable registers a catalog table (the run's snapshot of its source,
// or its managed version in the run store) and returns its Glue name.
func (t *task) athenaTable(table string) (string, error) {
	a := t.deps.Athena
	if _, err := t.Table(table); err != nil {
		return "", err
	}
	b, err := t.Base(table)
	if err != nil {
		return "", err
	}
	if b == nil {
		return "", invalid("table %s: %v (it has no data in the run store)", table, condition.ErrNotOnAthena)
	}
	m, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), b.Ref)
	if err != nil {
		return "", err
	}
	if m.Base != nil || (m.Source != nil && m.Source.Format != "parquet") {
		return "", invalid("table %s: %v: Athena reads Parquet tables here", table, condition.ErrNotOnAthena)
	}
	tbl, _ := t.Comp.Catalog.Table(table)
	name := athenastep.GlueName(t.Req.Run.ID, table)
	err = a.RegisterTable(t.Ctx, GlueTable{Database: t.Comp.Catalog.Athena.Database, Name: name, Ref: b.Ref, Manifest: m, Columns: tbl.Columns})
	if err != nil {
		return "", fmt.Errorf("register table %s: %w", table, err)
	}
	return name, nil
}

// unload is the statement Athena runs: the rows of sel as Parquet under the
// port's ref. Values are inlined literals (condition.Inline).
func (t *task) unload(port, sel string, args []any) (string, error) {
	return t.unloadAt(t.Out(port), sel, args)
}

// unloadAt is unload for the dataset at ref (not a port's: a saved
// audience's).
func (t *task) unloadAt(ref dataset.Ref, sel string, args []any) (string, error) {
	q, err := condition.Inline(sel, args)
	if err != nil {
		return "", err
	}
	loc := t.deps.Athena.Location(ref.Key(unloadDir))
	return "UNLOAD (" + q + ") TO " + dataset.QuoteLiteral(loc) + " WITH (format = 'PARQUET', compression = 'SNAPPY')", nil
}

// athenaReady starts a plan phase: the result to return, done when every
// port's dataset is already recorded (a retried activity), and clears what a
// failed earlier attempt left (UNLOAD wants an empty location).
func (t *task) athenaReady(ports ...string) (res *activity.Result, done bool, err error) {
	if t.deps.Athena == nil || t.Comp.Catalog.Athena == nil {
		return nil, false, invalid("engine athena: no Athena is configured on this host")
	}
	res = t.result()
	res.Extra = map[string]any{"done": false}
	store := t.Engine.Store()
	done = true
	for _, port := range ports {
		if _, err := dataset.ReadManifest(t.Ctx, store, t.Out(port)); errors.Is(err, dataset.ErrNotFound) {
			done = false
		} else if err != nil {
			return nil, false, err
		}
	}
	if done {
		res.Extra["done"] = true
		return res, true, nil
	}
	for _, port := range ports {
		if err := t.clearUnload(t.Out(port)); err != nil {
			return nil, false, err
		}
	}
	return res, false, nil
}

// clearUnload deletes what an earlier UNLOAD to the dataset at ref left.
func (t *task) clearUnload(ref dataset.Ref) error {
	store := t.Engine.Store()
	keys, err := blob.Keys(t.Ctx, store, ref.Key(unloadDir)+"/")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := store.Delete(t.Ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// recordUnload makes Athena's output of a port its dataset.
func (t *task) recordUnload(res *activity.Result, port string, p pop) (*dataset.Manifest, error) {
	m, err := t.recordUnloadAt(t.Out(port), p)
	if err != nil {
		return nil, err
	}
	res.Set(port, string(t.Out(port)), m.Rows)
	return m, nil
}

// recordUnloadAt records Athena's output under ref as its dataset, of p's
// dimension, key and columns (the manifest already there, if any).
func (t *task) recordUnloadAt(ref dataset.Ref, p pop) (*dataset.Manifest, error) {
	store := t.Engine.Store()
	prefix := ref.Key(unloadDir) + "/"
	keys, err := blob.Keys(t.Ctx, store, prefix)
	if err != nil {
		return nil, err
	}
	files := make([]string, len(keys))
	for i, k := range keys {
		files[i] = unloadDir + "/" + strings.TrimPrefix(k, prefix)
	}
	return dataset.RecordFiles(t.Ctx, store, dataset.Output{Ref: ref, Dimension: p.Dimension, Key: p.Key, CreatedAt: t.Now()}, p.Columns, files)
}

// onAthenaInput reports whether an activity that reads its inputs (not a
// table) runs on Athena: under engine: athena only. Under auto its inputs'
// size is not known when compiling, and an input a DuckDB activity wrote
// may be narrow (over its table), which Athena cannot read as it is.
func onAthenaInput(cat *campaign.Catalog) bool {
	return cat != nil && cat.Engine == campaign.EngineAthena
}

// recordUnloads records Athena's output of each port of an activity reading
// its first input; each is handed to seen (nil: none), which may deactivate
// the port.
func (t *task) recordUnloads(ports []string, seen func(res *activity.Result, port string, m *dataset.Manifest)) (*activity.Result, error) {
	in, err := t.inputShape(0)
	if err != nil {
		return nil, err
	}
	res := t.result()
	for _, port := range ports {
		m, err := t.recordUnload(res, port, in)
		if err != nil {
			return nil, err
		}
		if seen != nil {
			seen(res, port, m)
		}
	}
	return res, nil
}

// inputShape is the i-th input's population as its manifest (active) or its
// schema (inactive) gives it; nothing is staged.
func (t *task) inputShape(i int) (pop, error) {
	in := t.Req.Inputs[i]
	s := t.Comp.Schemas[in.From][in.Port]
	p := pop{From: in.From, Dimension: s.Dimension, Columns: s.Columns}
	if in.Ref != nil && *in.Ref != "" {
		m, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), dataset.Ref(*in.Ref))
		if err != nil {
			return pop{}, fmt.Errorf("input from %s: %w", in.From, err)
		}
		if m.Base != nil {
			return pop{}, invalid("input from %s: %v: its dataset is written over its table (by an activity on DuckDB)", in.From, condition.ErrNotOnAthena)
		}
		p.Dimension, p.Columns, p.Key, p.Count, p.Active = m.Dimension, m.Columns, m.Key, m.Rows, true
		p.ref = dataset.Ref(*in.Ref)
	}
	if len(p.Key) == 0 {
		p.Key = t.tableKey(p.Dimension, p.Columns)
	}
	return p, nil
}

// athenaInput registers the i-th input's dataset as a Glue table and returns
// its population and the relation Trino reads it as; an inactive input is
// an empty relation of its schema's columns.
func (t *task) athenaInput(i int) (pop, string, error) {
	p, err := t.inputShape(i)
	if err != nil {
		return pop{}, "", err
	}
	db := t.Comp.Catalog.Athena.Database
	if !p.Active {
		rel, err := emptyRelation(condition.Trino, p.Columns)
		return p, rel, err
	}
	m, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), p.ref)
	if err != nil {
		return pop{}, "", err
	}
	in := t.Req.Inputs[i]
	name := athenastep.GlueName(t.Req.Run.ID, "in_"+in.From+"_"+in.Port)
	if err := t.deps.Athena.RegisterTable(t.Ctx, GlueTable{Database: db, Name: name, Ref: p.ref, Manifest: m, Columns: m.Columns}); err != nil {
		return pop{}, "", fmt.Errorf("register the input from %s: %w", in.From, err)
	}
	return p, q(db) + "." + q(name), nil
}

// emptyRelation is a relation with cols and no row.
func emptyRelation(d condition.Dialect, cols []campaign.Column) (string, error) {
	items := make([]string, len(cols))
	for i, c := range cols {
		typ, err := duckType(c)
		if err != nil {
			return "", err
		}
		items[i] = "CAST(NULL AS " + d.TypeName(typ) + ") AS " + q(c.Name)
	}
	return "(SELECT " + strings.Join(items, ", ") + " WHERE false)", nil
}

// whereIn lowers a condition under alias in a dialect: on Trino over the
// run's Glue tables (athenaTable registers those it reads).
func (t *task) whereIn(d condition.Dialect, c *condition.Condition, alias string, s campaign.Schema) (string, []any, error) {
	if d != condition.Trino || c == nil {
		return t.Where(c, alias, s)
	}
	return condition.ToSQL(c, t.scopeIn(d, alias, s))
}

// scopeIn is the task's condition scope in a dialect: on Trino, relations
// are the run's Glue tables (athenaTable registers those it reads), saved
// audiences too.
func (t *task) scopeIn(d condition.Dialect, alias string, s campaign.Schema) condition.SQLScope {
	sc := t.Scope(alias, s)
	if d == condition.Trino {
		sc.Dialect, sc.Database = condition.Trino, t.Comp.Catalog.Athena.Database
		sc.Relation, sc.Audience, sc.Zones = t.athenaTable, t.athenaAudience, t.athenaZones
	}
	return sc
}

// athenaAudience registers the current version of a saved audience (the
// dataset save-audience wrote, on either engine) and returns its Glue name.
func (t *task) athenaAudience(name string) (condition.AudienceRelation, error) {
	a, m, err := t.currentAudience(name)
	if err != nil {
		return condition.AudienceRelation{}, err
	}
	rel, err := t.registerAudience(a, m)
	return condition.AudienceRelation{Relation: rel, Key: m.Key}, err
}

// currentAudience is the current version of a saved audience and its
// manifest.
func (t *task) currentAudience(name string) (state.Audience, *dataset.Manifest, error) {
	st := t.deps.Audiences
	if st == nil {
		return state.Audience{}, nil, &activity.InvalidInput{Msg: "no state store is configured"}
	}
	a, err := st.GetAudience(t.Ctx, name)
	if errors.Is(err, state.ErrNotFound) {
		return state.Audience{}, nil, invalid("audience %q has not been saved yet", name)
	}
	if err != nil {
		return state.Audience{}, nil, fmt.Errorf("read audience: %w", err)
	}
	m, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), dataset.Ref(a.Ref))
	if err != nil {
		return state.Audience{}, nil, fmt.Errorf("audience %q version %d: %w", a.Name, a.Version, err)
	}
	return a, m, nil
}

// registerAudience makes a saved audience's version readable by Athena:
// one Glue table per version (its name hashes the ref), as a run may read
// a version another activity of it saved.
func (t *task) registerAudience(a state.Audience, m *dataset.Manifest) (string, error) {
	if m.Base != nil {
		return "", invalid("audience %q version %d: %v: its dataset is written over its table", a.Name, a.Version, condition.ErrNotOnAthena)
	}
	h := sha256.Sum256([]byte(a.Ref))
	name := athenastep.GlueName(t.Req.Run.ID, "aud_"+a.Name+"_"+hex.EncodeToString(h[:4]))
	db := t.Comp.Catalog.Athena.Database
	if err := t.deps.Athena.RegisterTable(t.Ctx, GlueTable{Database: db, Name: name, Ref: dataset.Ref(a.Ref), Manifest: m, Columns: m.Columns}); err != nil {
		return "", fmt.Errorf("register audience %s: %w", a.Name, err)
	}
	return name, nil
}

// athenaZones writes, once per run, the time zone names DuckDB knows as a
// dataset (runs/<run>/_athena/zones) and registers it as the run's Glue
// table sw_<hash of run>_zones: the recipient zones a date condition takes
// (others fall back to the campaign's, as on DuckDB; Trino fails a query on
// a zone it does not know).
func (t *task) athenaZones() (string, error) {
	ref := dataset.Ref(blob.Join("runs", t.Req.Run.ID, "_athena", "zones"))
	store := t.Engine.Store()
	m, err := dataset.ReadManifest(t.Ctx, store, ref)
	if errors.Is(err, dataset.ErrNotFound) {
		m, err = t.Engine.Write(t.Ctx, dataset.Output{Ref: ref, Key: []string{"name"}, CreatedAt: t.Now()},
			"SELECT CAST(name AS VARCHAR) AS name FROM pg_timezone_names() ORDER BY name")
	}
	if err != nil {
		return "", fmt.Errorf("time zone names: %w", err)
	}
	rel := athenastep.GlueName(t.Req.Run.ID, "zones")
	if err := t.deps.Athena.RegisterTable(t.Ctx, GlueTable{Database: t.Comp.Catalog.Athena.Database, Name: rel, Ref: ref, Manifest: m, Columns: m.Columns}); err != nil {
		return "", fmt.Errorf("register time zone names: %w", err)
	}
	return rel, nil
}
